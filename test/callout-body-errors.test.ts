/**
 * Failures while the caller reads a response body are typed errors too (DESIGN §4.6): a body that
 * stalls past the Named Credential's timeout is UPSTREAM_TIMEOUT, a connection lost mid-body is
 * UPSTREAM_UNREACHABLE — through `broker.fetch` and through `broker.request`'s read helpers. A
 * caller that pauses reading is not a stalled upstream: the timeout does not run while it pauses.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBroker, parseConfig, type Broker } from '../src/index.ts'
import { MasterKey } from '../src/secrets/index.ts'

let server: Server
let broker: Broker
/** The Named Credential's `timeoutMs`. */
const TIMEOUT_MS = 300
/** More than the socket buffers hold, so the upstream has to wait for the caller. */
const BIG = 64 * 2 ** 20
/** Bytes the latest `/big` has handed to its socket. */
let bigSent = 0

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG })
      const chunk = Buffer.alloc(64 * 1024, 97)
      bigSent = 0
      const pump = (): void => {
        while (bigSent < BIG) {
          bigSent += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      return pump()
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"partial":')
    if (req.url === '/stall') return // headers and half a body, then nothing
    if (req.url === '/cut') setTimeout(() => res.socket?.destroy(), 20)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  broker = await openBroker({ store: ':memory:', masterKey: MasterKey.generate(), env: {} })
  await broker.apply(
    parseConfig(
      {
        externalCredentials: { Open: { protocol: 'none' } },
        namedCredentials: {
          Slow: {
            url: `http://127.0.0.1:${port}`,
            externalCredential: 'Open',
            timeoutMs: TIMEOUT_MS,
          },
        },
      },
      { env: {} },
    ),
  )
})

afterAll(async () => {
  await broker?.close()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  )
}

describe('body read failures', () => {
  it('broker.fetch: a stalled body is UPSTREAM_TIMEOUT naming the credential and the timeout', async () => {
    const res = await broker.fetch('callout:Slow/stall')
    expect(res.status).toBe(200)
    const error = await failure(res.text())
    expect(error).toMatchObject({ code: 'UPSTREAM_TIMEOUT' })
    expect((error as Error).message).toContain('300 ms (Slow)')
    expect((error as Error).cause).toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' })
  })

  it('broker.request: body.json() on a stalled body is UPSTREAM_TIMEOUT', async () => {
    const { statusCode, body } = await broker.request('callout:Slow/stall')
    expect(statusCode).toBe(200)
    expect(await failure(body.json())).toMatchObject({ code: 'UPSTREAM_TIMEOUT' })
  })

  it('a connection cut mid-body is UPSTREAM_UNREACHABLE through both APIs', async () => {
    const res = await broker.fetch('callout:Slow/cut')
    expect(await failure(res.arrayBuffer())).toMatchObject({ code: 'UPSTREAM_UNREACHABLE' })
    const { body } = await broker.request('callout:Slow/cut')
    expect(await failure(body.text())).toMatchObject({ code: 'UPSTREAM_UNREACHABLE' })
  })
})

describe('a caller that pauses reading', () => {
  /**
   * Reads nothing for five timeouts (undici checks its body timeout on a 0.5 s tick) and checks
   * that the upstream was held back meanwhile.
   */
  async function pause(): Promise<void> {
    await new Promise((r) => setTimeout(r, 2 * TIMEOUT_MS))
    const early = bigSent
    await new Promise((r) => setTimeout(r, 3 * TIMEOUT_MS))
    expect(bigSent).toBe(early)
    expect(early).toBeLessThan(BIG)
  }

  it('broker.fetch: reading after a pause longer than the timeout gets every byte', async () => {
    const res = await broker.fetch('callout:Slow/big')
    expect(res.status).toBe(200)
    await pause()
    expect((await res.arrayBuffer()).byteLength).toBe(BIG)
  })

  it('broker.request: a pause mid-body longer than the timeout, then the rest', async () => {
    const { statusCode, body } = await broker.request('callout:Slow/big')
    expect(statusCode).toBe(200)
    let received = 0
    let paused = false
    for await (const chunk of body) {
      received += (chunk as Buffer).length
      if (!paused) {
        paused = true
        await pause()
      }
    }
    expect(received).toBe(BIG)
  })
})
