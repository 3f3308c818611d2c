/**
 * A proxy whose PostgreSQL store becomes unreachable: a real PostgreSQL database of this test's
 * own, reached through a TCP relay the test controls. Closing the relay cuts the store's pooled
 * connections and refuses new ones, as a database that went down would; the shared server and
 * the database other tests use are never touched.
 */
import { randomBytes } from 'node:crypto'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MasterKey } from '../../src/secrets/master-key.ts'
import { openStore } from '../../src/store/open-store.ts'
import { requirePostgres, testPostgresUrl, withPostgres } from '../helpers/postgres.ts'
import { startRig, type ProxyRig } from './helpers.ts'

const DATABASE = `callout_unreachable_${process.pid}_${randomBytes(4).toString('hex')}`
/** Trust authentication ignores it; it must never show in an answer. */
const PASSWORD = `Canary-${randomBytes(6).toString('hex')}`

/** A TCP relay to the test PostgreSQL that can be cut and restored on the same port. */
class Relay {
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()
  port = 0

  async open(): Promise<void> {
    if (this.#server?.listening === true) return
    const target = new URL(testPostgresUrl())
    this.#server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname)
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket)
        socket.on('close', () => this.#sockets.delete(socket))
        socket.on('error', () => undefined)
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    const server = this.#server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', resolve)
    })
    this.port = (server.address() as { port: number }).port
  }

  async cut(): Promise<void> {
    const server = this.#server
    for (const socket of this.#sockets) socket.destroy()
    await new Promise((resolve) => server?.close(resolve))
  }
}

const relay = new Relay()
let rig: ProxyRig
let key: string

beforeAll(async () => {
  await requirePostgres()
  await withPostgres((client) => client.query(`create database ${DATABASE}`))
  await relay.open()
  const store = await openStore({
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${relay.port}/${DATABASE}`,
    home: '/nonexistent',
    masterKey: MasterKey.generate(),
  })
  rig = await startRig({}, { store })
  key = await rig.key(['Api'])
}, 30_000)

afterAll(async () => {
  await relay.open()
  await rig?.close()
  await relay.cut()
  await withPostgres((client) => client.query(`drop database if exists ${DATABASE} with (force)`))
})

interface Answer {
  readonly status?: string
  readonly error?: { readonly code: string; readonly message: string; readonly advice: string }
}

async function get(path: string, headers: Record<string, string> = {}, origin = rig.origin) {
  const res = await request(`${origin}${path}`, { headers })
  const text = await res.body.text()
  return {
    status: res.statusCode,
    retryAfter: res.headers['retry-after'],
    text,
    json: JSON.parse(text) as Answer,
  }
}

describe('the store unreachable', () => {
  it('answers 503 STORE_UNREACHABLE with Retry-After and what to check, on the proxy and /readyz; recovers when the database is back', async () => {
    const callout = () => get('/callout/Api/echo', { 'proxy-authorization': `Bearer ${key}` })
    expect((await callout()).status).toBe(200)
    expect((await get('/readyz')).status).toBe(200)

    await relay.cut()
    const res = await callout()
    expect(res.status).toBe(503)
    expect(res.retryAfter).toBe('5')
    expect(res.json.error).toMatchObject({
      code: 'STORE_UNREACHABLE',
      message: expect.stringContaining(`postgres://postgres@127.0.0.1:${relay.port}/${DATABASE}`),
      advice: expect.stringContaining('CALLOUT_STORE'),
    })
    expect(res.json.error?.message).toMatch(/cannot be reached/)
    expect(res.text).not.toContain(PASSWORD)

    const ready = await get('/readyz')
    expect(ready.status).toBe(503)
    expect(ready.retryAfter).toBe('5')
    expect(ready.json).toMatchObject({ status: 'not ready', error: { code: 'STORE_UNREACHABLE' } })
    expect(ready.text).not.toContain(PASSWORD)

    await relay.open()
    expect((await callout()).status).toBe(200)
    expect((await get('/readyz')).status).toBe(200)
  })
})

describe('a SQLite store locked by another process past the wait', () => {
  it('answers 503 STORE_BUSY with Retry-After, and serves once the lock is gone', async () => {
    const home = rig.home
    const path = join(home, 'locked.db')
    const store = await openStore({
      url: `sqlite:${path}`,
      home,
      masterKey: MasterKey.generate(),
      busyTimeoutMs: 100,
    })
    const sqlite = await startRig({}, { store })
    const holder = new BetterSqlite3(path)
    try {
      const sqliteKey = await sqlite.key(['Api'])
      const callout = () =>
        get('/callout/Api/echo', { 'proxy-authorization': `Bearer ${sqliteKey}` }, sqlite.origin)
      // Another process holds the write lock: obtaining the first token must write.
      holder.exec('begin immediate')
      const res = await callout()
      expect(res.status).toBe(503)
      expect(res.retryAfter).toBe('1')
      expect(res.json.error).toMatchObject({ code: 'STORE_BUSY' })
      holder.exec('rollback')
      expect((await callout()).status).toBe(200)
    } finally {
      holder.close()
      await sqlite.close()
    }
  })
})
