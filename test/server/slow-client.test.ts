/**
 * A Named Credential's `timeoutMs` bounds how long the upstream may stay silent while the proxy is
 * ready to read, on the fast and on the full path: a client that stops reading (the proxy then
 * stops reading the upstream) for longer than that still gets the whole answer, and an upstream
 * that stops mid-body while the client reads is still cut off after it.
 */
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRig, type ProxyRig } from './helpers.ts'

/** `Api`'s `timeoutMs` in the rig. */
const TIMEOUT_MS = 1_000
/** More than the socket buffers of both hops hold, so the upstream has to wait for the client. */
const TOTAL = 64 * 2 ** 20

let rig: ProxyRig
let auth: Record<string, string>

async function fastCount(): Promise<number> {
  const text = await (await request(`${rig.origin}/metrics`)).body.text()
  return Number(/^callout_proxy_fast_path_total (\d+)$/m.exec(text)?.[1] ?? NaN)
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

describe.each([
  ['the full path', 0, 0],
  ['the fast path', 60_000, 1],
] as const)('a slow client, %s', (_path, keyCacheMs, fast) => {
  beforeAll(async () => {
    rig = await startRig({ keyCacheMs })
    auth = { 'proxy-authorization': `Bearer ${await rig.key(['Api'])}` }
    // The key verified and the token cached: what the fast path needs.
    await (await request(`${rig.origin}/callout/Api/warm`, { headers: auth })).body.dump()
  })
  afterAll(async () => rig?.close())

  it('pausing longer than twice the timeout, then reading on, gets every byte', async () => {
    const before = await fastCount()
    const down = await request(`${rig.origin}/callout/Api/download?bytes=${TOTAL}`, {
      headers: auth,
    })
    expect(down.statusCode).toBe(200)
    // The client reads nothing for 2.5 timeouts (undici checks its body timeout on a 0.5 s tick).
    await sleep(TIMEOUT_MS)
    const early = rig.upstream.downloadSent
    await sleep(1.5 * TIMEOUT_MS)
    // The upstream was held back (its writes stopped) for longer than the timeout.
    expect(rig.upstream.downloadSent).toBe(early)
    expect(early).toBeLessThan(TOTAL)
    let received = 0
    for await (const c of down.body) received += (c as Buffer).length
    expect(received).toBe(TOTAL)
    expect(await fastCount()).toBe(before + fast)
  })

  it('an upstream that stops mid-body while the client reads is still cut after the timeout', async () => {
    const before = await fastCount()
    const half = 256 * 1024
    const down = await request(`${rig.origin}/callout/Api/stall-mid-body?bytes=${half}`, {
      headers: auth,
    })
    expect(down.statusCode).toBe(200)
    const start = performance.now()
    let received = 0
    const read = async (): Promise<void> => {
      for await (const c of down.body) received += (c as Buffer).length
    }
    await expect(read()).rejects.toThrow()
    const elapsed = performance.now() - start
    expect(received).toBe(half)
    expect(elapsed).toBeGreaterThan(TIMEOUT_MS - 100)
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 2_000)
    expect(await fastCount()).toBe(before + fast)
  })
})
