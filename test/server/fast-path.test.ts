/**
 * The proxy's fast path (requests without a body, a recently verified key and a cached token go
 * through undici's dispatch straight to the raw response) answers exactly as the full path does:
 * hop-by-hop headers, Via, the upstream's own advice header, a rejected token refreshed once,
 * redirects (more in fast-path-handover.test.ts), timeouts, resets and clients that go away. Each test checks which path answered
 * through `callout_proxy_fast_path_total`.
 */
import { request } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { expectOneRefresh, rawRequest, startRig, type ProxyRig } from './helpers.ts'

let rig: ProxyRig
let key: string

/** Requests the fast path answered so far (of the proxy at `origin`). */
async function fastCount(origin = rig.origin): Promise<number> {
  const text = await (await request(`${origin}/metrics`)).body.text()
  return Number(/^callout_proxy_fast_path_total (\d+)$/m.exec(text)?.[1] ?? NaN)
}

async function get(
  path: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'HEAD' = 'GET',
  credential = 'Api',
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const res = await request(`${rig.origin}/callout/${credential}${path}`, {
    method,
    headers: { 'proxy-authorization': `Bearer ${key}`, ...headers },
  })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

beforeAll(async () => {
  rig = await startRig({ keyCacheMs: 60_000, totalTimeoutMs: 1_500 })
  key = await rig.key(['Api', 'Other'])
})

afterAll(async () => {
  await rig?.close()
})

beforeEach(async () => {
  // The key verified and the token cached: what the fast path needs.
  expect((await get('/warm')).status).toBe(200)
  rig.upstream.seen = []
})

describe('the fast path', () => {
  it('forwards a GET with the real token, Via, and no client credential or hop-by-hop header', async () => {
    const before = await fastCount()
    const raw = await rawRequest(
      rig.origin,
      `GET /callout/Api/echo?q=1 HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer ${key}\r\n` +
        'Connection: close, x-client-hop\r\nX-Client-Hop: must-not-pass\r\nTE: trailers\r\nX-Kept: 1\r\n\r\n',
    )
    expect(raw.status).toBe(200)
    expect(await fastCount()).toBe(before + 1)
    const seen = rig.upstream.seen.at(-1)!
    expect(seen.url).toBe('/api/echo?q=1')
    expect(seen.headers.authorization).toBe(`Bearer ${rig.tokens.current}`)
    expect(seen.headers['proxy-authorization']).toBeUndefined()
    expect(seen.headers['x-client-hop']).toBeUndefined()
    expect(seen.headers.te).toBeUndefined()
    expect(seen.headers['x-kept']).toBe('1')
    expect(String(seen.headers.via)).toBe(`1.1 ${rig.server.pseudonym}`)
    expect(raw.head).toMatch(/^set-cookie: a=1\r$/m)
    expect(raw.head).toMatch(/^set-cookie: b=2\r$/m)
  })

  it("drops the answer's hop-by-hop headers and the upstream's own callout-advice, and adds Via", async () => {
    const before = await fastCount()
    const hop = await get('/hop')
    expect(hop.status).toBe(200)
    expect(hop.headers['x-upstream-hop']).toBeUndefined()
    expect(hop.headers['proxy-authenticate']).toBeUndefined()
    expect(hop.headers['x-kept']).toBe('yes')
    expect(hop.headers.via).toBe(`1.1 ${rig.server.pseudonym}`)
    const forged = await get('/forged-advice')
    expect(forged.status).toBe(200)
    expect(forged.headers['callout-advice']).toBeUndefined()
    expect(await fastCount()).toBe(before + 2)
  })

  it('passes header bytes that are not ASCII through unchanged, on the fast and the full path', async () => {
    const raw = async (method: string): Promise<Buffer> => {
      const { port } = new URL(rig.origin)
      const net = await import('node:net')
      return new Promise((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1')
        const chunks: Buffer[] = []
        socket.on('data', (c: Buffer) => chunks.push(c))
        socket.on('error', reject)
        socket.on('close', () => resolve(Buffer.concat(chunks)))
        // Not `end()`: the server drops a request whose client half-closed before the answer.
        socket.write(
          `${method} /callout/Api/non-ascii HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer ${key}\r\n` +
            `Connection: close\r\n${method === 'POST' ? 'Content-Length: 1\r\n\r\nx' : '\r\n'}`,
        )
      })
    }
    const before = await fastCount()
    const fast = await raw('GET')
    expect(await fastCount()).toBe(before + 1)
    const full = await raw('POST')
    expect(await fastCount()).toBe(before + 1)
    for (const answer of [fast, full]) {
      expect(answer.includes(Buffer.concat([Buffer.from('x-utf8: caf'), Buffer.from('é')]))).toBe(
        true,
      )
      expect(answer.includes(Buffer.from([...Buffer.from('x-latin1: caf'), 0xe9, 0x0d]))).toBe(true)
    }
  })

  it('answers HEAD without a body', async () => {
    const before = await fastCount()
    const head = await get('/echo', {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.text).toBe('')
    expect(rig.upstream.seen.at(-1)?.method).toBe('HEAD')
    expect(await fastCount()).toBe(before + 1)
  })

  it('a rejected token: one refresh, and the upstream sees the request twice (401, then 200)', async () => {
    const tokenRequests = rig.tokens.requests
    rig.tokens.current = 'rotated-elsewhere'
    const res = await get('/echo')
    expect(res.status).toBe(200)
    expectOneRefresh(rig, tokenRequests)
  })

  it('a redirect to an untrusted origin is not followed: the fast path answers it as it came', async () => {
    const before = await fastCount()
    const res = await get('/redirect-off?to=http://127.0.0.1:9')
    expect(res.status).toBe(302)
    expect(res.headers.location).toBe('http://127.0.0.1:9/steal')
    expect(rig.upstream.seen).toHaveLength(1)
    expect(await fastCount()).toBe(before + 1)
  })

  it('a trusted redirect is handed to the full path, which sends the next hop only', async () => {
    const before = await fastCount()
    const res = await get('/moved')
    expect(res.status).toBe(200)
    expect(JSON.parse(res.text)).toMatchObject({ url: '/api/echo?moved=1' })
    expect(rig.upstream.seen.map((s) => s.url)).toEqual(['/api/moved', '/api/echo?moved=1'])
    expect(await fastCount()).toBe(before)
  })

  it('an upstream that never answers: 504 UPSTREAM_TIMEOUT after the Named Credential timeout', async () => {
    const before = await fastCount()
    const res = await get('/hang')
    expect(res.status).toBe(504)
    expect(JSON.parse(res.text)).toMatchObject({
      error: { code: 'UPSTREAM_TIMEOUT', details: { timeout: 'idle', timeoutMs: 1_000 } },
    })
    expect(await fastCount()).toBe(before + 1)
  })

  it("…or after the proxy's total timeout when that comes first", async () => {
    expect((await get('/warm', {}, 'GET', 'Other')).status).toBe(200)
    const before = await fastCount()
    const res = await get('/hang', {}, 'GET', 'Other')
    expect(res.status).toBe(504)
    expect(JSON.parse(res.text)).toMatchObject({
      error: {
        code: 'UPSTREAM_TIMEOUT',
        details: { namedCredential: 'Other', totalTimeoutMs: 1_500 },
      },
    })
    expect(await fastCount()).toBe(before + 1)
  })

  it('a body that never comes after the headers: the JSON error, not a cut response', async () => {
    const before = await fastCount()
    const res = await get('/stall-body')
    expect(res.status).toBe(504)
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'UPSTREAM_TIMEOUT' } })
    expect(await fastCount()).toBe(before + 1)
  })

  it('garbage from the upstream: 502', async () => {
    const before = await fastCount()
    const res = await get('/garbage')
    expect(res.status).toBe(502)
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'UPSTREAM_UNREACHABLE' } })
    expect(await fastCount()).toBe(before + 1)
  })

  it('a reset of a reused keep-alive connection is sent again on a fresh one', async () => {
    // Every request after the first on a connection is cut: the warm-up's connection is reused.
    const before = await fastCount()
    const res = await get('/stale')
    expect(res.status).toBe(200)
    const sent = rig.upstream.seen.filter((s) => s.url === '/api/stale')
    expect(sent.map((s) => s.nthOnConnection > 1)).toEqual([true, false])
    expect(await fastCount()).toBe(before + 1)
  })

  it('a client that goes away ends the upstream exchange', async () => {
    const closedBefore = rig.upstream.hangsClosedAt.length
    const controller = new AbortController()
    const pending = request(`${rig.origin}/callout/Api/hang`, {
      headers: { 'proxy-authorization': `Bearer ${key}` },
      signal: controller.signal,
    }).catch(() => undefined)
    for (let i = 0; i < 100 && !rig.upstream.seen.some((s) => s.url === '/api/hang'); i++) {
      await new Promise((r) => setTimeout(r, 10))
    }
    controller.abort()
    await pending
    for (let i = 0; i < 100 && rig.upstream.hangsClosedAt.length === closedBefore; i++) {
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(rig.upstream.hangsClosedAt.length).toBe(closedBefore + 1)
  })

  it('a method or path outside the key rule, or a loop, is refused as on the full path', async () => {
    const before = await fastCount()
    const narrow = await rig.key(['Api:GET:/allowed/*'])
    const denied = await request(`${rig.origin}/callout/Api/echo`, {
      headers: { 'proxy-authorization': `Bearer ${narrow}` },
    })
    expect(denied.statusCode).toBe(403)
    await denied.body.dump()
    const loop = await get('/echo', { via: `1.1 ${rig.server.pseudonym}` })
    expect(loop.status).toBe(508)
    expect(await fastCount()).toBe(before)
  })

  it('logs each answered request once, with the credential and key id and no secret', async () => {
    rig.log.lines.length = 0
    await get('/echo')
    const lines = rig.log.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ status: 200, credential: 'Api', path: '/callout/Api/echo' })
    expect(JSON.stringify(rig.log.lines)).not.toContain(rig.tokens.current)
    expect(JSON.stringify(rig.log.lines)).not.toContain(key)
  })
})

describe('the fast path with the default timeouts', () => {
  it('a client that stops reading stops the upstream; reading on takes the rest', async () => {
    const total = 256 * 2 ** 20
    const rig = await startRig({ keyCacheMs: 60_000 })
    try {
      const key = await rig.key(['Other'])
      const auth = { 'proxy-authorization': `Bearer ${key}` }
      // Other: the default timeouts (a pause longer than a short one: slow-client.test.ts).
      await (await request(`${rig.origin}/callout/Other/warm`, { headers: auth })).body.dump()
      const before = await fastCount(rig.origin)
      const down = await request(`${rig.origin}/callout/Other/download?bytes=${total}`, {
        headers: auth,
      })
      expect(down.statusCode).toBe(200)
      // Socket buffers on both hops take what they take; then the upstream's writes must stop.
      let last = -1
      for (let steady = 0; steady < 10;) {
        await new Promise((r) => setTimeout(r, 100))
        steady = rig.upstream.downloadSent === last ? steady + 1 : 0
        last = rig.upstream.downloadSent
      }
      expect(last).toBeLessThan(total / 2)
      let received = 0
      for await (const c of down.body) received += (c as Buffer).length
      expect(received).toBe(total)
      expect(await fastCount(rig.origin)).toBe(before + 1)
    } finally {
      await rig.close()
    }
  })
})
