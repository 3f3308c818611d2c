/**
 * The total deadline of a callout (`deadlineMs` on the Named Credential, or per call) next to the
 * idle timeout (`timeoutMs`): a body that drips one byte at a time never trips the idle timeout,
 * but is cut at the deadline with UPSTREAM_TIMEOUT, `details.timeout: 'deadline'`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBroker, parseConfig, type Broker } from '../src/index.ts'
import { MasterKey } from '../src/secrets/index.ts'

let server: Server
let broker: Broker
let bytesSent = 0

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    if (req.url === '/stall') return void res.write('x') // then nothing: the idle timeout
    // one byte every 100 ms, for up to 60 s: only a total deadline ends it
    const timer = setInterval(() => {
      bytesSent++
      res.write('.')
    }, 100)
    const stop = setTimeout(() => res.end(), 60_000)
    res.on('close', () => {
      clearInterval(timer)
      clearTimeout(stop)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  broker = await openBroker({ store: ':memory:', masterKey: MasterKey.generate(), env: {} })
  await broker.apply(
    parseConfig(
      {
        externalCredentials: { Open: { protocol: 'none' } },
        namedCredentials: {
          Drip: {
            url: `http://127.0.0.1:${port}`,
            externalCredential: 'Open',
            timeoutMs: 1_000,
            deadlineMs: 1_500,
          },
          NoDeadline: {
            url: `http://127.0.0.1:${port}`,
            externalCredential: 'Open',
            timeoutMs: 300,
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

describe('total deadline', () => {
  it("broker.fetch: a dripping body is cut at the Named Credential's deadlineMs", async () => {
    const started = Date.now()
    const before = bytesSent
    const res = await broker.fetch('callout:Drip/drip')
    expect(res.status).toBe(200)
    const error = await failure(res.text())
    const elapsed = Date.now() - started
    expect(error).toMatchObject({
      code: 'UPSTREAM_TIMEOUT',
      details: { timeout: 'deadline', deadlineMs: 1_500, deadlineSource: 'definition' },
    })
    expect((error as Error).message).toContain('1500 ms deadline (Drip)')
    expect((error as Error).message).toContain('deadlineMs on the Named Credential')
    expect(elapsed).toBeGreaterThanOrEqual(1_450)
    expect(elapsed).toBeLessThan(4_000)
    expect(bytesSent - before).toBeLessThan(40) // the upstream stopped being read
  })

  it('broker.request: a shorter per-call deadlineMs wins, and is named as the option', async () => {
    const started = Date.now()
    const res = await broker.request('callout:Drip/drip', { deadlineMs: 600 })
    const error = await failure(res.body.text())
    expect(error).toMatchObject({
      code: 'UPSTREAM_TIMEOUT',
      details: { timeout: 'deadline', deadlineMs: 600, deadlineSource: 'option' },
    })
    expect(Date.now() - started).toBeLessThan(3_000)
  })

  it('a per-call deadline applies to a credential without one', async () => {
    const res = await broker.fetch('callout:NoDeadline/drip', { deadlineMs: 500 })
    await expect(res.arrayBuffer()).rejects.toMatchObject({
      code: 'UPSTREAM_TIMEOUT',
      details: { timeout: 'deadline', deadlineMs: 500 },
    })
  })

  it('the idle timeout is UPSTREAM_TIMEOUT with details.timeout idle', async () => {
    const res = await broker.fetch('callout:NoDeadline/stall')
    await expect(res.text()).rejects.toMatchObject({
      code: 'UPSTREAM_TIMEOUT',
      details: { timeout: 'idle', timeoutMs: 300 },
    })
  })

  it('refuses a deadlineMs option that is not a positive whole number', async () => {
    for (const deadlineMs of [0, -1, 1.5, Number.NaN]) {
      await expect(broker.fetch('callout:Drip/drip', { deadlineMs })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
    }
  })
})
