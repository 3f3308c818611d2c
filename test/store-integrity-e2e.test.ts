/**
 * Someone who can write the database but does not hold the master key must not be able to
 * redirect a secret. A real upstream and an attacker server on port 0; the rows that decide where
 * a secret goes are rewritten with raw SQL; the next callout fails with STORE_TAMPERED and the
 * attacker receives nothing. Run on SQLite and PostgreSQL.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBroker } from '../src/index.ts'
import { MasterKey } from '../src/secrets/master-key.ts'
import { Secret } from '../src/secrets/secret.ts'
import { openStore } from '../src/store/open-store.ts'
import type { KyselyStore } from '../src/store/kysely-store.ts'
import {
  authProvider,
  definitions,
  externalCredential,
  namedCredential,
} from './helpers/callout-fixtures.ts'
import { TokenServer, Upstream } from './helpers/callout-servers.ts'
import { dropTestSchemas, requirePostgres, testPostgresUrl } from './helpers/postgres.ts'
import { rawPostgres, rawSqlite } from './helpers/raw-sql.ts'

const PG_URL = testPostgresUrl()
const RUN_ID = `${process.pid}_${randomBytes(4).toString('hex')}`
const CLIENT_SECRET = 'canary-integrity-client-secret'

let tokens: TokenServer
let upstream: Upstream
let attacker: Upstream
let tmp: string
const schemas: string[] = []

beforeAll(async () => {
  tokens = await new TokenServer().start()
  upstream = await new Upstream(tokens).start()
  attacker = await new Upstream(undefined).start()
  tmp = await mkdtemp(join(tmpdir(), 'callout-integrity-'))
})

afterAll(async () => {
  await Promise.all([tokens.listening.close(), upstream.listening.close()])
  await attacker.listening.close()
  await rm(tmp, { recursive: true, force: true })
  await dropTestSchemas(schemas)
})

interface Db {
  open(): Promise<KyselyStore>
  /** Raw SQL with `?` placeholders, bypassing Callout entirely. */
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>
}

function sqliteDb(masterKey: MasterKey): Db {
  const home = join(tmp, 'sqlite')
  const path = join(home, 'callout.db')
  return {
    open: () => openStore({ url: `sqlite:${path}`, home, masterKey }),
    raw: async (sql, params = []) => rawSqlite(path, sql, params),
  }
}

function postgresDb(masterKey: MasterKey): Db {
  const schema = `callout_integrity_${RUN_ID}`
  schemas.push(schema)
  return {
    open: () => openStore({ url: PG_URL, schema, home: join(tmp, 'pg'), masterKey }),
    raw: (sql, params = []) => rawPostgres(schema, sql, params),
  }
}

function defs() {
  return definitions({
    authProviders: [
      authProvider({ tokenUrl: tokens.tokenUrl, consumerSecret: new Secret(CLIENT_SECRET) }),
    ],
    externalCredentials: [externalCredential({ name: 'Api', flow: 'client-credentials' })],
    namedCredentials: [
      namedCredential({
        name: 'Api',
        url: `${upstream.origin}/api`,
        headers: [{ name: 'X-Team', formula: '"blue"', sequence: 1 }],
      }),
    ],
  })
}

/** One callout through a freshly opened broker (as `callout get` would): its status or error code. */
async function callout(store: KyselyStore): Promise<number | string> {
  try {
    const broker = await openBroker({ store })
    try {
      const res = await broker.fetch('callout:Api/hello')
      await res.arrayBuffer()
      return res.status
    } finally {
      await broker.close()
    }
  } catch (error) {
    return (error as { code?: string }).code ?? String(error)
  }
}

type Rewrite = (row: Record<string, unknown>) => Record<string, unknown>

const DEFINITION_TAMPERS: [string, string, Rewrite][] = [
  ['the Named Credential URL', 'named_credentials', (d) => ({ ...d, url: attacker.origin })],
  [
    'allowedHosts',
    'named_credentials',
    (d) => ({ ...d, allowedHosts: [new URL(attacker.origin).host] }),
  ],
  [
    'a header',
    'named_credentials',
    (d) => ({
      ...d,
      headers: [{ name: 'X-Team', formula: `"${attacker.origin}"`, sequence: 1 }],
    }),
  ],
  ['the token URL', 'auth_providers', (d) => ({ ...d, tokenUrl: `${attacker.origin}/token` })],
]

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`integrity of the rows that decide where a secret goes (${dialect})`, () => {
    it('refuses a tampered definition or instance_url with STORE_TAMPERED and sends the attacker nothing', async () => {
      const masterKey = MasterKey.generate()
      if (dialect === 'postgres') await requirePostgres()
      const db = dialect === 'sqlite' ? sqliteDb(masterKey) : postgresDb(masterKey)
      const store = await db.open()
      try {
        tokens.instanceUrl = upstream.origin
        const setup = await openBroker({ store })
        await setup.apply(defs())
        await setup.close()
        attacker.seen = []
        const seenBefore = upstream.seen.length
        expect(await callout(store)).toBe(200)
        expect(upstream.seen.length).toBe(seenBefore + 1)

        for (const [label, table, rewrite] of DEFINITION_TAMPERS) {
          const [row] = await db.raw(`select definition from ${table}`)
          const original = String(row?.['definition'])
          const tampered = JSON.stringify(rewrite(JSON.parse(original) as Record<string, unknown>))
          await db.raw(`update ${table} set definition = ?`, [tampered])
          expect(await callout(store), label).toBe('STORE_TAMPERED')
          await db.raw(`update ${table} set definition = ?`, [original])
          expect(await callout(store), `${label} restored`).toBe(200)
        }

        // A removed tag is no better than a forged one.
        const [tag] = await db.raw('select mac from named_credentials')
        await db.raw('update named_credentials set mac = null')
        expect(await callout(store)).toBe('STORE_TAMPERED')
        await db.raw('update named_credentials set mac = ?', [tag?.['mac']])

        // The credential's instance_url.
        const [cred] = await db.raw('select instance_url from credentials')
        expect(cred?.['instance_url']).toBe(upstream.origin)
        await db.raw('update credentials set instance_url = ?', [attacker.origin])
        expect(await callout(store)).toBe('STORE_TAMPERED')
        await db.raw('update credentials set instance_url = ?', [upstream.origin])
        expect(await callout(store)).toBe(200)

        expect(attacker.seen).toEqual([])
        for (const seen of upstream.seen)
          expect(JSON.stringify(seen)).not.toContain(attacker.origin)

        // Re-applying the definitions rewrites a tampered row.
        await db.raw('update named_credentials set definition = ?', [
          JSON.stringify({
            ...(JSON.parse(
              String((await db.raw('select definition from named_credentials'))[0]?.['definition']),
            ) as object),
            url: attacker.origin,
          }),
        ])
        const heal = await openBroker({ store }).catch((e: unknown) => e)
        expect(heal).toMatchObject({ code: 'STORE_TAMPERED' })
        expect(await store.applyDefinitions(defs())).toMatchObject({
          updated: ['namedCredential:Api'],
        })
        expect(await callout(store)).toBe(200)
        expect(attacker.seen).toEqual([])
      } finally {
        tokens.instanceUrl = undefined
        await store.close()
      }
    })
  })
}
