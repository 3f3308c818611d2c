/**
 * End to end: `client-credentials` against a real authorization server (oidc-provider 9) and an
 * upstream that verifies every bearer token by RFC 7662 introspection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../../src/index.ts'
import { startOidcServer, type OidcTestServer } from '../helpers/oidc-server.ts'
import {
  bearerOf,
  listen,
  makeHome,
  openTestBroker,
  readBody,
  readCredential,
  sendJson,
  type Listening,
  type TestHome,
} from './helpers/e2e.ts'

const CLIENT_ID = 'svc'
const CLIENT_SECRET = 'svc-secret-9f2c1e7a'
const KEY = { externalCredential: 'ApiAuth', principal: 'Service', userId: '' }

let idp: OidcTestServer
let upstream: Listening
let home: TestHome
let broker: Broker
/** Every bearer token the upstream saw, in order. */
const seen: string[] = []
/** Tokens the upstream refuses even though they are active (simulates upstream revocation). */
const refused = new Set<string>()
let refuseAll = false

async function introspect(token: string): Promise<{ active: boolean; client_id?: string }> {
  const res = await fetch(idp.introspectUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }),
  })
  return (await res.json()) as { active: boolean; client_id?: string }
}

beforeAll(async () => {
  idp = await startOidcServer({
    clients: [
      { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, grantTypes: ['client_credentials'] },
    ],
  })
  upstream = await listen((req, res) => {
    void (async () => {
      await readBody(req)
      const token = bearerOf(req)
      if (token === undefined) return sendJson(res, 401, { error: 'no bearer token' })
      seen.push(token)
      if (refuseAll || refused.has(token)) return sendJson(res, 401, { error: 'token refused' })
      const info = await introspect(token)
      if (!info.active || info.client_id !== CLIENT_ID)
        return sendJson(res, 401, { error: 'inactive' })
      sendJson(res, 200, { ok: true, path: req.url, client: info.client_id })
    })()
  })
  home = await makeHome({ IDP_SECRET: CLIENT_SECRET })
  broker = await openTestBroker(home, {
    authProviders: {
      Idp: {
        type: 'oidc',
        issuer: idp.issuer,
        consumerKey: CLIENT_ID,
        consumerSecret: '${env:IDP_SECRET}',
        clientAuth: 'client_secret_basic',
      },
    },
    externalCredentials: {
      ApiAuth: {
        protocol: 'oauth2',
        flow: 'client-credentials',
        authProvider: 'Idp',
        principals: { Service: { type: 'named' } },
      },
    },
    namedCredentials: { Api: { url: `${upstream.origin}/v1`, externalCredential: 'ApiAuth' } },
  })
})

afterAll(async () => {
  await broker?.close()
  await Promise.all([idp?.close(), upstream?.close()])
  await home?.cleanup()
})

describe('oidc client-credentials end to end', () => {
  it('mints on the first callout, and the upstream verifies the token by introspection', async () => {
    const [before] = await broker.status('Api')
    expect(before?.principals[0]?.status).toBe('not-configured')

    const res = await broker.fetch('callout:Api/items?limit=2')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, path: '/v1/items?limit=2', client: CLIENT_ID })
    expect(idp.tokenRequests).toBe(1)
    expect(seen).toHaveLength(1)
    expect((await introspect(seen[0]!)).active).toBe(true)

    const [report] = await broker.status('Api')
    expect(report?.protocol).toBe('oauth2')
    expect(report?.flow).toBe('client-credentials')
    expect(report?.principals[0]?.status).toBe('authenticated')
    expect(report?.principals[0]?.summary).toMatch(/^Authenticated/)
    expect(report?.principals[0]?.expiresAt).toBeGreaterThan(Date.now())
    expect(JSON.stringify(report)).not.toContain(seen[0]!)

    const stored = await readCredential(home, KEY)
    expect(stored?.status).toBe('authenticated')
    expect(stored?.accessToken?.reveal()).toBe(seen[0])
  })

  it('reuses the cached token on the next calls (no new token request)', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await broker.fetch(`callout:Api/again/${i}`)
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }
    const { statusCode, body } = await broker.request('callout:Api/fast', { method: 'GET' })
    expect(statusCode).toBe(200)
    expect(await body.json()).toEqual({ ok: true, path: '/v1/fast', client: CLIENT_ID })
    expect(idp.tokenRequests).toBe(1)
    expect(new Set(seen).size).toBe(1)
  })

  it('an upstream 401 re-mints exactly once and retries exactly once', async () => {
    const old = seen.at(-1)!
    refused.add(old)
    const upstreamBefore = seen.length
    const res = await broker.fetch('callout:Api/after-401', {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect(idp.tokenRequests).toBe(2)
    expect(seen.length - upstreamBefore).toBe(2)
    const fresh = seen.at(-1)!
    expect(fresh).not.toBe(old)
    expect(seen.at(-2)).toBe(old)
    const stored = await readCredential(home, KEY)
    expect(stored?.accessToken?.reveal()).toBe(fresh)
  })

  it('a second 401 after the retry is returned as is: one re-mint, one retry, no loop', async () => {
    refuseAll = true
    try {
      const upstreamBefore = seen.length
      const tokenBefore = idp.tokenRequests
      const res = await broker.fetch('callout:Api/always-401')
      expect(res.status).toBe(401)
      expect(await res.json()).toEqual({ error: 'token refused' })
      expect(idp.tokenRequests - tokenBefore).toBe(1)
      expect(seen.length - upstreamBefore).toBe(2)
    } finally {
      refuseAll = false
    }
  })
})
