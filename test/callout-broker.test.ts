import { Agent } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openBroker } from '../src/callout/open-broker.ts'
import type { Broker } from '../src/callout/broker.ts'
import type { ExternalCredential, NamedCredential } from '../src/definitions/model.ts'
import { CalloutError } from '../src/errors.ts'
import { Secret } from '../src/secrets/secret.ts'
import {
  authProvider,
  definitions,
  externalCredential,
  ManualClock,
  namedCredential,
  principal,
} from './helpers/callout-fixtures.ts'
import { TokenServer, Upstream } from './helpers/callout-servers.ts'
import { openMemoryStore, storedCredential } from './helpers/sqlite-memory-store.ts'
import type { KyselyStore } from '../src/store/kysely-store.ts'

let tokens: TokenServer
let upstream: Upstream
let other: Upstream
const brokers: Broker[] = []

beforeAll(async () => {
  tokens = await new TokenServer().start()
  upstream = await new Upstream(tokens).start()
  other = await new Upstream(undefined).start()
})
afterAll(async () => {
  await Promise.all([tokens.listening.close(), upstream.listening.close(), other.listening.close()])
})
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()))
  tokens.requests = 0
  tokens.grants = []
  tokens.refreshTokensSeen = []
  tokens.rotate = false
  tokens.expiresIn = undefined
  tokens.failStatus = undefined
  tokens.instanceUrl = undefined
  tokens.validRefreshTokens = new Set(['refresh-0'])
  upstream.seen = []
  upstream.routes.clear()
  other.seen = []
  other.routes.clear()
})

interface Setup {
  ec?: Partial<ExternalCredential>
  nc?: Partial<NamedCredential>
  providerType?: 'oauth2' | 'salesforce'
  seedBrowser?: boolean
  clock?: ManualClock
  dispatcher?: Agent
}

async function setup(options: Setup = {}): Promise<{ broker: Broker; store: KyselyStore }> {
  const provider = authProvider({
    tokenUrl: tokens.tokenUrl,
    ...(options.providerType === 'salesforce'
      ? { type: 'salesforce', loginUrl: tokens.listening.origin }
      : {}),
  })
  const ec = externalCredential({ ...options.ec })
  const nc = namedCredential({ url: `${upstream.origin}/api`, ...options.nc })
  const store = await openMemoryStore({
    definitions: definitions({
      authProviders: [provider],
      externalCredentials: [ec],
      namedCredentials: [nc],
    }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  })
  if (options.seedBrowser === true) {
    await store.compareAndSetCredential(
      {
        externalCredential: ec.name,
        principal: 'Default',
        userId: '',
        status: 'authenticated',
        accessToken: new Secret('stale-token'),
        refreshToken: new Secret('refresh-0'),
        tokenType: 'Bearer',
        issuedAt: (options.clock ?? Date).now(),
      },
      0,
    )
  }
  const broker = await openBroker({
    store,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
  })
  brokers.push(broker)
  return { broker, store }
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (e) {
    if (e instanceof CalloutError) return e.code
    throw e
  }
  return undefined
}

describe('broker.fetch with a bearer token', () => {
  it('mints on first use, calls the resolved URL, returns a WHATWG Response', async () => {
    const { broker } = await setup()
    const res = await broker.fetch('callout:Api/items?x=1')
    expect(res).toBeInstanceOf(Response)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ ok: true, method: 'GET', url: '/api/items?x=1' })
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(tokens.grants).toEqual(['client_credentials'])
    expect(upstream.seen[0]?.authorization).toBe(`Bearer ${tokens.current}`)
    // cached: no second token request
    await (await broker.fetch('callout:Api/items')).arrayBuffer()
    expect(tokens.requests).toBe(1)
  })

  it("drops the caller's Authorization and Proxy-Authorization", async () => {
    const { broker } = await setup()
    const res = await broker.fetch('callout:Api/x', {
      headers: {
        Authorization: 'Bearer callers-own',
        'Proxy-Authorization': 'Basic eA==',
        'X-Keep': 'yes',
      },
    })
    await res.arrayBuffer()
    const seen = upstream.seen[0]!
    expect(seen.authorization).toBe(`Bearer ${tokens.current}`)
    expect(seen.headers['proxy-authorization']).toBeUndefined()
    expect(seen.headers['x-keep']).toBe('yes')
  })

  it('sends a POST body and returns broker.request in undici shape', async () => {
    const { broker } = await setup()
    const { statusCode, headers, body } = await broker.request('callout:Api/items', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    })
    expect(statusCode).toBe(200)
    expect(headers['content-type']).toBe('application/json')
    expect(await body.json()).toMatchObject({ method: 'POST', body: '{"a":1}' })
  })

  it('raises CREDENTIAL_NOT_FOUND and CALLOUT_URL_MALFORMED before any request', async () => {
    const { broker } = await setup()
    expect(await codeOf(broker.fetch('callout:Nope/x'))).toBe('CREDENTIAL_NOT_FOUND')
    expect(await codeOf(broker.fetch('callout:Api/../x'))).toBe('CALLOUT_URL_MALFORMED')
    expect(await codeOf(broker.fetch(`${upstream.origin}/x`))).toBe('CALLOUT_URL_MALFORMED')
    expect(tokens.requests + upstream.seen.length).toBe(0)
  })

  it('calls a plain URL without credentials only when allowed', async () => {
    const { broker } = await setup()
    const res = await broker.fetch(`${other.origin}/plain`, { allowPlainUrl: true })
    expect(res.status).toBe(200)
    expect(other.seen[0]?.authorization).toBeUndefined()
    expect(tokens.requests).toBe(0)
  })
})

describe('401 handling', () => {
  it('refreshes once and retries once on 401', async () => {
    const { broker, store } = await setup({ ec: { flow: 'browser' }, seedBrowser: true })
    const res = await broker.fetch('callout:Api/x')
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect(tokens.grants).toEqual(['refresh_token'])
    expect(upstream.seen.map((s) => s.authorization)).toEqual([
      'Bearer stale-token',
      `Bearer ${tokens.current}`,
    ])
    expect((await storedCredential(store)).accessToken?.reveal()).toBe(tokens.current)
  })

  it('returns the second 401 and never loops', async () => {
    const { broker } = await setup({ ec: { flow: 'browser' }, seedBrowser: true })
    upstream.routes.set('/api/always401', (_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end('{"error":"nope"}')
    })
    const res = await broker.fetch('callout:Api/always401')
    expect(res.status).toBe(401)
    expect(await res.text()).toBe('{"error":"nope"}')
    expect(upstream.seen).toHaveLength(2)
    expect(tokens.requests).toBe(1)
  })

  it('also refreshes on an additionalRefreshStatusCodes status', async () => {
    const { broker } = await setup({
      ec: { flow: 'browser', additionalRefreshStatusCodes: [403] },
      seedBrowser: true,
    })
    upstream.routes.set('/api/forbidden-when-stale', (req, res) => {
      const ok = req.headers.authorization === `Bearer ${tokens.current}`
      res.writeHead(ok ? 200 : 403)
      res.end(ok ? 'fresh' : 'stale')
    })
    const res = await broker.fetch('callout:Api/forbidden-when-stale')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('fresh')
    expect(tokens.requests).toBe(1)
  })

  it('does not refresh on 403 without additionalRefreshStatusCodes', async () => {
    const { broker } = await setup({ ec: { flow: 'browser' }, seedBrowser: true })
    upstream.routes.set('/api/forbidden', (_req, res) => {
      res.writeHead(403)
      res.end()
    })
    expect((await broker.fetch('callout:Api/forbidden')).status).toBe(403)
    expect(tokens.requests).toBe(0)
  })

  it('Salesforce INVALID_SESSION_ID refreshes; "not valid for use with the REST API" does not, and advises', async () => {
    const { broker } = await setup({
      providerType: 'salesforce',
      ec: { flow: 'browser' },
      seedBrowser: true,
    })
    const scopeBody =
      '[{"message":"This session is not valid for use with the REST API","errorCode":"INVALID_SESSION_ID"}]'
    upstream.routes.set('/api/scope', (_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end(scopeBody)
    })
    const res = await broker.fetch('callout:Api/scope')
    expect(res.status).toBe(401)
    expect(await res.text()).toBe(scopeBody)
    expect(res.headers.get('callout-advice')).toContain('api')
    expect(tokens.requests).toBe(0)
    expect(upstream.seen).toHaveLength(1)

    upstream.routes.set('/api/session', (req, res) => {
      const ok = req.headers.authorization === `Bearer ${tokens.current}`
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
      res.end(
        ok
          ? '{"ok":true}'
          : '[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]',
      )
    })
    const again = await broker.fetch('callout:Api/session')
    expect(again.status).toBe(200)
    expect(tokens.requests).toBe(1)
  })

  it('raises BODY_NOT_REPLAYABLE when a streamed body would have to be resent', async () => {
    const { broker } = await setup({ ec: { flow: 'browser' }, seedBrowser: true })
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('streamed'))
        c.close()
      },
    })
    expect(
      await codeOf(
        broker.fetch('callout:Api/x', { method: 'POST', body: stream, duplex: 'half' } as never),
      ),
    ).toBe('BODY_NOT_REPLAYABLE')
    expect(tokens.requests).toBe(1) // the token was still refreshed for the next call
  })
})

describe('token lifecycle through the broker', () => {
  it('refresh storm: 1,000 concurrent fetches on an expired token → exactly one token request', async () => {
    const dispatcher = new Agent({ connections: 64 })
    try {
      tokens.rotate = true
      const { broker, store } = await setup({
        ec: { flow: 'browser' },
        seedBrowser: true,
        dispatcher,
      })
      const results = await Promise.all(
        Array.from({ length: 1_000 }, async () => {
          const res = await broker.fetch('callout:Api/storm')
          await res.arrayBuffer()
          return res.status
        }),
      )
      expect(results.filter((s) => s === 200)).toHaveLength(1_000)
      expect(tokens.requests).toBe(1)
      // rotation stored atomically with the access token
      const stored = await storedCredential(store)
      expect(stored.accessToken?.reveal()).toBe(tokens.current)
      expect(stored.refreshToken?.reveal()).toBe([...tokens.validRefreshTokens][0])
      expect(stored.version).toBe(2)
    } finally {
      await dispatcher.close()
    }
  })

  it('invalid_grant → needs-reauth + event + fast failure on the next call without a token request', async () => {
    const { broker, store } = await setup({ ec: { flow: 'browser' }, seedBrowser: true })
    tokens.validRefreshTokens = new Set()
    const events: string[] = []
    broker.on('needs-reauth', (e) => events.push(`${e.namedCredential}:${e.code}`))
    expect(await codeOf(broker.fetch('callout:Api/x'))).toBe('NEEDS_REAUTH')
    expect(events).toEqual(['Api:NEEDS_REAUTH'])
    expect((await storedCredential(store)).status).toBe('needs-reauth')
    expect(tokens.requests).toBe(1)
    const error = await broker.fetch('callout:Api/x').catch((e: unknown) => e as CalloutError)
    expect(error).toBeInstanceOf(CalloutError)
    expect((error as CalloutError).code).toBe('NEEDS_REAUTH')
    expect((error as CalloutError).message).toContain('callout auth Api')
    expect(tokens.requests).toBe(1)
    const [report] = await broker.status('Api')
    expect(report?.principals[0]?.status).toBe('needs-reauth')
    expect(JSON.stringify(report)).not.toContain('refresh-0')
  })

  it('refreshes proactively at expiry using the injected clock', async () => {
    const clock = new ManualClock()
    tokens.expiresIn = 3_600
    const { broker } = await setup({ clock })
    await (await broker.fetch('callout:Api/x')).arrayBuffer()
    expect(tokens.requests).toBe(1)
    clock.advance(3_000_000)
    await (await broker.fetch('callout:Api/x')).arrayBuffer()
    expect(tokens.requests).toBe(1)
    clock.advance(560_000) // 40 s before expiry: inside the refresh margin
    const before = upstream.seen.length
    await (await broker.fetch('callout:Api/x')).arrayBuffer()
    expect(tokens.requests).toBe(2)
    expect(upstream.seen.length - before).toBe(1) // no 401 round trip
  })

  it('cools down after a failing token endpoint', async () => {
    const { broker, store } = await setup()
    tokens.failStatus = 503
    expect(await codeOf(broker.fetch('callout:Api/x'))).toMatch(/TOKEN_ENDPOINT_ERROR|OAUTH_ERROR/)
    expect(await codeOf(broker.fetch('callout:Api/x'))).toBe('REFRESH_COOLDOWN')
    expect(tokens.requests).toBe(1)
    expect((await storedCredential(store)).status).toBe('error')
  })

  it('says NOT_AUTHENTICATED for a browser credential never authenticated', async () => {
    const { broker } = await setup({ ec: { flow: 'browser' } })
    expect(await codeOf(broker.fetch('callout:Api/x'))).toBe('NOT_AUTHENTICATED')
    expect(tokens.requests).toBe(0)
  })

  it('requires a user for a per-user principal', async () => {
    const { broker } = await setup({
      ec: { principals: [principal({ type: 'per-user', name: 'PerUser' })] },
    })
    expect(await codeOf(broker.fetch('callout:Api/x'))).toBe('USER_REQUIRED')
    const res = await broker.fetch('callout:Api/x', { user: 'alice' })
    expect(res.status).toBe(200)
  })
})

describe('upstream failures', () => {
  it('translates a timeout to UPSTREAM_TIMEOUT', async () => {
    const { broker } = await setup({ nc: { timeoutMs: 100 } })
    // Never answers (however late the 100 ms timer fires on a loaded machine); lets go when the
    // broker gives up.
    upstream.routes.set('/api/slow', (req, res) => {
      req.once('close', () => res.destroy())
    })
    const error = (await broker.fetch('callout:Api/slow').catch((e: unknown) => e)) as CalloutError
    expect(error.code).toBe('UPSTREAM_TIMEOUT')
    expect(error.status).toBe(504)
    expect(error.cause).toBeDefined()
  })

  it('translates connection refused to UPSTREAM_UNREACHABLE', async () => {
    const { broker } = await setup({ nc: { url: 'http://127.0.0.1:1/api' } })
    const error = (await broker.fetch('callout:Api/x').catch((e: unknown) => e)) as CalloutError
    expect(error.code).toBe('UPSTREAM_UNREACHABLE')
    expect(error.details.cause).toBe('ECONNREFUSED')
  })

  it("rethrows the caller's abort reason", async () => {
    const { broker } = await setup()
    upstream.routes.set('/api/hang', () => {})
    const controller = new AbortController()
    const p = broker.fetch('callout:Api/hang', { signal: controller.signal })
    setTimeout(() => controller.abort(new Error('caller gave up')), 50)
    await expect(p).rejects.toThrow('caller gave up')
  })
})

describe('merge fields and formula headers', () => {
  it('evaluates caller merge fields only when allowed, and rejects CR/LF as HEADER_INJECTION', async () => {
    const p = principal({ parameters: { tenant: 'acme', evil: 'x\r\nSet-Cookie: y' } })
    const { broker } = await setup({
      ec: { protocol: 'custom', principals: [p] },
      nc: { allowMergeFieldsInHeader: true },
    })
    upstream.routes.set('/api/echo', (req, res) => {
      res.writeHead(200)
      res.end(String(req.headers['x-tenant']))
    })
    const res = await broker.fetch('callout:Api/echo', {
      headers: { 'X-Tenant': '{!$Credential.Api.tenant}' },
    })
    expect(await res.text()).toBe('acme')
    expect(
      await codeOf(
        broker.fetch('callout:Api/echo', { headers: { 'X-Tenant': '{!$Credential.Api.evil}' } }),
      ),
    ).toBe('HEADER_INJECTION')
    expect(upstream.seen).toHaveLength(1)
  })

  it('leaves merge fields literal when the Named Credential does not allow them', async () => {
    const p = principal({ parameters: { tenant: 'acme' } })
    const { broker } = await setup({ ec: { protocol: 'custom', principals: [p] } })
    upstream.routes.set('/api/echo', (req, res) => {
      res.writeHead(200)
      res.end(String(req.headers['x-tenant']))
    })
    const res = await broker.fetch('callout:Api/echo', {
      headers: { 'X-Tenant': '{!$Credential.Api.tenant}' },
    })
    expect(await res.text()).toBe('{!$Credential.Api.tenant}')
  })

  it('sends formula headers and basic auth', async () => {
    const p = principal({
      parameters: { username: 'u', key: 'k-1' },
      secrets: { password: new Secret('p') },
    })
    const { broker } = await setup({
      ec: {
        protocol: 'basic',
        principals: [p],
        authHeaders: [{ name: 'X-Api-Key', formula: '$Credential.Api.key', sequence: 1 }],
      },
    })
    upstream.routes.set('/api/h', (req, res) => {
      res.writeHead(200)
      res.end(`${req.headers.authorization}|${req.headers['x-api-key']}`)
    })
    const res = await broker.fetch('callout:Api/h')
    expect(await res.text()).toBe(`Basic ${Buffer.from('u:p').toString('base64')}|k-1`)
  })

  it('skips the Authorization header when generateAuthorizationHeader is false', async () => {
    const { broker } = await setup({ nc: { generateAuthorizationHeader: false } })
    upstream.routes.set('/api/h', (req, res) => {
      res.writeHead(200)
      res.end(String(req.headers.authorization))
    })
    expect(await (await broker.fetch('callout:Api/h')).text()).toBe('undefined')
  })
})

describe('the fast path: resolved targets and tokens cached per call', () => {
  it('a callout after apply or reload resolves against the new definitions', async () => {
    const { broker, store } = await setup()
    await (await broker.request('callout:Api/x')).body.dump()
    expect(upstream.seen.map((r) => r.url)).toEqual(['/api/x'])
    const defs = await store.loadDefinitions()
    const moved = namedCredential({ url: `${other.origin}/v2` })
    await broker.apply({ ...defs, namedCredentials: new Map([['Api', moved]]) })
    await (await broker.request('callout:Api/x')).body.dump()
    expect(other.seen.map((r) => r.url)).toEqual(['/v2/x'])
    // Another process changed the store; reload() picks it up the same way.
    await store.putNamedCredential(namedCredential({ url: `${other.origin}/v3` }))
    await (await broker.request('callout:Api/x')).body.dump()
    expect(other.seen.map((r) => r.url)).toEqual(['/v2/x', '/v2/x'])
    await broker.reload()
    await (await broker.request('callout:Api/x')).body.dump()
    expect(other.seen.map((r) => r.url)).toEqual(['/v2/x', '/v2/x', '/v3/x'])
    // A credential disabled by a reload fails at once, even for an input resolved before.
    await store.putNamedCredential(namedCredential({ url: `${other.origin}/v3`, enabled: false }))
    await broker.reload()
    expect(await codeOf(broker.request('callout:Api/x'))).toBe('CREDENTIAL_DISABLED')
  })

  it("keys cached targets and tokens by user: each user's calls carry their own token", async () => {
    const { broker } = await setup({
      ec: { principals: [principal({ type: 'per-user', name: 'PerUser' })] },
      nc: { url: `${other.origin}/api` },
    })
    for (const user of ['alice', 'bob', 'alice', 'bob']) {
      await (await broker.request('callout:Api/me', { user })).body.dump()
    }
    expect(await codeOf(broker.request('callout:Api/me'))).toBe('USER_REQUIRED')
    const [alice1, bob1, alice2, bob2] = other.seen.map((r) => r.authorization)
    expect(tokens.requests).toBe(2)
    expect(alice1).toMatch(/^Bearer /)
    expect(alice2).toBe(alice1)
    expect(bob2).toBe(bob1)
    expect(bob1).not.toBe(alice1)
  })

  it('never sends a cached token past its refresh time (injected clock, broker.request)', async () => {
    const clock = new ManualClock()
    tokens.expiresIn = 100 // a 100 s token: refreshed 10 s (10%) before expiry
    const { broker } = await setup({ clock })
    await (await broker.request('callout:Api/x')).body.dump()
    const first = upstream.seen[0]?.authorization
    clock.advance(89_999)
    await (await broker.request('callout:Api/x')).body.dump()
    expect(upstream.seen[1]?.authorization).toBe(first)
    expect(tokens.requests).toBe(1)
    clock.advance(1) // exactly at the refresh time
    await (await broker.request('callout:Api/x')).body.dump()
    expect(tokens.requests).toBe(2)
    expect(upstream.seen[2]?.authorization).not.toBe(first)
    expect(upstream.seen.map((r) => r.url)).toEqual(['/api/x', '/api/x', '/api/x']) // no 401 retry
    clock.advance(200_000) // long past the second token's expiry
    await (await broker.request('callout:Api/x')).body.dump()
    expect(tokens.requests).toBe(3)
    expect(upstream.seen[3]?.authorization).not.toBe(upstream.seen[2]?.authorization)
  })

  it('still validates caller input on every call (no cache for malformed input or headers)', async () => {
    const { broker } = await setup()
    for (let i = 0; i < 2; i++) {
      expect(await codeOf(broker.request('callout:Api/../admin'))).toBe('CALLOUT_URL_MALFORMED')
      expect(await codeOf(broker.request('callout:Api/x', { headers: { 'x-a': 'b\r\nc' } }))).toBe(
        'HEADER_INJECTION',
      )
      expect(await codeOf(broker.request('https://example.com/'))).toBe('CALLOUT_URL_MALFORMED')
    }
    expect(upstream.seen).toEqual([])
    const res = await broker.request('callout:Api/x', {
      method: 'post',
      headers: { authorization: 'Bearer mine', 'content-type': 'application/json' },
      body: new Blob(['{"a":1}']),
    })
    await res.body.dump()
    expect(upstream.seen[0]?.method).toBe('POST')
    expect(upstream.seen[0]?.body).toBe('{"a":1}')
    expect(upstream.seen[0]?.authorization).not.toBe('Bearer mine')
  })
})
