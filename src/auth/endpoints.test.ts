import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthProvider } from '../definitions/model.ts'
import { isCalloutError } from '../errors.ts'
import { EndpointCache, resolveEndpoints } from './endpoints.ts'

const sf = (over: Partial<AuthProvider> = {}): AuthProvider => ({
  name: 'SF',
  type: 'salesforce',
  consumerKey: 'ck',
  usePkce: true,
  clientAuth: 'client_secret_post',
  allowInsecureHttp: false,
  ...over,
})

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => 'no error',
    (err: unknown) => (isCalloutError(err) ? err.code : 'not a CalloutError'),
  )
  return e
}

describe('resolveEndpoints: salesforce', () => {
  it('defaults to login.salesforce.com', async () => {
    expect(await resolveEndpoints(sf())).toEqual({
      issuer: 'https://login.salesforce.com',
      authorizeUrl: 'https://login.salesforce.com/services/oauth2/authorize',
      tokenUrl: 'https://login.salesforce.com/services/oauth2/token',
      userInfoUrl: 'https://login.salesforce.com/services/oauth2/userinfo',
      revokeUrl: 'https://login.salesforce.com/services/oauth2/revoke',
      introspectUrl: 'https://login.salesforce.com/services/oauth2/introspect',
    })
  })
  it('uses a My Domain or site login URL, and explicit URLs win', async () => {
    const e = await resolveEndpoints(
      sf({
        loginUrl: 'https://acme.my.salesforce.com/',
        authorizeUrl: 'https://target.my.salesforce.com/services/oauth2/authorize',
      }),
    )
    expect(e.tokenUrl).toBe('https://acme.my.salesforce.com/services/oauth2/token')
    expect(e.authorizeUrl).toBe('https://target.my.salesforce.com/services/oauth2/authorize')
    const site = await resolveEndpoints(sf({ loginUrl: 'https://acme.my.site.com/partners' }))
    expect(site.tokenUrl).toBe('https://acme.my.site.com/partners/services/oauth2/token')
  })
  it.each([
    ['http non-loopback', { loginUrl: 'http://acme.my.salesforce.com' }, 'INSECURE_URL'],
    ['garbage', { loginUrl: 'not a url' }, 'CONFIG_INVALID'],
    ['userinfo', { loginUrl: 'https://u:p@acme.my.salesforce.com' }, 'CONFIG_INVALID'],
    ['javascript', { tokenUrl: 'javascript:alert(1)' }, 'CONFIG_INVALID'],
  ] as const)('rejects %s', async (_n, over, expected) => {
    expect(await code(resolveEndpoints(sf(over)))).toBe(expected)
  })
  it('accepts http loopback and http with allowInsecureHttp', async () => {
    expect((await resolveEndpoints(sf({ loginUrl: 'http://127.0.0.1:4000' }))).tokenUrl).toBe(
      'http://127.0.0.1:4000/services/oauth2/token',
    )
    expect(
      await code(resolveEndpoints(sf({ loginUrl: 'http://sf.internal', allowInsecureHttp: true }))),
    ).toBe('no error')
  })
})

describe('resolveEndpoints: oauth2 and oidc', () => {
  let server: Server
  let base = ''
  let hits = 0
  let doc: () => { status: number; body: string; type: string } = () => ({
    status: 200,
    type: 'application/json',
    body: '{}',
  })
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++
      const d = doc()
      res.writeHead(d.status, { 'content-type': d.type })
      res.end(d.body)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })
  const oidc = (over: Partial<AuthProvider> = {}): AuthProvider =>
    sf({ type: 'oidc', issuer: base, ...over })
  const good = () => ({
    status: 200,
    type: 'application/json',
    body: JSON.stringify({
      issuer: base,
      token_endpoint: `${base}/token`,
      authorization_endpoint: `${base}/auth`,
    }),
  })

  it('oauth2 needs a tokenUrl', async () => {
    expect(await code(resolveEndpoints(sf({ type: 'oauth2' })))).toBe('CONFIG_INVALID')
    expect(
      (await resolveEndpoints(sf({ type: 'oauth2', tokenUrl: 'https://a.test/t' }))).tokenUrl,
    ).toBe('https://a.test/t')
  })

  it('oidc caches discovery per provider, shares one in-flight fetch, honours the TTL', async () => {
    doc = good
    hits = 0
    let now = 0
    const clock = { now: () => now }
    const cache = new EndpointCache(1000)
    const [a, b] = await Promise.all([
      resolveEndpoints(oidc(), { cache, clock }),
      resolveEndpoints(oidc(), { cache, clock }),
    ])
    expect(a.tokenUrl).toBe(`${base}/token`)
    expect(b).toEqual(a)
    expect(hits).toBe(1)
    await resolveEndpoints(oidc(), { cache, clock })
    expect(hits).toBe(1)
    now = 1001
    await resolveEndpoints(oidc(), { cache, clock })
    expect(hits).toBe(2)
    expect(
      (await resolveEndpoints(oidc({ tokenUrl: 'https://override.test/t' }), { cache, clock }))
        .tokenUrl,
    ).toBe('https://override.test/t')
  })

  it.each([
    ['500', () => ({ status: 500, type: 'text/html', body: '<html>' }), 'TOKEN_ENDPOINT_ERROR'],
    ['HTML', () => ({ status: 200, type: 'text/html', body: '<html>' }), 'TOKEN_ENDPOINT_ERROR'],
    [
      'invalid JSON',
      () => ({ status: 200, type: 'application/json', body: '{' }),
      'TOKEN_ENDPOINT_ERROR',
    ],
    [
      'other issuer',
      () => ({
        status: 200,
        type: 'application/json',
        body: JSON.stringify({
          issuer: 'https://evil.test',
          token_endpoint: 'https://evil.test/t',
        }),
      }),
      'CONFIG_INVALID',
    ],
    [
      'http token endpoint elsewhere',
      () => ({
        status: 200,
        type: 'application/json',
        body: JSON.stringify({ issuer: base, token_endpoint: 'http://evil.test/t' }),
      }),
      'INSECURE_URL',
    ],
    [
      'huge',
      () => ({
        status: 200,
        type: 'application/json',
        body: `{"issuer":"${'a'.repeat(1100 * 1024)}"}`,
      }),
      'TOKEN_ENDPOINT_ERROR',
    ],
  ] as const)('discovery failure: %s → %s (and is not cached)', async (_n, reply, expected) => {
    doc = reply
    const cache = new EndpointCache()
    expect(await code(resolveEndpoints(oidc(), { cache }))).toBe(expected)
    doc = good
    expect(await code(resolveEndpoints(oidc(), { cache }))).toBe('no error')
  })

  it('oidc without issuer is CONFIG_INVALID', async () => {
    expect(await code(resolveEndpoints(sf({ type: 'oidc' })))).toBe('CONFIG_INVALID')
  })
})
