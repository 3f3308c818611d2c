import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/callout/broker.ts'
import { openBroker } from '../src/callout/open-broker.ts'
import type { AuthProvider, NamedCredential } from '../src/definitions/model.ts'
import { CalloutError } from '../src/errors.ts'
import {
  authProvider,
  definitions,
  externalCredential,
  namedCredential,
} from './helpers/callout-fixtures.ts'
import { TokenServer, Upstream } from './helpers/callout-servers.ts'
import { openMemoryStore } from './helpers/sqlite-memory-store.ts'

let tokens: TokenServer
let upstream: Upstream
let other: Upstream
const brokers: Broker[] = []

beforeAll(async () => {
  tokens = await new TokenServer().start()
  upstream = await new Upstream(tokens).start()
  other = await new Upstream(undefined).start()
  upstream.routes.set('/api/final', (req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        method: req.method,
        authorization: req.headers.authorization ?? null,
        body,
      }),
    )
  })
})
afterAll(async () => {
  await Promise.all([tokens.listening.close(), upstream.listening.close(), other.listening.close()])
})
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()))
  upstream.seen = []
  other.seen = []
  tokens.instanceUrl = undefined
})

function redirect(status: number, location: () => string) {
  return (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(status, { location: location() })
    res.end('redirecting')
  }
}

async function broker(
  nc: Partial<NamedCredential> = {},
  provider: Partial<AuthProvider> = {},
): Promise<Broker> {
  const store = await openMemoryStore({
    definitions: definitions({
      authProviders: [authProvider({ tokenUrl: tokens.tokenUrl, ...provider })],
      externalCredentials: [externalCredential()],
      namedCredentials: [namedCredential({ url: `${upstream.origin}/api`, ...nc })],
    }),
  })
  const b = await openBroker({ store })
  brokers.push(b)
  return b
}

describe('redirect policy', () => {
  it('follows a same-origin redirect with credentials', async () => {
    upstream.routes.set(
      '/api/same',
      redirect(302, () => '/api/final'),
    )
    const res = await (await broker()).fetch('callout:Api/same')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      method: 'GET',
      authorization: `Bearer ${tokens.current}`,
      body: '',
    })
  })

  it('returns a redirect to another origin untouched; the other origin receives nothing', async () => {
    upstream.routes.set(
      '/api/away',
      redirect(302, () => `${other.origin}/steal`),
    )
    const res = await (await broker()).fetch('callout:Api/away')
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe(`${other.origin}/steal`)
    expect(await res.text()).toBe('redirecting')
    expect(other.seen).toHaveLength(0)
  })

  it('returns a same-origin redirect outside the base path untouched; nothing is sent there', async () => {
    upstream.routes.set(
      '/api/out',
      redirect(302, () => '/admin/secret'),
    )
    upstream.routes.set(
      '/api/sibling',
      redirect(302, () => '/apix/secret'),
    )
    upstream.routes.set(
      '/api/tomcat',
      redirect(302, () => '/api/..;/admin/secret'),
    )
    const b = await broker()
    for (const [path, location] of [
      ['out', '/admin/secret'],
      ['sibling', '/apix/secret'],
      ['tomcat', '/api/..;/admin/secret'],
    ] as const) {
      const res = await b.fetch(`callout:Api/${path}`)
      expect(res.status).toBe(302)
      expect(res.headers.get('location')).toBe(location)
      await res.arrayBuffer()
    }
    expect(upstream.seen.map((s) => s.url)).toEqual(['/api/out', '/api/sibling', '/api/tomcat'])
  })

  it('follows a same-origin redirect outside the base path with allowRedirectsOutsideBasePath', async () => {
    upstream.routes.set(
      '/api/out',
      redirect(302, () => '/admin/secret'),
    )
    const res = await (
      await broker({ allowRedirectsOutsideBasePath: true })
    ).fetch('callout:Api/out')
    expect(res.status).toBe(200) // the upstream's default route answered /admin/secret
    await res.arrayBuffer()
    expect(upstream.seen.map((s) => [s.url, s.authorization])).toEqual([
      ['/api/out', `Bearer ${tokens.current}`],
      ['/admin/secret', `Bearer ${tokens.current}`],
    ])
  })

  it('matches a bare allowedHosts entry on the credential port only', async () => {
    upstream.routes.set(
      '/api/port',
      redirect(302, () => `${other.origin}/files`),
    )
    // the same host (127.0.0.1), another port: a bare host means the credential's port
    const res = await (await broker({ allowedHosts: ['127.0.0.1'] })).fetch('callout:Api/port')
    expect(res.status).toBe(302)
    await res.arrayBuffer()
    expect(other.seen).toHaveLength(0)
  })

  it("trusts a token's instance_url for redirects only from a Salesforce AuthProvider", async () => {
    tokens.instanceUrl = other.origin
    upstream.routes.set(
      '/api/instance',
      redirect(302, () => `${other.origin}/api/data`),
    )
    const plain = await (await broker()).fetch('callout:Api/instance')
    expect(plain.status).toBe(302)
    await plain.arrayBuffer()
    expect(other.seen).toHaveLength(0)

    const sf = await (await broker({}, { type: 'salesforce' })).fetch('callout:Api/instance')
    expect(sf.status).toBe(200)
    await sf.arrayBuffer()
    expect(other.seen.map((s) => [s.url, s.authorization])).toEqual([
      ['/api/data', `Bearer ${tokens.current}`],
    ])
  })

  it('trustedInstanceHosts limits where a Salesforce instance_url may take the token', async () => {
    tokens.instanceUrl = other.origin
    upstream.routes.set(
      '/api/instance',
      redirect(302, () => `${other.origin}/api/data`),
    )
    const redirected = await (
      await broker({}, { type: 'salesforce', trustedInstanceHosts: ['*.my.salesforce.com'] })
    ).fetch('callout:Api/instance')
    expect(redirected.status).toBe(302)
    await redirected.arrayBuffer()
    expect(other.seen).toHaveLength(0)

    // A Named Credential on the login host calls the instance_url origin: refused before sending.
    const loginHost = { url: upstream.origin }
    const login = { type: 'salesforce' as const, loginUrl: upstream.origin }
    const refused = await (
      await broker(loginHost, { ...login, trustedInstanceHosts: ['*.my.salesforce.com'] })
    )
      .fetch('callout:Api/services/data')
      .catch((e: unknown) => e)
    expect(refused).toMatchObject({
      code: 'INSTANCE_URL_UNTRUSTED',
      details: { instanceHost: new URL(other.origin).host },
    })
    expect(other.seen).toHaveLength(0)
    expect(upstream.seen).toHaveLength(1) // only the earlier redirect
    const allowed = await (
      await broker(loginHost, { ...login, trustedInstanceHosts: ['127.0.0.1'] })
    ).fetch('callout:Api/services/data')
    await allowed.arrayBuffer()
    expect(other.seen.map((s) => [s.url, s.authorization])).toEqual([
      ['/services/data', `Bearer ${tokens.current}`],
    ])
  })

  it('follows to an allowedHosts host with credentials', async () => {
    upstream.routes.set(
      '/api/allowed',
      redirect(302, () => `${other.origin}/files`),
    )
    const host = new URL(other.origin).host
    const res = await (await broker({ allowedHosts: [host] })).fetch('callout:Api/allowed')
    expect(res.status).toBe(200)
    expect(other.seen[0]?.authorization).toBe(`Bearer ${tokens.current}`)
  })

  it('keeps method and body on 307 POST', async () => {
    upstream.routes.set(
      '/api/temp',
      redirect(307, () => '/api/final'),
    )
    const res = await (
      await broker()
    ).fetch('callout:Api/temp', { method: 'POST', body: 'payload' })
    expect(await res.json()).toMatchObject({ method: 'POST', body: 'payload' })
  })

  it('turns 302 POST into GET without a body, and 303 into GET', async () => {
    upstream.routes.set(
      '/api/found',
      redirect(302, () => '/api/final'),
    )
    upstream.routes.set(
      '/api/see-other',
      redirect(303, () => '/api/final'),
    )
    const b = await broker()
    const found = await b.fetch('callout:Api/found', { method: 'POST', body: 'payload' })
    expect(await found.json()).toMatchObject({ method: 'GET', body: '' })
    const seeOther = await b.fetch('callout:Api/see-other', { method: 'PUT', body: 'payload' })
    expect(await seeOther.json()).toMatchObject({ method: 'GET', body: '' })
    const final = upstream.seen.filter((s) => s.url === '/api/final')
    expect(final.every((s) => s.headers['content-type'] === undefined)).toBe(true)
  })

  it('stops after 5 redirects with TOO_MANY_REDIRECTS', async () => {
    upstream.routes.set(
      '/api/loop',
      redirect(302, () => '/api/loop'),
    )
    const error = (await (
      await broker()
    )
      .fetch('callout:Api/loop')
      .catch((e: unknown) => e)) as CalloutError
    expect(error).toBeInstanceOf(CalloutError)
    expect(error.code).toBe('TOO_MANY_REDIRECTS')
    expect(upstream.seen).toHaveLength(6)
  })

  it('returns every redirect in manual mode', async () => {
    upstream.routes.set(
      '/api/same',
      redirect(302, () => '/api/final'),
    )
    const res = await (await broker({ redirects: 'manual' })).fetch('callout:Api/same')
    expect(res.status).toBe(302)
    expect(upstream.seen).toHaveLength(1)
  })
})
