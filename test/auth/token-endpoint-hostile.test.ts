/**
 * Grants against a deliberately broken token endpoint (a tiny node:http server on port 0).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthProvider, ExternalCredential, Principal } from '../../src/definitions/model.ts'
import { isCalloutError } from '../../src/errors.ts'
import { Secret } from '../../src/secrets/secret.ts'
import {
  clientCredentialsGrant,
  passwordGrant,
  refreshTokenGrant,
} from '../../src/auth/oauth2-grants.ts'
import { resolveEndpoints } from '../../src/auth/endpoints.ts'

type Reply = { status: number; type?: string; body: string | Buffer; delayMs?: number }
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
        res.writeHead(reply.status, reply.type === undefined ? {} : { 'content-type': reply.type })
        res.end(reply.body)
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
