/**
 * Grants against a deliberately broken token endpoint (a tiny node:http server on port 0).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { AuthProvider, ExternalCredential, Principal } from '../../src/definitions/model.ts'
import { isCalloutError } from '../../src/errors.ts'
import { Secret } from '../../src/secrets/secret.ts'
import {
  clientCredentialsGrant,
  passwordGrant,
  refreshTokenGrant,
} from '../../src/auth/oauth2-grants.ts'
import { resolveEndpoints } from '../../src/auth/endpoints.ts'

type Reply = {
  status: number
  type?: string
  body: string | Buffer
  delayMs?: number
  headers?: Record<string, string>
  /** Sent in chunks, without content-length. */
  chunked?: boolean
}
const replies = new Map<string, Reply>()
const seen: { path: string; body: string; authorization: string | undefined }[] = []
let server: Server
let base = ''

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      seen.push({ path: req.url ?? '', body, authorization: req.headers.authorization })
      const reply = replies.get(req.url ?? '') ?? { status: 404, type: 'text/plain', body: 'no' }
      const send = () => {
        res.writeHead(reply.status, {
          ...(reply.type === undefined ? {} : { 'content-type': reply.type }),
          ...reply.headers,
        })
        if (reply.chunked !== true) return void res.end(reply.body)
        const body = Buffer.from(reply.body)
        for (let at = 0; at < body.length; at += 64 * 1024) {
          res.write(body.subarray(at, at + 64 * 1024))
        }
        res.end()
      }
      if (reply.delayMs !== undefined) setTimeout(send, reply.delayMs)
      else send()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

const ec: ExternalCredential = {
  name: 'Api',
  protocol: 'oauth2',
  flow: 'client-credentials',
  additionalRefreshStatusCodes: [],
  authHeaders: [],
  principals: [],
}
const principal: Principal = {
  name: 'Main',
  type: 'named',
  sequence: 1,
  parameters: { username: 'u@example.com' },
  secrets: { password: new Secret('pw-canary-991'), securityToken: new Secret('TOK') },
}
function provider(path: string, over: Partial<AuthProvider> = {}): AuthProvider {
  return {
    name: 'Hostile',
    type: 'oauth2',
    consumerKey: 'ck',
    consumerSecret: new Secret('cs-canary-775'),
    tokenUrl: `${base}${path}`,
    usePkce: true,
    clientAuth: 'client_secret_post',
    allowInsecureHttp: false,
    ...over,
  }
}
async function grantError(
  path: string,
  reply: Reply,
  timeoutMs?: number,
): Promise<{ code: string; details: Record<string, unknown>; message: string }> {
  replies.set(path, reply)
  const p = provider(path)
  const err = await clientCredentialsGrant(
    p,
    await resolveEndpoints(p),
    ec,
    principal,
    timeoutMs === undefined ? {} : { timeoutMs },
  ).catch((e: unknown) => e)
  expect(isCalloutError(err)).toBe(true)
  const e = err as { code: string; details: Record<string, unknown>; message: string }
  expect(JSON.stringify(e.details) + e.message).not.toContain('canary')
  return e
}

describe('hostile token endpoints', () => {
  it('500 → TOKEN_ENDPOINT_ERROR with the status', async () => {
    const e = await grantError('/t500', {
      status: 500,
      type: 'application/json',
      body: '{"error":"server_error"}',
    })
    expect(e.code).toBe('TOKEN_ENDPOINT_ERROR')
    expect(e.details.status).toBe(500)
    expect(e.details.error).toBe('server_error')
  })

  it('HTML → TOKEN_ENDPOINT_ERROR with content type and title', async () => {
    const e = await grantError('/html', {
      status: 200,
      type: 'text/html',
      body: '<html><head><title>Sign in</title></head><body>cs-canary-775</body></html>',
    })
    expect(e.code).toBe('TOKEN_ENDPOINT_ERROR')
    expect(e.details).toMatchObject({ status: 200, contentType: 'text/html', htmlTitle: 'Sign in' })
  })

  it('invalid JSON → TOKEN_ENDPOINT_ERROR', async () => {
    expect(
      (
        await grantError('/badjson', {
          status: 200,
          type: 'application/json',
          body: '{"access_token": "x",',
        })
      ).code,
    ).toBe('TOKEN_ENDPOINT_ERROR')
  })

  it('200 without access_token → TOKEN_RESPONSE_INVALID', async () => {
    expect(
      (
        await grantError('/noat', {
          status: 200,
          type: 'application/json',
          body: '{"token_type":"Bearer"}',
        })
      ).code,
    ).toBe('TOKEN_RESPONSE_INVALID')
  })

  it('a 2 MiB response → TOKEN_ENDPOINT_ERROR', async () => {
    const big = `{"access_token":"${'a'.repeat(2 * 1024 * 1024)}","token_type":"Bearer"}`
    expect(
      (await grantError('/big', { status: 200, type: 'application/json', body: big })).code,
    ).toBe('TOKEN_ENDPOINT_ERROR')
  })

  it('a 2 MiB response streamed without content-length → TOKEN_ENDPOINT_ERROR, never parsed', async () => {
    const big = `{"access_token":"${'a'.repeat(2 * 1024 * 1024)}","token_type":"Bearer"}`
    const parse = vi.spyOn(JSON, 'parse')
    try {
      const e = await grantError('/bigchunked', {
        status: 200,
        type: 'application/json',
        body: big,
        chunked: true,
      })
      expect(e.code).toBe('TOKEN_ENDPOINT_ERROR')
      expect(e.details.maxBytes).toBe(1024 * 1024)
      expect(parse.mock.calls.some(([text]) => text.length > 1024 * 1024)).toBe(false)
    } finally {
      parse.mockRestore()
    }
  })

  it.each([
    [
      '401 invalid_client with a WWW-Authenticate challenge → OAUTH_CLIENT_INVALID from the body',
      '/challenge',
      {
        status: 401,
        type: 'application/json;charset=UTF-8',
        headers: { 'www-authenticate': 'Basic realm="token"' },
        body: '{"error":"invalid_client","error_description":"invalid client credentials"}',
      },
      'OAUTH_CLIENT_INVALID',
      { status: 401, error: 'invalid_client' },
    ],
    [
      '200 carrying an OAuth error → that error (client credentials: a configuration OAUTH_ERROR)',
      '/ok-error',
      {
        status: 200,
        type: 'application/json',
        body: '{"error":"invalid_grant","error_description":"no client credentials user enabled"}',
      },
      'OAUTH_ERROR',
      { status: 200, error: 'invalid_grant', grant: 'client_credentials' },
    ],
    [
      '503 with an OAuth error body → TOKEN_ENDPOINT_ERROR naming the error',
      '/t503',
      { status: 503, type: 'application/json', body: '{"error":"temporarily_unavailable"}' },
      'TOKEN_ENDPOINT_ERROR',
      { status: 503, error: 'temporarily_unavailable' },
    ],
    [
      'a DPoP-bound token → TOKEN_RESPONSE_INVALID naming the type',
      '/dpop',
      {
        status: 200,
        type: 'application/json',
        body: '{"access_token":"at-canary-5","token_type":"DPoP","expires_in":60}',
      },
      'TOKEN_RESPONSE_INVALID',
      { field: 'token_type', tokenType: 'DPoP' },
    ],
  ] as const)('%s', async (_name, path, reply, code, details) => {
    const e = await grantError(path, reply)
    expect(e.code).toBe(code)
    expect(e.details).toMatchObject(details)
  })

  it('reads and parses a token response once', async () => {
    const body = '{"access_token":"AT-once","token_type":"Bearer","expires_in":60}'
    replies.set('/once', { status: 200, type: 'application/json', body })
    const parse = vi.spyOn(JSON, 'parse')
    try {
      const p = provider('/once')
      const tokens = await clientCredentialsGrant(p, await resolveEndpoints(p), ec, principal)
      expect(tokens.accessToken.reveal()).toBe('AT-once')
      expect(parse.mock.calls.filter(([text]) => text === body)).toHaveLength(1)
    } finally {
      parse.mockRestore()
    }
  })

  it('a slow server → TOKEN_ENDPOINT_ERROR (timed out)', async () => {
    const e = await grantError(
      '/slow',
      { status: 200, type: 'application/json', body: '{}', delayMs: 2000 },
      100,
    )
    expect(e.code).toBe('TOKEN_ENDPOINT_ERROR')
    expect(e.details.timedOut).toBe(true)
  })

  it('an unreachable server → TOKEN_ENDPOINT_ERROR with a cause', async () => {
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise((r) => closed.close(r))
    const p = provider('', { tokenUrl: `http://127.0.0.1:${port}/token` })
    const err = await clientCredentialsGrant(p, await resolveEndpoints(p), ec, principal).catch(
      (e: unknown) => e,
    )
    expect(isCalloutError(err, 'TOKEN_ENDPOINT_ERROR')).toBe(true)
    expect((err as Error).cause).toBeDefined()
  })

  it('refuses http:// on a non-loopback host without allowInsecureHttp', async () => {
    const p = provider('', { tokenUrl: 'http://auth.example.test/token' })
    const err = await resolveEndpoints(p).catch((e: unknown) => e)
    expect(isCalloutError(err, 'INSECURE_URL')).toBe(true)
    const err2 = await clientCredentialsGrant(
      p,
      { tokenUrl: 'http://auth.example.test/token' },
      ec,
      principal,
    ).catch((e: unknown) => e)
    expect(isCalloutError(err2, 'INSECURE_URL')).toBe(true)
  })

  it('sends client_secret_post, scope, and a Salesforce-style refresh without leaking the secret elsewhere', async () => {
    replies.set('/ok', {
      status: 200,
      type: 'application/json',
      body: '{"access_token":"AT","token_type":"Bearer","issued_at":"1700000000000","instance_url":"https://acme.my.salesforce.com","id":"https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA"}',
    })
    seen.length = 0
    const p = provider('/ok', { type: 'salesforce', tokenUrl: `${base}/ok`, defaultScopes: 'api' })
    const tokens = await refreshTokenGrant(
      p,
      await resolveEndpoints(p),
      ec,
      principal,
      new Secret('RT-1'),
    )
    expect(tokens.instanceUrl).toBe('https://acme.my.salesforce.com')
    expect(tokens.identity?.orgId).toBe('00D000000000001AAA')
    expect(tokens.refreshToken).toBeUndefined()
    const form = new URLSearchParams(seen[0]?.body)
    expect(form.get('grant_type')).toBe('refresh_token')
    expect(form.get('refresh_token')).toBe('RT-1')
    expect(form.get('client_id')).toBe('ck')
    expect(form.get('client_secret')).toBe('cs-canary-775')
    expect(seen[0]?.authorization).toBeUndefined()
  })

  it('password grant: warns loudly, appends the Salesforce security token', async () => {
    seen.length = 0
    const warnings: { obj: Record<string, unknown>; msg: string }[] = []
    const p = provider('/ok', { type: 'salesforce', tokenUrl: `${base}/ok` })
    await passwordGrant(p, await resolveEndpoints(p), ec, principal, {
      logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]?.msg).toMatch(/legacy and insecure/)
    expect(JSON.stringify(warnings)).not.toContain('canary')
    const form = new URLSearchParams(seen[0]?.body)
    expect(form.get('grant_type')).toBe('password')
    expect(form.get('username')).toBe('u@example.com')
    expect(form.get('password')).toBe('pw-canary-991TOK')
  })
})
