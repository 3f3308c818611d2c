/**
 * The store's change channel on a real PostgreSQL (LISTEN/NOTIFY through the triggers of migration
 * 0004): two stores on one schema stand for two Callout instances. What one writes, the other hears
 * at once; hostile payloads on the channel are ignored; a lost listening connection reconnects and
 * announces `resync`; a token manager waiting for another instance's lease wakes on the
 * notification, not on its poll; SQLite has no channel.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TokenSet } from '../src/auth/types.ts'
import { MasterKey } from '../src/secrets/master-key.ts'
import { Secret } from '../src/secrets/secret.ts'
import type { KyselyStore } from '../src/store/kysely-store.ts'
import type { StoreEvent } from '../src/store/notifications.ts'
import { openStore } from '../src/store/open-store.ts'
import { TokenManager } from '../src/tokens/token-manager.ts'
import type { GrantContext, TokenGrants } from '../src/tokens/types.ts'
import { authProvider, externalCredential } from './helpers/callout-fixtures.ts'
import {
  dropTestSchemas,
  requirePostgres,
  testPostgresUrl,
  testSchemaName,
  withPostgres,
} from './helpers/postgres.ts'

const schema = testSchemaName('notify')
const masterKey = MasterKey.generate()
let home: string
let a: KyselyStore
let b: KyselyStore

const open = () => openStore({ url: testPostgresUrl(), schema, home, masterKey })

/** Collects events; `next(pred)` resolves with the first (past or future) event matching it. */
function recorder(store: KyselyStore) {
  const events: StoreEvent[] = []
  const waiting: { pred: (e: StoreEvent) => boolean; resolve: (e: StoreEvent) => void }[] = []
  const stop = store.notifications.subscribe((event) => {
    events.push(event)
    for (const w of [...waiting]) {
      if (w.pred(event)) {
        waiting.splice(waiting.indexOf(w), 1)
        w.resolve(event)
      }
    }
  })
  const next = (pred: (e: StoreEvent) => boolean, timeoutMs = 5_000): Promise<StoreEvent> => {
    const seen = events.find(pred)
    if (seen !== undefined) {
      events.splice(events.indexOf(seen), 1)
      return Promise.resolve(seen)
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching notification')), timeoutMs)
      waiting.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer)
          events.splice(events.indexOf(e), 1)
          resolve(e)
        },
      })
    })
  }
  return { events, next, stop }
}

const KEY = { externalCredential: 'Api', principal: 'Default', userId: '' }

beforeAll(async () => {
  await requirePostgres()
  home = await mkdtemp(join(tmpdir(), 'callout-notify-'))
  a = await open()
  b = await open()
})

afterAll(async () => {
  await a?.close()
  await b?.close()
  await dropTestSchemas([schema])
  await rm(home, { recursive: true, force: true })
})

describe('store notifications (PostgreSQL LISTEN/NOTIFY)', () => {
  it('delivers definitions, credential, client-key and lease changes made by another store', async () => {
    const heard = recorder(a)
    await heard.next((e) => e.kind === 'resync')
    expect(a.notifications.state).toBe('live')

    await b.putAuthProvider(authProvider())
    await heard.next((e) => e.kind === 'definitions')

    const written = await b.compareAndSetCredential(
      { ...KEY, status: 'authenticated', accessToken: new Secret('at-secret-1') },
      0,
    )
    expect(await heard.next((e) => e.kind === 'credential')).toEqual({
      kind: 'credential',
      key: KEY,
      version: written?.version,
      status: 'authenticated',
    })

    const id = randomBytes(6).toString('hex')
    await b.clientKeys.createClientKey({
      id,
      name: 'ci',
      rules: ['Api'],
      anyUser: false,
      keyHash: 'f'.repeat(64),
      createdAt: Date.now(),
    })
    await b.clientKeys.revokeClientKey(id)
    expect(await heard.next((e) => e.kind === 'client-key')).toEqual({ kind: 'client-key', id })

    expect(await b.acquireLease('token:Api/Default/', 'holder-b', 5_000)).toBe(true)
    await b.releaseLease('token:Api/Default/', 'holder-b')
    expect(await heard.next((e) => e.kind === 'lease-released')).toEqual({
      kind: 'lease-released',
      name: 'token:Api/Default/',
    })
    // No payload carries a secret.
    expect(JSON.stringify(heard.events)).not.toContain('at-secret-1')
    heard.stop()
    expect(a.notifications.state).toBe('idle')
  })

  it('ignores hostile payloads on the channel and keeps listening', async () => {
    const heard = recorder(a)
    await heard.next((e) => e.kind === 'resync')
    const channel = `callout.${schema}`
    await withPostgres(async (client) => {
      for (const payload of [
        'not json',
        '[]',
        'null',
        '{"t":"credential","ec":"Api"}',
        '{"t":"credential","ec":"Api","p":"Default","u":"","v":-1,"s":"x"}',
        `{"t":"client-key","id":"${'x'.repeat(300)}"}`,
        '{"t":"unknown"}',
        '{"t":"lease","name":42}',
      ]) {
        await client.query('select pg_notify($1, $2)', [channel, payload])
      }
      await client.query('select pg_notify($1, $2)', [channel, '{"t":"definitions"}'])
    })
    await heard.next((e) => e.kind === 'definitions')
    expect(heard.events).toEqual([])
    heard.stop()
  })

  it('reconnects after the listening connection is killed, and announces resync', async () => {
    const heard = recorder(a)
    await heard.next((e) => e.kind === 'resync')
    const killed = await withPostgres(async (client) => {
      const result = await client.query(
        `select pg_terminate_backend(pid) as done from pg_stat_activity where query = $1`,
        [`listen "callout.${schema}"`],
      )
      return result.rows.length
    })
    expect(killed).toBe(1)
    await heard.next((e) => e.kind === 'resync')
    expect(a.notifications.state).toBe('live')
    await b.putAuthProvider(authProvider({ consumerKey: 'changed' }))
    await heard.next((e) => e.kind === 'definitions')
    heard.stop()
  })

  it("a token manager waiting for another instance's lease wakes on the notification, not its poll", async () => {
    const ec = externalCredential()
    const ctx: GrantContext = { ec, principal: ec.principals[0]!, userId: '' }
    let mints = 0
    const grants: TokenGrants = {
      mint: async (): Promise<TokenSet> => {
        mints++
        return { accessToken: new Secret('mine'), tokenType: 'Bearer', issuedAt: Date.now() }
      },
      refresh: () => Promise.reject(new Error('no refresh')),
      authorizationRequest: () => Promise.reject(new Error('no browser flow')),
      exchangeCode: () => Promise.reject(new Error('no browser flow')),
    } as unknown as TokenGrants
    // Polls so slow that only a notification can end the wait within the test's bound.
    const tokens = new TokenManager({
      store: a,
      grants,
      lease: { ttlMs: 10_000, maxWaitMs: 30_000, initialPollMs: 8_000, maxPollMs: 8_000 },
    })
    const heard = recorder(a)
    await heard.next((e) => e.kind === 'resync')
    const current = await b.getCredential(KEY)
    // "Instance B" holds the refresh lease and is refreshing.
    expect(await b.acquireLease('token:Api/Default/', 'instance-b', 10_000)).toBe(true)
    const started = Date.now()
    const waiting = tokens.invalidate(ctx, current?.accessToken as Secret)
    await new Promise((r) => setTimeout(r, 200))
    await b.compareAndSetCredential(
      { ...KEY, status: 'authenticated', accessToken: new Secret('theirs'), issuedAt: Date.now() },
      current?.version ?? 0,
    )
    await b.releaseLease('token:Api/Default/', 'instance-b')
    const got = await waiting
    const waitedMs = Date.now() - started
    expect(got.accessToken.reveal()).toBe('theirs')
    expect(mints).toBe(0)
    expect(waitedMs).toBeLessThan(3_000)
    tokens.close()
    heard.stop()
  })

  it('SQLite has no channel: subscribing delivers nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'callout-notify-sqlite-'))
    const store = await openStore({ url: `sqlite:${join(dir, 'c.db')}`, home: dir, masterKey })
    try {
      expect(store.notifications.state).toBe('unsupported')
      const events: StoreEvent[] = []
      const stop = store.notifications.subscribe((e) => events.push(e))
      await store.putAuthProvider(authProvider())
      await new Promise((r) => setTimeout(r, 100))
      expect(events).toEqual([])
      stop()
    } finally {
      await store.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
