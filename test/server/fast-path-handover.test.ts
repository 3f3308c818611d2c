/**
 * Answers the pipeline acts on, on the full path and on the fast path (keys cached): the upstream
 * sees each request once. A redirect the pipeline follows is continued from (the fast path hands
 * the redirect itself to the full path, which sends the next hop), one it does not follow is
 * returned as it came (with Callout's advice for a Salesforce login host), and a Salesforce 401
 * or 500 with a body over 64 KiB is decided on its first 64 KiB and passed on byte for byte
 * unless it rejects the token.
 */
import { request } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { listen, type Listening } from '../helpers/callout-servers.ts'
import { expectOneRefresh, patternBytes, startRig, type ProxyRig } from './helpers.ts'

const PATHS = [
  ['the full path', 0],
  ['the fast path', 60_000],
] as const

/** Requests the fast path answered so far. */
async function fastCount(rig: ProxyRig): Promise<number> {
  const text = await (await request(`${rig.origin}/metrics`)).body.text()
  return Number(/^callout_proxy_fast_path_total (\d+)$/m.exec(text)?.[1] ?? NaN)
}

async function call(
  rig: ProxyRig,
  key: string,
  path: string,
  method: 'GET' | 'HEAD' | 'OPTIONS' = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const res = await request(`${rig.origin}/callout/Api${path}`, {
    method,
    headers: { 'proxy-authorization': `Bearer ${key}` },
  })
  const body = Buffer.from(await res.body.arrayBuffer())
  return { status: res.statusCode, headers: res.headers, body }
}

describe.each(PATHS)('redirects on %s', (path, keyCacheMs) => {
  let rig: ProxyRig
  let key: string
  let other: Listening
  let otherHits = 0
  const fast = path === 'the fast path' ? 1 : 0

  beforeAll(async () => {
    rig = await startRig({ keyCacheMs })
    key = await rig.key(['Api'])
    other = await listen((_req, res) => {
      otherHits++
      res.end('not for the token')
    })
  })

  afterAll(async () => {
    await rig?.close()
    await other?.close()
  })

  beforeEach(async () => {
    // The key verified and the token cached: what the fast path needs.
    expect((await call(rig, key, '/warm')).status).toBe(200)
    rig.upstream.seen = []
  })

  /** What the upstream was sent since the warm-up. */
  const seen = (): string[] => rig.upstream.seen.map((s) => `${s.method} ${s.url}`)

  it('a followed redirect: the original GET reaches the upstream once, its target once', async () => {
    const before = await fastCount(rig)
    const res = await call(rig, key, '/chain?n=1&bytes=102400')
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body.toString())).toMatchObject({ url: '/api/chain?n=0&bytes=102400' })
    expect(seen()).toEqual(['GET /api/chain?n=1&bytes=102400', 'GET /api/chain?n=0&bytes=102400'])
    const [redirect, target] = rig.upstream.seen
    for (const s of [redirect!, target!]) {
      expect(s.headers.authorization).toBe(`Bearer ${rig.tokens.current}`)
    }
    // The full path answers the request the fast path handed over.
    expect(await fastCount(rig)).toBe(before)
  })

  it('a chain of 301s with 100 KiB bodies: each link once; HEAD stays HEAD', async () => {
    const res = await call(rig, key, '/chain?n=3&status=301&bytes=102400', 'HEAD')
    expect(res.status).toBe(200)
    expect(res.body.length).toBe(0)
    expect(seen()).toEqual([
      'HEAD /api/chain?n=3&status=301&bytes=102400',
      'HEAD /api/chain?n=2&status=301&bytes=102400',
      'HEAD /api/chain?n=1&status=301&bytes=102400',
      'HEAD /api/chain?n=0&status=301&bytes=102400',
    ])
    rig.upstream.seen = []
    const got = await call(rig, key, '/chain?n=2&status=302&bytes=102400')
    expect(got.status).toBe(200)
    expect(seen()).toEqual([
      'GET /api/chain?n=2&status=302&bytes=102400',
      'GET /api/chain?n=1&status=302&bytes=102400',
      'GET /api/chain?n=0&status=302&bytes=102400',
    ])
  })

  it('a 303 to an OPTIONS: the next hop is a GET, each sent once', async () => {
    const res = await call(rig, key, '/chain?n=1&status=303', 'OPTIONS')
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body.toString())).toMatchObject({ method: 'GET' })
    expect(seen()).toEqual(['OPTIONS /api/chain?n=1&status=303', 'GET /api/chain?n=0&status=303'])
  })

  it("a redirect whose body stalls is followed after the Named Credential's timeout, the GET sent once", async () => {
    const res = await call(rig, key, '/chain?n=1&stall=1')
    expect(res.status).toBe(200)
    expect(seen()).toEqual(['GET /api/chain?n=1&stall=1', 'GET /api/chain?n=0&stall=1'])
  })

  it('a redirect whose body never ends is followed after 128 KiB of it, the GET sent once', async () => {
    const res = await call(rig, key, '/chain?n=1&endless=1')
    expect(res.status).toBe(200)
    expect(seen()).toEqual(['GET /api/chain?n=1&endless=1', 'GET /api/chain?n=0&endless=1'])
  })

  it('a redirect to another origin is returned as it came: nothing sent there, the upstream hit once', async () => {
    const before = await fastCount(rig)
    const hits = otherHits
    const res = await call(rig, key, `/redirect-off?to=${other.origin}`)
    expect(res.status).toBe(302)
    expect(res.headers.location).toBe(`${other.origin}/steal`)
    expect(res.headers.via).toBe(`1.1 ${rig.server.pseudonym}`)
    expect(res.headers['callout-advice']).toBeUndefined()
    expect(otherHits).toBe(hits)
    expect(seen()).toEqual([`GET /api/redirect-off?to=${other.origin}`])
    // Not followed: the fast path answers it itself.
    expect(await fastCount(rig)).toBe(before + fast)
  })

  it('more than 5 redirects: TOO_MANY_REDIRECTS, each link sent once', async () => {
    const res = await call(rig, key, '/chain?n=6')
    expect(res.status).toBe(502)
    expect(JSON.parse(res.body.toString())).toMatchObject({ error: { code: 'TOO_MANY_REDIRECTS' } })
    expect(seen()).toEqual([6, 5, 4, 3, 2, 1].map((n) => `GET /api/chain?n=${n}`))
  })
})

describe.each(PATHS)('Salesforce on %s', (path, keyCacheMs) => {
  let rig: ProxyRig
  let key: string
  const fast = path === 'the fast path' ? 1 : 0

  beforeAll(async () => {
    // The Named Credential names the login host; the token's instance_url is where callouts go.
    rig = await startRig(
      { keyCacheMs },
      { provider: (upstream) => ({ type: 'salesforce', loginUrl: upstream }) },
    )
    rig.tokens.instanceUrl = rig.upstream.origin
    key = await rig.key(['Api'])
  })

  afterAll(async () => {
    await rig?.close()
  })

  beforeEach(async () => {
    expect((await call(rig, key, '/warm')).status).toBe(200)
    rig.upstream.seen = []
  })

  it('a 500 with a 200 KiB body reaches the client byte for byte, the upstream hit once', async () => {
    const before = await fastCount(rig)
    const tokenRequests = rig.tokens.requests
    const res = await call(rig, key, '/large?status=500&bytes=204800')
    expect(res.status).toBe(500)
    expect(res.body.equals(patternBytes(204_800))).toBe(true)
    expect(res.headers['callout-advice']).toBeUndefined()
    expect(rig.upstream.seen).toHaveLength(1)
    expect(rig.tokens.requests).toBe(tokenRequests)
    expect(await fastCount(rig)).toBe(before + fast)
  })

  it('a 401 with a 200 KiB body rejects the token: one refresh, the upstream sees the request twice', async () => {
    const tokenRequests = rig.tokens.requests
    rig.tokens.current = 'rotated-elsewhere'
    const res = await call(rig, key, '/echo?large401=204800')
    expect(res.status).toBe(200)
    expectOneRefresh(rig, tokenRequests)
  })

  it('a redirect off the instance is not followed and comes with the advice, the upstream hit once', async () => {
    const before = await fastCount(rig)
    const res = await call(rig, key, '/redirect-off?to=http://127.0.0.1:9')
    expect(res.status).toBe(302)
    expect(res.headers.location).toBe('http://127.0.0.1:9/steal')
    expect(String(res.headers['callout-advice'])).toMatch(/Api points at a Salesforce login/)
    expect(rig.upstream.seen).toHaveLength(1)
    expect(await fastCount(rig)).toBe(before + fast)
  })
})
