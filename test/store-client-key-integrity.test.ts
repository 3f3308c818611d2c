/**
 * Client key rows carry integrity tags: someone who can write the database but does not hold the
 * master key cannot widen a key's rules, give it the right to act for users, extend its expiry,
 * undo its revocation, swap its hash or plant a key. Run on SQLite and PostgreSQL, through the
 * store and through `callout serve` (nothing is forwarded), across migration 0005 and a master key
 * rotation.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MasterKey } from '../src/secrets/master-key.ts'
import { generateClientKey } from '../src/server/client-key.ts'
import type { ClientKeyRecord } from '../src/store/client-keys.ts'
import type { KyselyStore } from '../src/store/kysely-store.ts'
import { LATEST_SCHEMA_VERSION } from '../src/store/migrations/index.ts'
import { openStore, rotateMasterKey } from '../src/store/open-store.ts'
import { dropTestSchemas, requirePostgres, testPostgresUrl } from './helpers/postgres.ts'
import { rawPostgres, rawSqlite } from './helpers/raw-sql.ts'
import { startRig } from './server/helpers.ts'

const DIALECTS = ['sqlite', 'postgres'] as const
type Dialect = (typeof DIALECTS)[number]
const RUN_ID = `${process.pid}_${randomBytes(4).toString('hex')}`

let tmp: string
const schemas: string[] = []
let counter = 0

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'callout-ck-integrity-'))
})

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
  await dropTestSchemas(schemas)
})

/** One fresh store location, and raw SQL on it that bypasses Callout. */
interface Place {
  readonly masterKey: MasterKey
  open(options?: {
    masterKey?: MasterKey
    onMigrationProgress?: (message: string) => void
  }): Promise<KyselyStore>
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>
}

async function place(dialect: Dialect): Promise<Place> {
  const n = ++counter
  const masterKey = MasterKey.generate()
  if (dialect === 'sqlite') {
    const home = join(tmp, `h${n}`)
    const path = join(home, 'callout.db')
    return {
      masterKey,
      open: (options = {}) => openStore({ url: `sqlite:${path}`, home, masterKey, ...options }),
      raw: async (sql, params) => rawSqlite(path, sql, params),
    }
  }
  await requirePostgres()
  const schema = `callout_ck_${RUN_ID}_${n}`
  schemas.push(schema)
  return {
    masterKey,
    open: (options = {}) =>
      openStore({ url: testPostgresUrl(), schema, home: tmp, masterKey, ...options }),
    raw: (sql, params) => rawPostgres(schema, sql, params),
  }
}

function record(overrides: Partial<ClientKeyRecord> = {}): ClientKeyRecord & { key: string } {
  const { id, key, hash } = generateClientKey()
  return {
    id,
    key,
    name: 'ci-bot',
    rules: ['Api:GET:/items/*'],
    anyUser: false,
    keyHash: hash,
    createdAt: 1_700_000_000_000,
    expiresAt: 1_700_000_000_000 + 86_400_000,
    ...overrides,
  }
}

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
    return 'resolved'
  } catch (error) {
    return (error as { code?: unknown }).code
  }
}

/** Each way a database writer could try to widen a key, as one raw statement. */
const TAMPERING: readonly {
  readonly what: string
  readonly sql: string
  readonly params: (k: ClientKeyRecord) => unknown[]
  readonly revoked?: boolean
}[] = [
  {
    what: 'rules widened to every method and path',
    sql: 'update client_keys set rules = ? where id = ?',
    params: (k) => ['["Api","Other"]', k.id],
  },
  {
    what: 'the right to act for any user granted',
    sql: 'update client_keys set any_user = 1 where id = ?',
    params: (k) => [k.id],
  },
  {
    what: 'expiry extended by years',
    sql: 'update client_keys set expires_at = ? where id = ?',
    params: (k) => [4_102_444_800_000, k.id],
  },
  {
    what: 'expiry removed',
    sql: 'update client_keys set expires_at = null where id = ?',
    params: (k) => [k.id],
  },
  {
    what: 'revocation undone',
    sql: 'update client_keys set revoked_at = null where id = ?',
    params: (k) => [k.id],
    revoked: true,
  },
  {
    what: 'hash swapped for the hash of a key the writer knows',
    sql: 'update client_keys set key_hash = ? where id = ?',
    params: (k) => [generateClientKey().hash, k.id],
  },
]

for (const dialect of DIALECTS) {
  describe(`client key integrity (${dialect})`, () => {
    for (const tamper of TAMPERING) {
      it(`refuses a key whose row was changed: ${tamper.what}`, async () => {
        const p = await place(dialect)
        const store = await p.open()
        const victim = record()
        const bystander = record({ name: 'other' })
        await store.clientKeys.createClientKey(victim)
        await store.clientKeys.createClientKey(bystander)
        if (tamper.revoked === true) await store.clientKeys.revokeClientKey(victim.id)
        const before = await store.clientKeys.getClientKey(victim.id)
        expect(before?.rules).toEqual(['Api:GET:/items/*'])
        await p.raw(tamper.sql, tamper.params(victim))

        const error = await store.clientKeys.getClientKey(victim.id).catch((e: unknown) => e)
        expect(error).toMatchObject({ code: 'STORE_TAMPERED', details: { keys: [victim.id] } })
        expect((error as Error).message).toContain('callout keys revoke')
        expect(await codeOf(store.clientKeys.listClientKeys())).toBe('STORE_TAMPERED')
        // The other key is untouched and still verifies.
        expect((await store.clientKeys.getClientKey(bystander.id))?.name).toBe('other')
        await store.close()
      })
    }

    it('refuses a key row planted by raw SQL, even with a tag copied from a real key', async () => {
      const p = await place(dialect)
      const store = await p.open()
      const real = record()
      await store.clientKeys.createClientKey(real)
      const [row] = await p.raw('select * from client_keys where id = ?', [real.id])
      const planted = generateClientKey()
      await p.raw(
        'insert into client_keys (id, name, rules, any_user, key_hash, created_at, expires_at, revoked_at, mac) values (?, ?, ?, 1, ?, ?, null, null, ?)',
        [planted.id, 'planted', '["Api"]', planted.hash, 1_700_000_000_000, row?.['mac']],
      )
      expect(await codeOf(store.clientKeys.getClientKey(planted.id))).toBe('STORE_TAMPERED')
      await p.raw('update client_keys set mac = null where id = ?', [planted.id])
      expect(await codeOf(store.clientKeys.getClientKey(planted.id))).toBe('STORE_TAMPERED')
      const error = await store.clientKeys.listClientKeys().catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'STORE_TAMPERED', details: { keys: [planted.id] } })
      await store.close()
    })

    it('revokes a tampered key, after which it reads as revoked and the list works again', async () => {
      const p = await place(dialect)
      const store = await p.open()
      const victim = record()
      await store.clientKeys.createClientKey(victim)
      await p.raw('update client_keys set rules = ? where id = ?', ['["Api"]', victim.id])
      expect(await store.clientKeys.revokeClientKey(victim.id)).toBe(true)
      expect(await store.clientKeys.revokeClientKey(victim.id)).toBe(false)
      const listed = await store.clientKeys.listClientKeys()
      expect(listed.map((k) => [k.id, k.revokedAt !== undefined])).toEqual([[victim.id, true]])
      // Undoing the revocation breaks the tag again.
      await p.raw('update client_keys set revoked_at = null where id = ?', [victim.id])
      expect(await codeOf(store.clientKeys.getClientKey(victim.id))).toBe('STORE_TAMPERED')
      await store.close()
    })

    it('migration 0005 tags the keys a store already had, with the key it is opened with', async () => {
      const p = await place(dialect)
      const store = await p.open()
      const keys = [record(), record({ name: 'second', anyUser: true, rules: ['Other'] })]
      for (const k of keys) await store.clientKeys.createClientKey(k)
      await store.close()
      // Back to schema version 4, as an older Callout left it: no tags on client keys, and none
      // of the tables later migrations add.
      await p.raw('alter table client_keys drop column mac')
      for (const table of [
        'admin_users',
        'admin_sessions',
        'admin_tokens',
        'admin_audit',
        'connect_links',
        'rate_limits',
      ])
        await p.raw(`drop table ${table}`)
      await p.raw("update callout_meta set value = '4' where key = 'schema_version'")
      const messages: string[] = []
      const upgraded = await p.open({ onMigrationProgress: (m) => messages.push(m) })
      expect(messages[0]).toBe(
        'Applied migration 0005-client-key-integrity: signed 2 existing client keys.',
      )
      expect(messages.at(-1)).toBe(`Schema migrated to version ${LATEST_SCHEMA_VERSION}.`)
      const listed = await upgraded.clientKeys.listClientKeys()
      expect(listed.map((k) => k.name).sort()).toEqual(['ci-bot', 'second'])
      // Tagged once: a later change without the key is refused.
      await p.raw('update client_keys set any_user = 1 where id = ?', [keys[0]?.id])
      expect(await codeOf(upgraded.clientKeys.getClientKey(keys[0]?.id ?? ''))).toBe(
        'STORE_TAMPERED',
      )
      await upgraded.close()
    })

    it('master key rotation re-tags client keys under the new data key, and leaves a tampered one refused', async () => {
      const p = await place(dialect)
      const store = await p.open()
      const good = record()
      const bad = record({ name: 'bad' })
      await store.clientKeys.createClientKey(good)
      await store.clientKeys.createClientKey(bad)
      await p.raw('update client_keys set rules = ? where id = ?', ['["Api"]', bad.id])
      const next = MasterKey.generate()
      const result = await rotateMasterKey(store, next, { reencrypt: true })
      expect(result.rowsTampered).toBe(1)
      await store.close()

      const reopened = await p.open({ masterKey: next })
      const [newest] = await p.raw('select id from data_keys order by created_at desc')
      const tags = await p.raw('select id, mac from client_keys')
      const tagOf = (id: string): unknown => tags.find((row) => row['id'] === id)?.['mac']
      expect(String(tagOf(good.id))).toMatch(new RegExp(`^m1\\.${String(newest?.['id'])}\\.`))
      expect(String(tagOf(bad.id))).not.toContain(String(newest?.['id']))
      expect((await reopened.clientKeys.getClientKey(good.id))?.rules).toEqual(good.rules)
      expect(await codeOf(reopened.clientKeys.getClientKey(bad.id))).toBe('STORE_TAMPERED')
      await reopened.close()
    })

    it('callout serve answers STORE_TAMPERED for a widened or extended key and forwards nothing', async () => {
      const p = await place(dialect)
      const rig = await startRig({}, { store: await p.open() })
      try {
        const narrow = await rig.key(['Api:GET:/items/*'])
        const call = (key: string, method: string, path: string) =>
          request(`${rig.origin}/callout/Api${path}`, {
            method,
            headers: { 'proxy-authorization': `Bearer ${key}` },
          })
        const ok = await call(narrow, 'GET', '/items/1')
        expect(ok.statusCode).toBe(200)
        await ok.body.dump()
        const denied = await call(narrow, 'DELETE', '/admin')
        expect(denied.statusCode).toBe(403)
        await denied.body.dump()
        const seen = rig.upstream.seen.length

        // Widen the rules by raw SQL: refused, not forwarded.
        const id = narrow.split('_')[1] ?? ''
        await p.raw('update client_keys set rules = ? where id = ?', ['["Api"]', id])
        const widened = await call(narrow, 'DELETE', '/admin')
        expect(widened.statusCode).toBe(500)
        const body = (await widened.body.json()) as {
          error: { code: string; message: string; advice: string }
        }
        expect(body.error.code).toBe('STORE_TAMPERED')
        expect(body.error.message).toContain(id)
        expect(body.error.advice).toContain('callout keys revoke')
        const alsoRefused = await call(narrow, 'GET', '/items/1')
        expect(alsoRefused.statusCode).toBe(500)
        await alsoRefused.body.dump()

        // Extend an expired key by raw SQL: refused, not forwarded.
        const expired = await rig.key(['Api'], { expiresAt: Date.now() - 1_000 })
        const before = await call(expired, 'GET', '/items/1')
        expect(before.statusCode).toBe(401)
        await before.body.dump()
        await p.raw('update client_keys set expires_at = ? where id = ?', [
          4_102_444_800_000,
          expired.split('_')[1],
        ])
        const extended = await call(expired, 'GET', '/items/1')
        expect(extended.statusCode).toBe(500)
        expect(((await extended.body.json()) as { error: { code: string } }).error.code).toBe(
          'STORE_TAMPERED',
        )
        expect(rig.upstream.seen.length).toBe(seen)
      } finally {
        await rig.close()
      }
    })
  })
}
