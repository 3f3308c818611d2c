import { connect, type AddressInfo } from 'node:net'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CalloutError } from '../errors.ts'
import { closeWaiting, listenWhileWaiting } from './waiting-server.ts'
import type { Server } from 'node:http'

let server: Server
let origin = ''
const reason = new CalloutError(
  'STORE_ERROR',
  'The store at postgres://callout@db:5432/callout failed to open: connection refused.',
)

beforeAll(async () => {
  server = await listenWhileWaiting('127.0.0.1', 0, () => reason)
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await closeWaiting(server)
})

describe('callout serve while it waits for its store', () => {
  it('/healthz is 200; /readyz is 503 with the reason; every other request is 503 with Retry-After', async () => {
    const health = await request(`${origin}/healthz?probe=1`)
    expect(health.statusCode).toBe(200)
    expect(await health.body.json()).toEqual({ status: 'ok', store: 'waiting' })
    const ready = await request(`${origin}/readyz`)
    expect(ready.statusCode).toBe(503)
    expect(await ready.body.json()).toMatchObject({
      status: 'not ready',
      error: { code: 'STORE_ERROR', message: reason.message },
    })
    const proxied = await request(`${origin}/callout/Api/x`, {
      method: 'POST',
      body: 'x'.repeat(100_000),
    })
    expect(proxied.statusCode).toBe(503)
    expect(proxied.headers['retry-after']).toBe('1')
    expect(await proxied.body.json()).toMatchObject({ error: { code: 'STORE_ERROR' } })
  })

  it('answers malformed requests without crashing', async () => {
    const reply = await new Promise<string>((resolve) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () =>
        socket.write('NOT HTTP\r\n\r\n'),
      )
      let text = ''
      socket.on('data', (c: Buffer) => (text += c.toString()))
      socket.on('close', () => resolve(text))
      socket.on('error', () => resolve(text))
    })
    expect(reply).toMatch(/^HTTP\/1\.1 400/)
    expect((await request(`${origin}/healthz`)).statusCode).toBe(200)
  })
})
