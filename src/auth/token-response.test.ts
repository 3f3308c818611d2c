import { createHmac } from 'node:crypto'
import { inspect } from 'node:util'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { isCalloutError, type ErrorCode } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import {
  parseTokenResponse,
  readTokenResponse,
  type RawTokenResponse,
  type TokenResponseContext,
} from './token-response.ts'

const clock = { now: () => 1_700_000_000_000 }
const sf: TokenResponseContext = {
  providerType: 'salesforce',
  providerName: 'SF',
  externalCredential: 'SfApi',
  grant: 'refresh_token',
  clock,
  authorizationServer: {
    issuer: 'https://login.salesforce.com',
    token_endpoint: 'https://login.salesforce.com/services/oauth2/token',
  },
  client: { client_id: 'ck' },
}
const generic: TokenResponseContext = { ...sf, providerType: 'oauth2', providerName: 'Gen' }
const JSON_CT = 'application/json;charset=UTF-8'
const ok = (body: unknown): RawTokenResponse => ({
  status: 200,
  contentType: JSON_CT,
  body: JSON.stringify(body),
})
const ID = 'https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS'
const SF_BODY = {
  access_token: '00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog',
  refresh_token: '5Aep861TSESvWeug_xvFHRBTTbf',
  scope: 'refresh_token id api full',
  instance_url: 'https://acme.my.salesforce.com',
  id: ID,
  token_type: 'Bearer',
  issued_at: '1278448101416',
}
const sign = (secret: string, id: string, issuedAt: string) =>
  createHmac('sha256', secret)
    .update(id + issuedAt)
    .digest('base64')

async function codeOf(
  fn: () => Promise<unknown>,
): Promise<ErrorCode | 'no error' | 'not a CalloutError'> {
  try {
    await fn()
    return 'no error'
  } catch (e) {
    return isCalloutError(e) ? e.code : 'not a CalloutError'
  }
}

describe('parseTokenResponse: Salesforce', () => {
  it('reads the Salesforce shape: issued_at ms string, no expires_in, instance_url, id', async () => {
    const t = await parseTokenResponse(ok(SF_BODY), sf)
    expect(t.accessToken.reveal()).toBe(SF_BODY.access_token)
    expect(t.refreshToken?.reveal()).toBe(SF_BODY.refresh_token)
    expect(t.issuedAt).toBe(1278448101416)
    expect(t.expiresAt).toBeUndefined()
    expect(t.instanceUrl).toBe('https://acme.my.salesforce.com')
    expect(t.tokenType).toBe('Bearer')
    expect(t.scope).toBe('refresh_token id api full')
    expect(t.identity).toEqual({
      idUrl: ID,
      orgId: '00Dxx0000001gPLEAY',
      userId: '005xx000001SwiUAAS',
    })
  })

  it('keeps refresh_token only when returned', async () => {
    const { refresh_token: _omit, ...rest } = SF_BODY
    expect((await parseTokenResponse(ok(rest), sf)).refreshToken).toBeUndefined()
  })

  it('uses the clock when issued_at is absent and accepts a missing token_type', async () => {
    const t = await parseTokenResponse(ok({ access_token: 'abc' }), sf)
    expect(t.issuedAt).toBe(clock.now())
    expect(t.tokenType).toBe('Bearer')
  })

  it('verifies the signature when the consumer secret is known', async () => {
    const secret = new Secret('consumer-secret')
    const body = { ...SF_BODY, signature: sign('consumer-secret', ID, SF_BODY.issued_at) }
    expect(
      (await parseTokenResponse(ok(body), { ...sf, consumerSecret: secret })).accessToken.reveal(),
    ).toBe(SF_BODY.access_token)
    const tampered = { ...body, id: ID.replace('005xx', '005yy') }
    expect(
      await codeOf(() => parseTokenResponse(ok(tampered), { ...sf, consumerSecret: secret })),
    ).toBe('TOKEN_RESPONSE_INVALID')
    const wrongSecret = { ...SF_BODY, signature: sign('other', ID, SF_BODY.issued_at) }
    expect(
      await codeOf(() => parseTokenResponse(ok(wrongSecret), { ...sf, consumerSecret: secret })),
    ).toBe('TOKEN_RESPONSE_INVALID')
    // unknown secret: not verifiable, accepted
    expect(await codeOf(() => parseTokenResponse(ok(wrongSecret), sf))).toBe('no error')
  })

  it('rejects a signature without the id it signs', async () => {
    const { id: _id, ...rest } = SF_BODY
    const body = { ...rest, signature: 'AAAA' }
    expect(
      await codeOf(() => parseTokenResponse(ok(body), { ...sf, consumerSecret: new Secret('s') })),
    ).toBe('TOKEN_RESPONSE_INVALID')
  })

  it('keeps only idUrl when the id path is not /id/<org>/<user>', async () => {
    const t = await parseTokenResponse(
      ok({ ...SF_BODY, id: 'https://login.salesforce.com/id/nope' }),
      sf,
    )
    expect(t.identity).toEqual({ idUrl: 'https://login.salesforce.com/id/nope' })
  })

  it.each([
    ['userinfo', 'https://user:pw@acme.my.salesforce.com'],
    ['javascript scheme', 'javascript:alert(1)'],
    ['ftp scheme', 'ftp://acme.my.salesforce.com'],
    ['plain http non-loopback', 'http://acme.my.salesforce.com'],
    ['query', 'https://acme.my.salesforce.com/?x=1'],
    ['relative', '/services/data'],
    ['not a string', 42],
    ['control character', 'https://acme.my.salesforce.com\n.evil'],
  ])('rejects instance_url with %s', async (_name, instanceUrl) => {
    expect(
      await codeOf(() => parseTokenResponse(ok({ ...SF_BODY, instance_url: instanceUrl }), sf)),
    ).toBe('TOKEN_RESPONSE_INVALID')
  })

  it('accepts a loopback http instance_url (emulator) and strips a trailing slash', async () => {
    expect(
      (await parseTokenResponse(ok({ ...SF_BODY, instance_url: 'http://127.0.0.1:8080/' }), sf))
        .instanceUrl,
    ).toBe('http://127.0.0.1:8080')
  })

  it.each([['12.5'], ['-1'], ['abc'], [''], [{}], ['99999999999999999999']])(
    'rejects issued_at %j',
    async (issuedAt) => {
      expect(
        await codeOf(() => parseTokenResponse(ok({ ...SF_BODY, issued_at: issuedAt }), sf)),
      ).toBe('TOKEN_RESPONSE_INVALID')
    },
  )
})

describe('parseTokenResponse: generic', () => {
  it('computes expiresAt from expires_in and normalises bearer', async () => {
    const t = await parseTokenResponse(
      ok({ access_token: 'a', token_type: 'bearer', expires_in: 3600 }),
      generic,
    )
    expect(t.expiresAt).toBe(clock.now() + 3_600_000)
    expect(t.tokenType).toBe('Bearer')
    expect(t.identity).toBeUndefined()
  })

  it.each(['mac', 'DPoP', 'N_A'])(
    'refuses token_type %s with TOKEN_RESPONSE_INVALID that names the type, never a token',
    async (tokenType) => {
      const body = {
        access_token: 'at-canary-1',
        refresh_token: 'rt-canary-2',
        token_type: tokenType,
      }
      for (const ctx of [generic, sf]) {
        let error: unknown
        try {
          await parseTokenResponse(ok(body), ctx)
        } catch (e) {
          error = e
        }
        expect(error).toMatchObject({
          code: 'TOKEN_RESPONSE_INVALID',
          details: { field: 'token_type', tokenType },
        })
        const printed = inspect(error, { depth: Infinity, showHidden: true })
        expect(printed).toContain(tokenType)
        expect(printed).not.toMatch(/canary/)
      }
    },
  )

  it('ignores Salesforce-only fields for other providers', async () => {
    const t = await parseTokenResponse(
      ok({ access_token: 'a', token_type: 'Bearer', id: 'not a url', signature: 1 }),
      generic,
    )
    expect(t.identity).toBeUndefined()
  })

  it.each([
    ['missing access_token', { token_type: 'Bearer' }, 'access_token'],
    ['numeric access_token', { access_token: 12345, token_type: 'Bearer' }, 'access_token'],
    ['null access_token', { access_token: null, token_type: 'Bearer' }, 'access_token'],
    ['empty access_token', { access_token: '', token_type: 'Bearer' }, 'access_token'],
    [
      'access_token with CRLF',
      { access_token: 'a\r\nX-Evil: 1', token_type: 'Bearer' },
      'access_token',
    ],
    ['access_token with space', { access_token: 'a b', token_type: 'Bearer' }, 'access_token'],
    [
      'negative expires_in',
      { access_token: 'a', token_type: 'Bearer', expires_in: -5 },
      'expires_in',
    ],
    [
      'string expires_in',
      { access_token: 'a', token_type: 'Bearer', expires_in: '3600' },
      'expires_in',
    ],
    [
      '"NaN" expires_in',
      { access_token: 'a', token_type: 'Bearer', expires_in: 'NaN' },
      'expires_in',
    ],
    [
      'huge expires_in',
      { access_token: 'a', token_type: 'Bearer', expires_in: 1e12 },
      'expires_in',
    ],
    [
      'boolean expires_in',
      { access_token: 'a', token_type: 'Bearer', expires_in: true },
      'expires_in',
    ],
    ['missing token_type', { access_token: 'a' }, 'token_type'],
    ['null token_type', { access_token: 'a', token_type: null }, 'token_type'],
    ['token_type with CR', { access_token: 'a', token_type: 'Bearer\r' }, 'token_type'],
    [
      'numeric refresh_token',
      { access_token: 'a', token_type: 'Bearer', refresh_token: 5 },
      'refresh_token',
    ],
    [
      'refresh_token with space',
      { access_token: 'a', token_type: 'Bearer', refresh_token: 'r t' },
      'refresh_token',
    ],
    ['object scope', { access_token: 'a', token_type: 'Bearer', scope: {} }, 'scope'],
    ['numeric id_token', { access_token: 'a', token_type: 'Bearer', id_token: 5 }, 'id_token'],
    ['numeric issued_at', { access_token: 'a', token_type: 'Bearer', issued_at: 1.5 }, 'issued_at'],
  ])('200 with %s → TOKEN_RESPONSE_INVALID naming the field', async (_name, body, field) => {
    const error = await parseTokenResponse(ok(body), generic).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'TOKEN_RESPONSE_INVALID', details: { field } })
    expect((error as Error).message).toMatch(
      /^The token endpoint of AuthProvider "Gen" answered 200 but (with|without) .*\. Check that the token URL points at an OAuth 2\.0 server\.$/,
    )
    expect((error as Error).message).toContain(field)
  })

  it('NaN expires_in cannot even be encoded as JSON; null expires_in is treated as absent', async () => {
    const t = await parseTokenResponse(
      ok({ access_token: 'a', token_type: 'Bearer', expires_in: null }),
      generic,
    )
    expect(t.expiresAt).toBeUndefined()
  })
})

describe('parseTokenResponse: failures', () => {
  const raw = (status: number, contentType: string, body: string): RawTokenResponse => ({
    status,
    contentType,
    body,
  })

  it.each([
    ['500 JSON', raw(500, JSON_CT, '{"error":"server_error"}')],
    ['503 HTML', raw(503, 'text/html', '<html><title>Maintenance</title></html>')],
    [
      '200 HTML login page',
      raw(200, 'text/html; charset=utf-8', '<html><title>Login | Salesforce</title></html>'),
    ],
    ['200 invalid JSON', raw(200, JSON_CT, '{"access_token":')],
    ['200 JSON array', raw(200, JSON_CT, '[]')],
    ['200 JSON string', raw(200, JSON_CT, '"x"')],
    ['302 redirect', raw(302, '', '')],
    ['400 without error', raw(400, JSON_CT, '{"message":"nope"}')],
    ['201', raw(201, JSON_CT, '{"access_token":"a","token_type":"Bearer"}')],
  ])('%s → TOKEN_ENDPOINT_ERROR', async (_name, r) => {
    expect(await codeOf(() => parseTokenResponse(r, generic))).toBe('TOKEN_ENDPOINT_ERROR')
  })

  it('reports status, content type and a sanitized title, never the body', async () => {
    const body = '<html><title>Down\n for <b>maintenance</title><p>secret-canary-123</p></html>'
    try {
      await parseTokenResponse(raw(200, 'text/html', body), generic)
      expect.unreachable()
    } catch (e) {
      expect(isCalloutError(e, 'TOKEN_ENDPOINT_ERROR')).toBe(true)
      const err = e as { details: Record<string, unknown>; message: string }
      expect(err.details.status).toBe(200)
      expect(err.details.contentType).toBe('text/html')
      expect(JSON.stringify(err)).not.toContain('secret-canary-123')
      expect(err.message).not.toContain('secret-canary-123')
    }
  })

  it('invalid_grant on refresh → NEEDS_REAUTH with how to re-authenticate and Salesforce advice', async () => {
    try {
      await parseTokenResponse(
        raw(
          400,
          JSON_CT,
          '{"error":"invalid_grant","error_description":"expired access/refresh token"}',
        ),
        sf,
      )
      expect.unreachable()
    } catch (e) {
      expect(isCalloutError(e, 'NEEDS_REAUTH')).toBe(true)
      const err = e as { details: Record<string, unknown>; message: string }
      // The token manager adds how to re-authenticate, naming the Named Credential: this layer
      // only knows the ExternalCredential, which `callout auth` does not take.
      expect(err.message).toContain('the principal must re-authenticate')
      expect(err.message).not.toContain('callout auth SfApi')
      expect(err.message).not.toContain('console')
      expect(err.message).toContain('rotated out')
      expect(err.details).toMatchObject({
        error: 'invalid_grant',
        error_description: 'expired access/refresh token',
        status: 400,
      })
    }
  })

  it('invalid_grant on client credentials / jwt bearer is a configuration OAUTH_ERROR', async () => {
    const r = raw(
      400,
      JSON_CT,
      '{"error":"invalid_grant","error_description":"user hasn\'t approved this consumer"}',
    )
    expect(await codeOf(() => parseTokenResponse(r, { ...sf, grant: 'jwt_bearer' }))).toBe(
      'OAUTH_ERROR',
    )
    expect(await codeOf(() => parseTokenResponse(r, { ...sf, grant: 'client_credentials' }))).toBe(
      'OAUTH_ERROR',
    )
    expect(await codeOf(() => parseTokenResponse(r, { ...sf, grant: 'authorization_code' }))).toBe(
      'NEEDS_REAUTH',
    )
  })

  it.each(['invalid_client', 'invalid_client_id'])(
    '%s → OAUTH_CLIENT_INVALID (Salesforce: propagation advice)',
    async (error) => {
      try {
        await parseTokenResponse(
          raw(
            401,
            JSON_CT,
            JSON.stringify({ error, error_description: 'client identifier invalid' }),
          ),
          sf,
        )
        expect.unreachable()
      } catch (e) {
        expect(isCalloutError(e, 'OAUTH_CLIENT_INVALID')).toBe(true)
        expect((e as Error).message).toContain('2–10 minutes')
      }
    },
  )

  it('other OAuth errors → OAUTH_ERROR with error and description in details', async () => {
    try {
      await parseTokenResponse(
        raw(
          400,
          JSON_CT,
          '{"error":"invalid_request","error_description":"scope parameter not supported"}',
        ),
        sf,
      )
      expect.unreachable()
    } catch (e) {
      expect(isCalloutError(e, 'OAUTH_ERROR')).toBe(true)
      expect((e as { details: Record<string, unknown> }).details).toMatchObject({
        error: 'invalid_request',
        error_description: 'scope parameter not supported',
      })
    }
  })

  it('a 200 carrying an error is treated as the error', async () => {
    expect(await codeOf(() => parseTokenResponse(ok({ error: 'invalid_grant' }), sf))).toBe(
      'NEEDS_REAUTH',
    )
  })

  it('sanitizes control characters and length in error fields', async () => {
    try {
      await parseTokenResponse(
        raw(400, JSON_CT, JSON.stringify({ error: 'x\r\ny', error_description: 'd'.repeat(5000) })),
        generic,
      )
      expect.unreachable()
    } catch (e) {
      const d = (e as { details: Record<string, string> }).details
      expect(d.error).toBe('x y')
      expect(d.error_description!.length).toBeLessThanOrEqual(301)
    }
  })
})

describe('parseTokenResponse: one parse, by oauth4webapi', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })
  const raw = (status: number, contentType: string, body: unknown): RawTokenResponse => ({
    status,
    contentType,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  /** Counts the JSON.parse calls that parse exactly these bytes while `fn` runs. */
  async function parsesOf(body: string, fn: () => Promise<unknown>): Promise<number> {
    const parse = JSON.parse.bind(JSON)
    let count = 0
    vi.spyOn(JSON, 'parse').mockImplementation((text: string, reviver?) => {
      if (text === body) count++
      return parse(text, reviver)
    })
    await fn().catch(() => undefined)
    return count
  }

  it.each([
    ['a Salesforce 200', sf, raw(200, JSON_CT, SF_BODY)],
    ['a generic 200', generic, raw(200, JSON_CT, { access_token: 'a', token_type: 'Bearer' })],
    ['a 400 OAuth error', generic, raw(400, JSON_CT, { error: 'invalid_grant' })],
    ['a 200 carrying an error', sf, raw(200, JSON_CT, { error: 'invalid_grant' })],
    ['a 200 with a bad field', generic, raw(200, JSON_CT, { access_token: 'a', token_type: 5 })],
    ['a 500 OAuth error', generic, raw(500, JSON_CT, { error: 'server_error' })],
  ])('parses the bytes of %s exactly once', async (_name, ctx, response) => {
    expect(await parsesOf(response.body, () => parseTokenResponse(response, ctx))).toBe(1)
  })

  it.each(['DPoP', 'dpop'])(
    'refuses a DPoP-bound token (%s), which oauth4webapi accepts by default',
    async (tokenType) => {
      const error = await parseTokenResponse(
        ok({ access_token: 'a', token_type: tokenType }),
        generic,
      ).catch((e: unknown) => e)
      expect(error).toMatchObject({
        code: 'TOKEN_RESPONSE_INVALID',
        details: { field: 'token_type', tokenType },
      })
    },
  )

  it('accepts token_type in any case and extra fields, keeping only what it knows', async () => {
    const t = await parseTokenResponse(
      ok({
        access_token: 'a',
        token_type: 'BEARER',
        expires_in: 0,
        authorization_details: [{ type: 'x' }],
        extra: { nested: [1, 2] },
      }),
      generic,
    )
    expect(t.tokenType).toBe('Bearer')
    expect(t.expiresAt).toBe(clock.now())
    expect(Object.keys(t).sort()).toEqual(['accessToken', 'expiresAt', 'issuedAt', 'tokenType'])
  })

  it('treats null as absent for refresh_token, expires_in, scope, id_token, instance_url, id and signature', async () => {
    const nulls = {
      refresh_token: null,
      expires_in: null,
      scope: null,
      id_token: null,
      instance_url: null,
      id: null,
      signature: null,
    }
    for (const ctx of [generic, { ...sf, consumerSecret: new Secret('s') }]) {
      const t = await parseTokenResponse(
        ok({ access_token: 'a', token_type: 'Bearer', ...nulls }),
        ctx,
      )
      expect(Object.keys(t).sort()).toEqual(['accessToken', 'issuedAt', 'tokenType'])
    }
  })

  it('Salesforce: a missing token_type means Bearer, a null one is refused', async () => {
    expect((await parseTokenResponse(ok({ access_token: 'a' }), sf)).tokenType).toBe('Bearer')
    expect(
      await parseTokenResponse(ok({ access_token: 'a', token_type: null }), sf).catch(
        (e: unknown) => e,
      ),
    ).toMatchObject({ code: 'TOKEN_RESPONSE_INVALID', details: { field: 'token_type' } })
  })

  describe('id_token', () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const idToken = (claims: Record<string, unknown>) => {
      const now = Math.floor(Date.now() / 1000)
      const all = { aud: 'ck', sub: 'u-1', iat: now, exp: now + 600, ...claims }
      return `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(all)}.c2lnbmF0dXJl`
    }
    const issuer = sf.authorizationServer.issuer

    it('oauth4webapi validates it for oidc/oauth2 and the identity comes from its claims', async () => {
      const good = idToken({ iss: issuer, preferred_username: 'alice@example.test' })
      const t = await parseTokenResponse(
        ok({ access_token: 'a', token_type: 'Bearer', id_token: good }),
        generic,
      )
      expect(t.identity).toEqual({ userId: 'u-1', username: 'alice@example.test' })
      expect(t.idToken?.reveal()).toBe(good)
      for (const bad of [
        idToken({ iss: 'https://other.example.test' }),
        idToken({ iss: issuer, aud: 'someone-else' }),
        idToken({ iss: issuer, exp: 1 }),
        'not.a.jwt',
      ]) {
        const error = await parseTokenResponse(
          ok({ access_token: 'at-canary', token_type: 'Bearer', id_token: bad }),
          generic,
        ).catch((e: unknown) => e)
        expect(error).toMatchObject({
          code: 'TOKEN_RESPONSE_INVALID',
          details: { provider: 'Gen', grant: 'refresh_token' },
        })
        expect((error as Error).message).toContain('failed validation')
        expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain('canary')
      }
    })

    it('checks the nonce of an authorization code exchange', async () => {
      const ctx = { ...generic, grant: 'authorization_code' as const, expectedNonce: 'n-1' }
      const body = (nonce: string) => ({
        access_token: 'a',
        token_type: 'Bearer',
        id_token: idToken({ iss: issuer, nonce }),
      })
      expect((await parseTokenResponse(ok(body('n-1')), ctx)).identity?.userId).toBe('u-1')
      expect(await codeOf(() => parseTokenResponse(ok(body('n-2')), ctx))).toBe(
        'TOKEN_RESPONSE_INVALID',
      )
      expect(
        await codeOf(() =>
          parseTokenResponse(ok({ access_token: 'a', token_type: 'Bearer' }), ctx),
        ),
      ).toBe('TOKEN_RESPONSE_INVALID')
    })

    it('Salesforce sets it aside unvalidated (its issuer is the login host or site the user used)', async () => {
      const siteToken = idToken({ iss: 'https://acme.my.site.com/partners', nonce: 'other' })
      const t = await parseTokenResponse(ok({ ...SF_BODY, id_token: siteToken }), {
        ...sf,
        grant: 'authorization_code',
        expectedNonce: 'n-1',
      })
      expect(t.idToken?.reveal()).toBe(siteToken)
      expect(t.identity?.orgId).toBe('00Dxx0000001gPLEAY')
      expect(await codeOf(() => parseTokenResponse(ok({ ...SF_BODY, id_token: 'a b' }), sf))).toBe(
        'TOKEN_RESPONSE_INVALID',
      )
    })
  })

  describe('content types and statuses', () => {
    it.each([
      ['Application/JSON; charset=UTF-8'],
      ['application/problem+json'],
      ['application/json'],
    ])('reads an OAuth error body served as %s', async (contentType) => {
      expect(
        await codeOf(() =>
          parseTokenResponse(raw(400, contentType, { error: 'invalid_grant' }), generic),
        ),
      ).toBe('NEEDS_REAUTH')
    })

    it.each([['text/plain'], ['text/html'], [''], ['application/x-www-form-urlencoded']])(
      'refuses a token body served as "%s", even when it is valid JSON',
      async (contentType) => {
        const error = await parseTokenResponse(
          raw(200, contentType, { access_token: 'a', token_type: 'Bearer' }),
          generic,
        ).catch((e: unknown) => e)
        expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_ERROR', details: { status: 200 } })
      },
    )

    it('names the error of a 5xx OAuth error body, still TOKEN_ENDPOINT_ERROR', async () => {
      const error = await parseTokenResponse(
        raw(503, JSON_CT, { error: 'temporarily_unavailable' }),
        generic,
      ).catch((e: unknown) => e)
      expect(error).toMatchObject({
        code: 'TOKEN_ENDPOINT_ERROR',
        details: { status: 503, error: 'temporarily_unavailable' },
      })
    })

    it.each([[204], [205], [304], [202], [307]])(
      'status %i is not a token response: TOKEN_ENDPOINT_ERROR',
      async (status) => {
        expect(await codeOf(() => parseTokenResponse(raw(status, JSON_CT, ''), generic))).toBe(
          'TOKEN_ENDPOINT_ERROR',
        )
      },
    )
  })
})

describe('readTokenResponse', () => {
  it('reads a body', async () => {
    const r = await readTokenResponse(
      new Response('{"a":1}', { headers: { 'content-type': JSON_CT } }),
    )
    expect(r).toEqual({ status: 200, contentType: JSON_CT, body: '{"a":1}' })
  })

  it('refuses a body over the cap, streamed without content-length', async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x61)
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 40) controller.close()
        else {
          sent++
          controller.enqueue(chunk)
        }
      },
    })
    const err = await readTokenResponse(new Response(stream), 1024 * 1024).catch((e: unknown) => e)
    expect(isCalloutError(err, 'TOKEN_ENDPOINT_ERROR')).toBe(true)
    expect(sent).toBeLessThan(40)
  })

  it('refuses a declared content-length over the cap without reading', async () => {
    const res = new Response('x', { headers: { 'content-length': String(2 * 1024 * 1024) } })
    const err = await readTokenResponse(res).catch((e: unknown) => e)
    expect(isCalloutError(err, 'TOKEN_ENDPOINT_ERROR')).toBe(true)
  })
})
