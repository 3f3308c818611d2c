/**
 * A credential port keeps its clients on the port: a `Location` on the upstream (absolute, or a
 * path under the Named Credential's base path) is rewritten to the port's origin, off-origin
 * Locations are passed on untouched and never followed, the URLs SDKs follow in small JSON answers
 * (the versioned root's `identity`) point at the port, and a placeholder token in the query never
 * reaches the upstream. Every test runs without and with keys cached (then the port answers GETs
 * on its fast path, rewriting a `Location` there as the full path does).
 */
import type { FastifyInstance } from 'fastify'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fastPathCount, listenCredentialPort, startRig, type ProxyRig } from './helpers.ts'

let rig: ProxyRig
let port: FastifyInstance
let portOrigin = ''
let key = ''

/** Every test on the full path (each key read again), then with keys cached (the fast path). */
describe.each([
  ['the full path', 0],
  ['the fast path', 60_000],
] as const)('%s', (_path, keyCacheMs) => {
  /** What API mode's fast path answered here (not the port's). */
  let apiModeFast = 0

  beforeAll(async () => {
    rig = await startRig({ keyCacheMs })
    key = await rig.key(['Api'])
    ;({ app: port, origin: portOrigin } = await listenCredentialPort(rig.server, 'Api'))
  })

  afterAll(async () => {
    await port?.close()
    await rig?.close()
  })

  async function get(path: string, headers: Record<string, string> = {}) {
    const res = await request(`${portOrigin}${path}`, {
      headers: { authorization: `Bearer 00D000000000000!${key}`, ...headers },
    })
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
  }

  describe('Location on a credential port', () => {
    it('an absolute Location on the upstream becomes the port, and the client can follow it', async () => {
      const created = await get('/created')
      expect(created.status).toBe(201)
      expect(created.headers.location).toBe(`${portOrigin}/items/42`)
      const followed = await request(created.headers.location as string, {
        headers: { authorization: `Bearer ${key}` },
      })
      expect(followed.statusCode).toBe(200)
      expect(((await followed.body.json()) as { url: string }).url).toBe('/api/items/42')
    })

    it('a path-absolute Location under the base path loses the base path', async () => {
      const created = await get('/created?relative=1')
      expect(created.headers.location).toBe(`${portOrigin}/items/42`)
    })

    it('an off-origin Location is passed on untouched and never followed', async () => {
      const before = rig.upstream.seen.length
      const to = 'http://127.0.0.1:9'
      const res = await get(`/redirect-off?to=${encodeURIComponent(to)}`)
      expect(res.status).toBe(302)
      expect(res.headers.location).toBe(`${to}/steal`)
      const url = `/api/redirect-off?to=${encodeURIComponent(to)}`
      expect(rig.upstream.seen.slice(before).map((s) => s.url)).toEqual([url])
    })

    it('API mode is unchanged: its Location still names the upstream', async () => {
      const before = await fastPathCount(rig.origin)
      const res = await request(`${rig.origin}/callout/Api/created`, {
        headers: { 'proxy-authorization': `Bearer ${key}` },
      })
      await res.body.dump()
      expect(res.headers.location).toBe(`${rig.upstream.origin}/api/items/42`)
      apiModeFast = (await fastPathCount(rig.origin)) - before
    })
  })

  describe('URLs in JSON answers SDKs follow', () => {
    it.each([
      ['plain', ''],
      ['gzip', '?gzip=1'],
    ])(
      'the versioned root (%s): identity on the upstream → the port; other URLs untouched',
      async (_kind, query) => {
        const res = await get(`/services/data/v61.0${query}`, { 'accept-encoding': 'gzip' })
        expect(res.status).toBe(200)
        expect(res.headers['content-encoding']).toBeUndefined()
        expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text))
        expect(JSON.parse(res.text)).toEqual({
          identity: `${portOrigin}/id/00D/005`,
          sobjects: '/services/data/v61.0/sobjects',
          outsideBasePath: `${rig.upstream.origin}/elsewhere`,
          otherOrigin: 'https://example.com/api/id/00D/005',
        })
      },
    )

    it('other answers stream through untouched', async () => {
      const res = await get('/echo?x=1')
      expect(JSON.parse(res.text).url).toBe('/api/echo?x=1')
    })
  })

  describe('the placeholder token in a query', () => {
    it('never reaches the upstream; other parameters keep their spelling', async () => {
      const placeholder = encodeURIComponent(`00D000000000000!${key}`)
      const res = await get(`/id/00D/005?format=json&oauth_token=${placeholder}&q=a+b%20c`)
      expect(res.status).toBe(200)
      const seen = rig.upstream.seen.at(-1)!
      expect(seen.url).toBe('/api/id/00D/005?format=json&q=a+b%20c')
      expect(JSON.stringify(seen)).not.toContain(key)
    })
  })

  it('the port answered GETs on the fast path with keys cached, and none without', async () => {
    const count = (await fastPathCount(rig.origin)) - apiModeFast
    if (keyCacheMs === 0) expect(count).toBe(0)
    else expect(count).toBeGreaterThan(0)
  })
})
