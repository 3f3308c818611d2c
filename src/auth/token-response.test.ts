import { createHmac } from 'node:crypto'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
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

function codeOf(fn: () => unknown): ErrorCode | 'no error' | 'not a CalloutError' {
  try {
    fn()
    return 'no error'
  } catch (e) {
    return isCalloutError(e) ? e.code : 'not a CalloutError'
  }
}

describe('parseTokenResponse: Salesforce', () => {
  it('reads the Salesforce shape: issued_at ms string, no expires_in, instance_url, id', () => {
    const t = parseTokenResponse(ok(SF_BODY), sf)
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

  it('keeps refresh_token only when returned', () => {
    const { refresh_token: _omit, ...rest } = SF_BODY
    expect(parseTokenResponse(ok(rest), sf).refreshToken).toBeUndefined()
  })

  it('uses the clock when issued_at is absent and accepts a missing token_type', () => {
    const t = parseTokenResponse(ok({ access_token: 'abc' }), sf)
    expect(t.issuedAt).toBe(clock.now())
    expect(t.tokenType).toBe('Bearer')
  })

  it('verifies the signature when the consumer secret is known', () => {
    const secret = new Secret('consumer-secret')
    const body = { ...SF_BODY, signature: sign('consumer-secret', ID, SF_BODY.issued_at) }
    expect(
      parseTokenResponse(ok(body), { ...sf, consumerSecret: secret }).accessToken.reveal(),
    ).toBe(SF_BODY.access_token)
    const tampered = { ...body, id: ID.replace('005xx', '005yy') }
    expect(codeOf(() => parseTokenResponse(ok(tampered), { ...sf, consumerSecret: secret }))).toBe(
      'TOKEN_RESPONSE_INVALID',
    )
    const wrongSecret = { ...SF_BODY, signature: sign('other', ID, SF_BODY.issued_at) }
    expect(
      codeOf(() => parseTokenResponse(ok(wrongSecret), { ...sf, consumerSecret: secret })),
    ).toBe('TOKEN_RESPONSE_INVALID')
    // unknown secret: not verifiable, accepted
    expect(codeOf(() => parseTokenResponse(ok(wrongSecret), sf))).toBe('no error')
  })

  it('rejects a signature without the id it signs', () => {
    const { id: _id, ...rest } = SF_BODY
    const body = { ...rest, signature: 'AAAA' }
    expect(
      codeOf(() => parseTokenResponse(ok(body), { ...sf, consumerSecret: new Secret('s') })),
    ).toBe('TOKEN_RESPONSE_INVALID')
  })

  it('keeps only idUrl when the id path is not /id/<org>/<user>', () => {
    const t = parseTokenResponse(ok({ ...SF_BODY, id: 'https://login.salesforce.com/id/nope' }), sf)
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
  ])('rejects instance_url with %s', (_name, instanceUrl) => {
    expect(
      codeOf(() => parseTokenResponse(ok({ ...SF_BODY, instance_url: instanceUrl }), sf)),
    ).toBe('TOKEN_RESPONSE_INVALID')
  })

  it('accepts a loopback http instance_url (emulator) and strips a trailing slash', () => {
    expect(
      parseTokenResponse(ok({ ...SF_BODY, instance_url: 'http://127.0.0.1:8080/' }), sf)
        .instanceUrl,
    ).toBe('http://127.0.0.1:8080')
  })

  it.each([['12.5'], ['-1'], ['abc'], [''], [{}], ['99999999999999999999']])(
    'rejects issued_at %j',
    (issuedAt) => {
      expect(codeOf(() => parseTokenResponse(ok({ ...SF_BODY, issued_at: issuedAt }), sf))).toBe(
        'TOKEN_RESPONSE_INVALID',
      )
    },
  )
})

describe('parseTokenResponse: generic', () => {
  it('computes expiresAt from expires_in and normalises bearer', () => {
    const t = parseTokenResponse(
      ok({ access_token: 'a', token_type: 'bearer', expires_in: 3600 }),
      generic,
    )
    expect(t.expiresAt).toBe(clock.now() + 3_600_000)
    expect(t.tokenType).toBe('Bearer')
    expect(t.identity).toBeUndefined()
  })

  it.each(['mac', 'DPoP', 'N_A'])(
    'refuses token_type %s with TOKEN_RESPONSE_INVALID that names the type, never a token',
    (tokenType) => {
      const body = {
        access_token: 'at-canary-1',
        refresh_token: 'rt-canary-2',
        token_type: tokenType,
      }
      for (const ctx of [generic, sf]) {
        let error: unknown
        try {
          parseTokenResponse(ok(body), ctx)
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

  it('ignores Salesforce-only fields for other providers', () => {
    const t = parseTokenResponse(
      ok({ access_token: 'a', token_type: 'Bearer', id: 'not a url', signature: 1 }),
      generic,
    )
    expect(t.identity).toBeUndefined()
  })

  it.each([
    ['missing access_token', { token_type: 'Bearer' }],
    ['numeric access_token', { access_token: 12345, token_type: 'Bearer' }],
    ['empty access_token', { access_token: '', token_type: 'Bearer' }],
    ['access_token with CRLF', { access_token: 'a\r\nX-Evil: 1', token_type: 'Bearer' }],
    ['access_token with space', { access_token: 'a b', token_type: 'Bearer' }],
    ['negative expires_in', { access_token: 'a', token_type: 'Bearer', expires_in: -5 }],
    ['string expires_in', { access_token: 'a', token_type: 'Bearer', expires_in: '3600' }],
    ['huge expires_in', { access_token: 'a', token_type: 'Bearer', expires_in: 1e12 }],
    ['missing token_type', { access_token: 'a' }],
    ['token_type with CR', { access_token: 'a', token_type: 'Bearer\r' }],
    ['numeric refresh_token', { access_token: 'a', token_type: 'Bearer', refresh_token: 5 }],
    ['object scope', { access_token: 'a', token_type: 'Bearer', scope: {} }],
  ])('200 with %s → TOKEN_RESPONSE_INVALID', (_name, body) => {
    expect(codeOf(() => parseTokenResponse(ok(body), generic))).toBe('TOKEN_RESPONSE_INVALID')
  })

  it('NaN expires_in cannot even be encoded as JSON; null expires_in is treated as absent', () => {
    const t = parseTokenResponse(
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
  ])('%s → TOKEN_ENDPOINT_ERROR', (_name, r) => {
    expect(codeOf(() => parseTokenResponse(r, generic))).toBe('TOKEN_ENDPOINT_ERROR')
  })

  it('reports status, content type and a sanitized title, never the body', () => {
    const body = '<html><title>Down\n for <b>maintenance</title><p>secret-canary-123</p></html>'
    try {
      parseTokenResponse(raw(200, 'text/html', body), generic)
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

  it('invalid_grant on refresh → NEEDS_REAUTH with how to re-authenticate and Salesforce advice', () => {
    try {
      parseTokenResponse(
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

  it('invalid_grant on client credentials / jwt bearer is a configuration OAUTH_ERROR', () => {
    const r = raw(
      400,
      JSON_CT,
      '{"error":"invalid_grant","error_description":"user hasn\'t approved this consumer"}',
    )
    expect(codeOf(() => parseTokenResponse(r, { ...sf, grant: 'jwt_bearer' }))).toBe('OAUTH_ERROR')
    expect(codeOf(() => parseTokenResponse(r, { ...sf, grant: 'client_credentials' }))).toBe(
      'OAUTH_ERROR',
    )
    expect(codeOf(() => parseTokenResponse(r, { ...sf, grant: 'authorization_code' }))).toBe(
      'NEEDS_REAUTH',
    )
  })

  it.each(['invalid_client', 'invalid_client_id'])(
    '%s → OAUTH_CLIENT_INVALID (Salesforce: propagation advice)',
    (error) => {
      try {
        parseTokenResponse(
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

  it('other OAuth errors → OAUTH_ERROR with error and description in details', () => {
    try {
      parseTokenResponse(
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

  it('a 200 carrying an error is treated as the error', () => {
    expect(codeOf(() => parseTokenResponse(ok({ error: 'invalid_grant' }), sf))).toBe(
      'NEEDS_REAUTH',
    )
  })

  it('sanitizes control characters and length in error fields', () => {
    try {
      parseTokenResponse(
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
