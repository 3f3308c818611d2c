/**
 * Each proxied exchange ends with its client and within the proxy's total timeout: the upstream
 * request is aborted when the client goes away, and a total timeout shorter than the Named
 * Credential's answers 504 `UPSTREAM_TIMEOUT` naming `--total-timeout-ms`.
 */
import { connect } from 'node:net'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRig, type ProxyRig } from './helpers.ts'

let rig: ProxyRig
let key: string

beforeAll(async () => {
  // The Named Credential's own timeout is 1 s (helpers.ts): the total timeout must act first.
  rig = await startRig({ totalTimeoutMs: 300 })
  key = await rig.key(['Api'])
})
afterAll(async () => {
  await rig?.close()
})

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms
  while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
}

describe('an exchange ends with its client and its total timeout', () => {
  it('a total timeout shorter than the credential timeout → 504 UPSTREAM_TIMEOUT naming it', async () => {
    const started = Date.now()
    const res = await request(`${rig.origin}/callout/Api/hang`, {
      headers: { 'proxy-authorization': `Bearer ${key}` },
    })
    const body = (await res.body.json()) as { error: { code: string; message: string } }
    expect([res.statusCode, body.error.code]).toEqual([504, 'UPSTREAM_TIMEOUT'])
    expect(body.error.message).toContain('--total-timeout-ms')
    expect(Date.now() - started).toBeLessThan(900)
  })

  it('the total timeout passing between the headers and the first body byte → 504 naming it', async () => {
    const res = await request(`${rig.origin}/callout/Api/stall-body`, {
      headers: { 'proxy-authorization': `Bearer ${key}` },
    })
    const body = (await res.body.json()) as { error: { code: string; message: string } }
    expect([res.statusCode, body.error.code]).toEqual([504, 'UPSTREAM_TIMEOUT'])
    expect(body.error.message).toContain('--total-timeout-ms')
  })

  it('a client that goes away aborts the upstream request at once', async () => {
    // The previous test's exchange has ended upstream too (its close is recorded first).
    await waitFor(() => rig.upstream.hangsClosedAt.length >= 1, 2_000)
    const before = rig.upstream.hangsClosedAt.length
    const seen = rig.upstream.seen.length
    const { port } = new URL(rig.origin)
    const socket = connect(Number(port), '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write(
      `GET /callout/Api/hang HTTP/1.1\r\nhost: x\r\nproxy-authorization: Bearer ${key}\r\n\r\n`,
    )
    await waitFor(() => rig.upstream.seen.slice(seen).some((s) => s.url === '/api/hang'), 2_000)
    expect(rig.upstream.seen.slice(seen).map((s) => s.url)).toContain('/api/hang')
    const gone = Date.now()
    socket.destroy()
    await waitFor(() => rig.upstream.hangsClosedAt.length > before, 2_000)
    const closedAt = rig.upstream.hangsClosedAt[before]
    expect(closedAt).toBeDefined()
    // Well before the proxy's total timeout (300 ms) or the credential's (1 s) could end it.
    expect(closedAt! - gone).toBeLessThan(200)
  })
})
