/**
 * A credential port's fast path (keys cached): GETs the port passes on untouched are answered on
 * it, and the upstream never sees the placeholder or the client key (headers or query); a key whose
 * rules forbid the method or path is refused as on the full path; a redirect the pipeline follows
 * is handed to the full path with the answer (each hop sent once), and any other answer with a
 * `Location` is answered on the fast path with the `Location` rewritten as the full path does
 * (sent once); paths the port rewrites never
 * take it; and through the Salesforce emulator, an expired session (401 INVALID_SESSION_ID) is
 * refreshed once and the org sees the request twice. Each test checks which path answered through
 * `callout_proxy_fast_path_total`.
 */
import type { FastifyInstance } from 'fastify'
import { request } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { fastPathCount, listenCredentialPort, startRig, type ProxyRig } from './helpers.ts'
import { startSalesforceRig, type SalesforceRig } from './salesforce-rig.ts'

const PLACEHOLDER_ORG = '00D000000000000'

describe('a credential port on a plain upstream, keys cached', () => {
  let rig: ProxyRig
  let port: FastifyInstance
  let portOrigin = ''
  let key = ''

  async function get(
    path: string,
    headers: Record<string, string>,
    method = 'GET',
  ): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
    const res = await request(`${portOrigin}${path}`, { method: method as 'GET', headers })
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
  }

  beforeAll(async () => {
    rig = await startRig({ keyCacheMs: 60_000 })
    key = await rig.key(['Api'])
    ;({ app: port, origin: portOrigin } = await listenCredentialPort(rig.server, 'Api'))
  })

  afterAll(async () => {
    await port?.close()
    await rig?.close()
  })

  beforeEach(async () => {
    // The key verified and the token obtained: what the fast path needs.
    expect((await get('/echo', { authorization: `Bearer ${key}` })).status).toBe(200)
    rig.upstream.seen = []
  })

  it.each([
    ['the placeholder in Authorization', { authorization: `Bearer ${PLACEHOLDER_ORG}!KEY` }],
    ['the key in Authorization', { authorization: 'Bearer KEY' }],
    ['the key in Proxy-Authorization', { 'proxy-authorization': 'Bearer KEY' }],
    ['the placeholder as OAuth', { authorization: `OAuth ${PLACEHOLDER_ORG}!KEY` }],
  ])(
    '%s: answered on the fast path, the upstream sees the real token and never the key',
    async (_how, template) => {
      const headers = Object.fromEntries(
        Object.entries(template).map(([name, value]) => [name, value.replace('KEY', key)]),
      )
      const before = await fastPathCount(rig.origin)
      const placeholder = encodeURIComponent(`${PLACEHOLDER_ORG}!${key}`)
      const res = await get(`/echo?a=1&oauth_token=${placeholder}&q=a+b%20c`, headers)
      expect(res.status).toBe(200)
      expect(await fastPathCount(rig.origin)).toBe(before + 1)
      expect(rig.upstream.seen).toHaveLength(1)
      const seen = rig.upstream.seen[0]!
      expect(seen.url).toBe('/api/echo?a=1&q=a+b%20c')
      expect(seen.headers.authorization).toBe(`Bearer ${rig.tokens.current}`)
      expect(seen.headers['proxy-authorization']).toBeUndefined()
      expect(JSON.stringify(seen)).not.toContain(key)
      expect(JSON.stringify(seen)).not.toContain(PLACEHOLDER_ORG)
      expect(res.text).not.toContain(key)
    },
  )

  it.each([
    ['a path its rules do not allow', 'GET', '/secret'],
    ['a method its rules do not allow', 'OPTIONS', '/items/1'],
  ])('a key refused %s: 403 ACCESS_DENIED, nothing sent upstream', async (_what, method, path) => {
    const narrow = await rig.key(['Api:GET|HEAD:/items/*'])
    const allowed = await get('/items/1', { authorization: `Bearer ${PLACEHOLDER_ORG}!${narrow}` })
    expect(allowed.status).toBe(200)
    const before = await fastPathCount(rig.origin)
    const again = await get('/items/2', { authorization: `Bearer ${PLACEHOLDER_ORG}!${narrow}` })
    expect(again.status).toBe(200)
    // The narrow key is cached now: its allowed request took the fast path.
    expect(await fastPathCount(rig.origin)).toBe(before + 1)
    rig.upstream.seen = []
    const res = await get(path, { authorization: `Bearer ${PLACEHOLDER_ORG}!${narrow}` }, method)
    expect(res.status).toBe(403)
    expect(JSON.parse(res.text).error.code).toBe('ACCESS_DENIED')
    expect(rig.upstream.seen).toEqual([])
    expect(await fastPathCount(rig.origin)).toBe(before + 1)
  })

  it('an answer with a Location: rewritten to the port on the fast path, sent once', async () => {
    const before = await fastPathCount(rig.origin)
    const res = await get('/created', { authorization: `Bearer ${key}` })
    expect(res.status).toBe(201)
    expect(res.headers.location).toBe(`${portOrigin}/items/42`)
    expect(JSON.parse(res.text)).toEqual({ id: '42' })
    expect(await fastPathCount(rig.origin)).toBe(before + 1)
    expect(rig.upstream.seen.map((s) => s.url)).toEqual(['/api/created'])
  })

  it('a redirect not followed: its Location passed on untouched, never followed, sent once', async () => {
    const before = await fastPathCount(rig.origin)
    const res = await get('/redirect-off?to=http://127.0.0.1:9', { authorization: `Bearer ${key}` })
    expect(res.status).toBe(302)
    expect(res.headers.location).toBe('http://127.0.0.1:9/steal')
    expect(await fastPathCount(rig.origin)).toBe(before + 1)
    expect(rig.upstream.seen.map((s) => s.url)).toEqual(['/api/redirect-off?to=http://127.0.0.1:9'])
  })

  it('a redirect the pipeline follows: handed over with the answer, each hop sent once', async () => {
    const before = await fastPathCount(rig.origin)
    const res = await get('/moved', { authorization: `Bearer ${key}` })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.text)).toMatchObject({ url: '/api/echo?moved=1' })
    expect(rig.upstream.seen.map((s) => s.url)).toEqual(['/api/moved', '/api/echo?moved=1'])
    expect(await fastPathCount(rig.origin)).toBe(before)
  })

  it.each([
    ['/services/data/v61.0', 'the versioned root (its identity URL rewritten)'],
    ['/id/00D/005', 'an identity URL'],
    ['/services/oauth2/userinfo', 'userinfo'],
  ])('%s (%s) never takes the fast path', async (path) => {
    const before = await fastPathCount(rig.origin)
    const res = await get(path, { authorization: `Bearer ${key}` })
    expect(res.status).toBe(200)
    expect(await fastPathCount(rig.origin)).toBe(before)
  })

  it('the versioned root is rewritten to the port with keys cached', async () => {
    const res = await get('/services/data/v61.0', { authorization: `Bearer ${key}` })
    expect(JSON.parse(res.text).identity).toBe(`${portOrigin}/id/00D/005`)
  })
})

describe('a Salesforce credential port, keys cached', () => {
  const PATH = '/services/data/v61.0/limits'
  let rig: SalesforceRig

  beforeAll(async () => {
    rig = await startSalesforceRig('port-fast@target.example', {}, { keyCacheMs: 60_000 })
  })
  afterAll(async () => rig?.close())

  async function limits(): Promise<number> {
    const res = await request(`${rig.portOrigin}${PATH}`, {
      headers: { authorization: `Bearer ${PLACEHOLDER_ORG}!${rig.key}` },
    })
    await res.body.dump()
    return res.statusCode
  }

  it('an expired session (401 INVALID_SESSION_ID): one token request, the org sees the call twice', async () => {
    expect(await limits()).toBe(200)
    const warm = await rig.fastCount()
    expect(await limits()).toBe(200)
    expect(await rig.fastCount()).toBe(warm + 1)
    const tokens = rig.emulator.requestLog.tokenRequests()
    const calls = rig.emulator.requestLog.count({ path: PATH })
    const rejected = rig.emulator.requestLog.count({ path: PATH, status: 401 })
    rig.emulator.faults.expireSessions()
    expect(await limits()).toBe(200)
    expect(rig.emulator.requestLog.tokenRequests()).toBe(tokens + 1)
    expect(rig.emulator.requestLog.count({ path: PATH })).toBe(calls + 2)
    expect(rig.emulator.requestLog.count({ path: PATH, status: 401 })).toBe(rejected + 1)
    // Handed to the full path, which answered it.
    expect(await rig.fastCount()).toBe(warm + 1)
  })
})
