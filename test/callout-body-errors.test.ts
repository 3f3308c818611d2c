/**
 * Failures while the caller reads a response body are typed errors too (DESIGN §4.6): a body that
 * stalls past the Named Credential's timeout is UPSTREAM_TIMEOUT, a connection lost mid-body is
 * UPSTREAM_UNREACHABLE — through `broker.fetch` and through `broker.request`'s read helpers.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBroker, parseConfig, type Broker } from '../src/index.ts'
import { MasterKey } from '../src/secrets/index.ts'

let server: Server
let broker: Broker

beforeAll(async () => {
  server = createServer((req, res) => {
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
          Slow: { url: `http://127.0.0.1:${port}`, externalCredential: 'Open', timeoutMs: 300 },
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
