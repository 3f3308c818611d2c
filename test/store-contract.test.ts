/**
 * The store contract, run against every dialect: SQLite in a temp dir and PostgreSQL at
 * `CALLOUT_TEST_POSTGRES_URL` (default 127.0.0.1:5432/test) in a schema unique to this run
 * (dropped in afterAll).
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Clock } from '../src/clock.ts'
import type {
  AuthProvider,
  Definitions,
  ExternalCredential,
  NamedCredential,
  PrincipalCredential,
} from '../src/definitions/model.ts'
import { isCalloutError } from '../src/errors.ts'
import { newClientKey } from '../src/server/client-key.ts'
import { MasterKey } from '../src/secrets/master-key.ts'
import { Secret } from '../src/secrets/secret.ts'
import type { KyselyStore } from '../src/store/kysely-store.ts'
import { EXPIRED_FLOW_RETENTION_MS } from '../src/store/pending-authorizations-repository.ts'
import { openStore, rotateMasterKey } from '../src/store/open-store.ts'
import {
  dropTestSchemas,
  requirePostgres,
  testPostgresUrl,
  testPostgresUrlForDatabase,
} from './helpers/postgres.ts'
import { rawPostgres, rawSqlite } from './helpers/raw-sql.ts'

const PG_URL = testPostgresUrl()
const DIALECTS = ['sqlite', 'postgres'] as const
type Dialect = (typeof DIALECTS)[number]
const CANARY = 'canary-7f3a9c-secret'
const RUN_ID = `${process.pid}_${randomBytes(4).toString('hex')}`

let tmp: string
const schemas: string[] = []
let counter = 0

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'callout-store-'))
})

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
  await dropTestSchemas(schemas)
})

/** One fresh database and helpers to open stores on it and poke at its rows directly. */
interface Harness {
  readonly dialect: Dialect
  readonly masterKey: MasterKey
  open(options?: { masterKey?: MasterKey; clock?: Clock }): Promise<KyselyStore>
  /** Raw SQL with `?` placeholders, bypassing the store. */
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>
  close(): Promise<void>
}

async function harness(dialect: Dialect): Promise<Harness> {
  const n = ++counter
  const masterKey = MasterKey.generate()
  const stores: KyselyStore[] = []
  if (dialect === 'sqlite') {
    const home = join(tmp, `h${n}`)
    const path = join(home, 'callout.db')
    return {
      dialect,
      masterKey,
      async open(options = {}) {
        const store = await openStore({
          url: `sqlite:${path}`,
          home,
          masterKey: options.masterKey ?? masterKey,
          ...(options.clock === undefined ? {} : { clock: options.clock }),
        })
        stores.push(store)
        return store
      },
      async raw(sql, params = []) {
        return rawSqlite(path, sql, params)
      },
      async close() {
        await Promise.all(stores.map((s) => s.close()))
      },
    }
  }
  await requirePostgres()
  const schema = `callout_test_${RUN_ID}_${n}`
  schemas.push(schema)
  return {
    dialect,
    masterKey,
    async open(options = {}) {
      const store = await openStore({
        url: PG_URL,
        schema,
        home: join(tmp, `pg${n}`),
        masterKey: options.masterKey ?? masterKey,
        ...(options.clock === undefined ? {} : { clock: options.clock }),
      })
      stores.push(store)
      return store
    },
    raw: (sql, params = []) => rawPostgres(schema, sql, params),
    async close() {
      await Promise.all(stores.map((s) => s.close()))
    },
  }
}

function fakeClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start
  return { now: () => now, advance: (ms) => (now += ms) }
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
    return undefined
  } catch (error) {
    return isCalloutError(error) ? error.code : `non-callout: ${String(error)}`
  }
}

function provider(name: string, secret = `secret-of-${name}`): AuthProvider {
  return {
    name,
    type: 'salesforce',
    consumerKey: `ck-${name}`,
    consumerSecret: new Secret(secret),
    loginUrl: 'https://login.salesforce.com',
    usePkce: true,
    clientAuth: 'client_secret_post',
    allowInsecureHttp: false,
  }
}

function external(name: string, password = 'pw-1'): ExternalCredential {
  return {
    name,
    protocol: 'oauth2',
    flow: 'jwt-bearer',
    authProvider: 'Sf',
    scope: 'refresh_token api',
    additionalRefreshStatusCodes: [403],
    authHeaders: [{ name: 'X-Org', formula: '{!$Credential.Ext.org}', sequence: 1 }],
    jwt: { audience: ['https://login.salesforce.com'], validitySeconds: 300, algorithm: 'RS256' },
    principals: [
      {
        name: 'Integration',
        type: 'named',
        sequence: 1,
        parameters: { username: 'integration@example.com' },
        secrets: {
          password: new Secret(password),
          privateKey: new Secret('-----BEGIN PRIVATE KEY-----'),
        },
      },
      { name: 'EachUser', type: 'per-user', sequence: 2, parameters: {}, secrets: {} },
    ],
  }
}

function named(name: string, url = 'https://example.my.salesforce.com'): NamedCredential {
  return {
    name,
    label: `Label ${name}`,
    url,
    externalCredential: 'Ext',
    generateAuthorizationHeader: true,
    allowMergeFieldsInHeader: false,
    allowMergeFieldsInBody: false,
    headers: [],
    clientCertificate: {
      cert: '-----BEGIN CERTIFICATE-----',
      key: new Secret('mtls-key'),
      passphrase: new Secret('pp'),
    },
    timeoutMs: 10_000,
    redirects: 'follow-trusted',
    allowedHosts: [],
    allowRedirectsOutsideBasePath: false,
    enabled: true,
    allowInsecureHttp: false,
  }
}

function defs(parts: {
  authProviders?: AuthProvider[]
  externalCredentials?: ExternalCredential[]
  namedCredentials?: NamedCredential[]
}): Definitions {
  const byName = <T extends { name: string }>(list: T[] = []) =>
    new Map(list.map((d) => [d.name, d]))
  return {
    authProviders: byName(parts.authProviders),
    externalCredentials: byName(parts.externalCredentials),
    namedCredentials: byName(parts.namedCredentials),
  }
}

function deepReveal(value: unknown): unknown {
  if (value instanceof Secret) return { secret: value.reveal() }
  if (value instanceof Map)
    return Object.fromEntries([...value].map(([k, v]) => [k, deepReveal(v)]))
  if (Array.isArray(value)) return value.map(deepReveal)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepReveal(v)]))
  }
  return value
}

const KEY = { externalCredential: 'Ext', principal: 'Integration', userId: '' } as const

function credential(
  overrides: Partial<Omit<PrincipalCredential, 'version'>> = {},
): Omit<PrincipalCredential, 'version'> {
  return {
    ...KEY,
    status: 'authenticated',
    accessToken: new Secret('at-1'),
    refreshToken: new Secret('rt-1'),
    tokenType: 'Bearer',
    issuedAt: 1_700_000_000_123,
    expiresAt: 1_700_007_200_123,
    scope: 'api refresh_token',
    instanceUrl: 'https://example.my.salesforce.com',
    identity: { username: 'integration@example.com', userId: '005xx', orgId: '00Dxx' },
    lastRefreshAt: 1_700_000_000_456,
    ...overrides,
  }
}

for (const dialect of DIALECTS) {
  describe(`Store contract (${dialect})`, () => {
    describe('definitions', () => {
      it('round-trips definitions with their secrets', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        expect(store.dialect).toBe(dialect)
        const input = defs({
          authProviders: [provider('Sf')],
          externalCredentials: [external('Ext')],
          namedCredentials: [named('Salesforce')],
        })
        await store.applyDefinitions(input)
        const loaded = await store.loadDefinitions()
        expect(deepReveal(loaded)).toEqual(deepReveal(input))
        expect(loaded.authProviders.get('Sf')?.consumerSecret).toBeInstanceOf(Secret)
        expect(
          loaded.externalCredentials.get('Ext')?.principals[0]?.secrets['password']?.reveal(),
        ).toBe('pw-1')
        expect(loaded.namedCredentials.get('Salesforce')?.clientCertificate?.key.reveal()).toBe(
          'mtls-key',
        )
        // A second store over the same database sees the same definitions.
        const other = await h.open()
        expect(deepReveal(await other.loadDefinitions())).toEqual(deepReveal(input))
        // No plaintext secret in any definition row.
        for (const table of ['auth_providers', 'external_credentials', 'named_credentials']) {
          const rows = await h.raw(`select * from ${table}`)
          expect(rows.length).toBe(1)
          const text = JSON.stringify(rows)
          for (const secret of ['secret-of-Sf', 'pw-1', 'mtls-key', 'BEGIN PRIVATE KEY'])
            expect(text).not.toContain(secret)
        }
        await h.close()
      })

      it('reports created, updated, unchanged and deleted, pruning only when asked', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        const first = defs({
          authProviders: [provider('Sf'), provider('Other')],
          externalCredentials: [external('Ext')],
          namedCredentials: [named('Salesforce')],
        })
        expect(await store.applyDefinitions(first)).toEqual({
          created: [
            'authProvider:Sf',
            'authProvider:Other',
            'externalCredential:Ext',
            'namedCredential:Salesforce',
          ],
          updated: [],
          unchanged: [],
          deleted: [],
        })
        expect(await store.applyDefinitions(first)).toMatchObject({
          created: [],
          updated: [],
          deleted: [],
        })
        expect((await store.applyDefinitions(first)).unchanged).toHaveLength(4)

        // A changed secret alone is an update; so is a changed plain field.
        const second = defs({
          authProviders: [provider('Sf', 'rotated-secret'), provider('Other')],
          externalCredentials: [external('Ext')],
          namedCredentials: [named('Salesforce', 'https://other.my.salesforce.com')],
        })
        expect(await store.applyDefinitions(second)).toEqual({
          created: [],
          updated: ['authProvider:Sf', 'namedCredential:Salesforce'],
          unchanged: ['authProvider:Other', 'externalCredential:Ext'],
          deleted: [],
        })
        expect(
          (await store.loadDefinitions()).authProviders.get('Sf')?.consumerSecret?.reveal(),
        ).toBe('rotated-secret')

        // Without prune, missing definitions stay; with prune, they go.
        const third = defs({
          authProviders: [provider('Sf', 'rotated-secret')],
          externalCredentials: [external('Ext')],
        })
        expect(await store.applyDefinitions(third)).toEqual({
          created: [],
          updated: [],
          unchanged: ['authProvider:Sf', 'externalCredential:Ext'],
          deleted: [],
        })
        expect((await store.loadDefinitions()).namedCredentials.size).toBe(1)
        expect(await store.applyDefinitions(third, { prune: true })).toEqual({
          created: [],
          updated: [],
          unchanged: ['authProvider:Sf', 'externalCredential:Ext'],
          deleted: ['authProvider:Other', 'namedCredential:Salesforce'],
        })
        const loaded = await store.loadDefinitions()
        expect([...loaded.authProviders.keys()]).toEqual(['Sf'])
        expect(loaded.namedCredentials.size).toBe(0)
        await h.close()
      })

      it('applies all or nothing: a failure mid-way leaves the store unchanged', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.applyDefinitions(
          defs({ authProviders: [provider('Sf')], externalCredentials: [external('Ext')] }),
        )
        const before = deepReveal(await store.loadDefinitions())

        // Writes Sf (updated) and New (created) before the invalid named credential is reached.
        const badName = { ...named('Salesforce'), name: 'not a name!' }
        const attempt = {
          authProviders: new Map([
            ['Sf', provider('Sf', 'changed')],
            ['New', provider('New')],
          ]),
          externalCredentials: new Map(),
          namedCredentials: new Map([
            ['Good', named('Good')],
            ['not a name!', badName],
          ]),
        } as Definitions
        expect(await codeOf(store.applyDefinitions(attempt, { prune: true }))).toBe(
          'CONFIG_INVALID',
        )
        expect(deepReveal(await store.loadDefinitions())).toEqual(before)

        // A value JSON cannot hold (bigint) is rejected the same way.
        const withBigint = defs({
          authProviders: [provider('Sf', 'changed')],
          externalCredentials: [
            {
              ...external('Ext'),
              jwt: { validitySeconds: 300, algorithm: 'RS256', additionalClaims: { n: 1n } },
            },
          ],
        })
        expect(await codeOf(store.applyDefinitions(withBigint))).toBe('CONFIG_INVALID')
        expect(deepReveal(await store.loadDefinitions())).toEqual(before)

        // A map keyed by another name is rejected.
        const misfiled = {
          ...defs({}),
          authProviders: new Map([['Alias', provider('Sf')]]),
        } as Definitions
        expect(await codeOf(store.applyDefinitions(misfiled))).toBe('CONFIG_INVALID')
        // Hostile shapes.
        expect(await codeOf(store.applyDefinitions(null as unknown as Definitions))).toBe(
          'CONFIG_INVALID',
        )
        expect(await codeOf(store.applyDefinitions({} as Definitions))).toBe('CONFIG_INVALID')
        expect(deepReveal(await store.loadDefinitions())).toEqual(before)
        await h.close()
      })

      it('puts and deletes single definitions', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.putAuthProvider(provider('Sf'))
        await store.putAuthProvider(provider('Sf', 'second'))
        await store.putExternalCredential(external('Ext'))
        await store.putNamedCredential(named('Salesforce'))
        let loaded = await store.loadDefinitions()
        expect(loaded.authProviders.get('Sf')?.consumerSecret?.reveal()).toBe('second')
        expect(loaded.namedCredentials.get('Salesforce')?.url).toBe(
          'https://example.my.salesforce.com',
        )
        expect(await store.deleteDefinition('namedCredential', 'Salesforce')).toBe(true)
        expect(await store.deleteDefinition('namedCredential', 'Salesforce')).toBe(false)
        loaded = await store.loadDefinitions()
        expect(loaded.namedCredentials.size).toBe(0)
        expect(await codeOf(store.deleteDefinition('bogus' as 'authProvider', 'x'))).toBe(
          'INVALID_ARGUMENT',
        )
        expect(await codeOf(store.deleteDefinition('__proto__' as 'authProvider', 'x'))).toBe(
          'INVALID_ARGUMENT',
        )
        expect(
          await codeOf(
            store.putAuthProvider({ ...provider('Sf'), name: "x'; drop table auth_providers; --" }),
          ),
        ).toBe('CONFIG_INVALID')
        expect(
          await codeOf(
            store.putAuthProvider({
              ...provider('Sf'),
              name: 'Sf',
              loginUrl: (() => 1) as unknown as string,
            }),
          ),
        ).toBe('CONFIG_INVALID')
        await h.close()
      })
    })

    describe('credentials', () => {
      it('inserts at version 0 and reads back every field', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        expect(await store.getCredential(KEY)).toBeUndefined()
        const stored = await store.compareAndSetCredential(credential(), 0)
        expect(stored?.version).toBe(1)
        const read = await store.getCredential(KEY)
        expect(deepReveal(read)).toEqual(deepReveal({ ...credential(), version: 1 }))
        expect(deepReveal(stored)).toEqual(deepReveal(read))
        // A minimal record keeps optional fields absent, not undefined-valued.
        const minimal = await store.compareAndSetCredential(
          { externalCredential: 'Ext', principal: 'EachUser', userId: 'u1', status: 'pending' },
          0,
        )
        expect(minimal).toEqual({
          externalCredential: 'Ext',
          principal: 'EachUser',
          userId: 'u1',
          status: 'pending',
          version: 1,
        })
        expect(Object.keys(minimal ?? {})).toEqual([
          'externalCredential',
          'principal',
          'userId',
          'status',
          'version',
        ])
        await h.close()
      })

      it('compare-and-set: a stale version loses, and access + refresh tokens change together', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.compareAndSetCredential(credential(), 0)
        expect(
          await store.compareAndSetCredential(credential({ accessToken: new Secret('late') }), 0),
        ).toBeUndefined()
        const v2 = await store.compareAndSetCredential(
          credential({ accessToken: new Secret('at-2'), refreshToken: new Secret('rt-2') }),
          1,
        )
        expect(v2?.version).toBe(2)
        expect(
          await store.compareAndSetCredential(credential({ accessToken: new Secret('stale') }), 1),
        ).toBeUndefined()
        const read = await store.getCredential(KEY)
        expect(read?.version).toBe(2)
        expect(read?.accessToken?.reveal()).toBe('at-2')
        expect(read?.refreshToken?.reveal()).toBe('rt-2')
        await h.close()
      })

      it('two concurrent writers from two store instances: exactly one wins', async () => {
        const h = await harness(dialect)
        const a = await h.open()
        const b = await h.open()
        await a.compareAndSetCredential(credential(), 0)
        for (let round = 1; round <= 5; round++) {
          const results = await Promise.all([
            a.compareAndSetCredential(credential({ accessToken: new Secret(`a-${round}`) }), round),
            b.compareAndSetCredential(credential({ accessToken: new Secret(`b-${round}`) }), round),
          ])
          const winners = results.filter((r) => r !== undefined)
          expect(winners).toHaveLength(1)
          const read = await b.getCredential(KEY)
          expect(read?.version).toBe(round + 1)
          expect(read?.accessToken?.reveal()).toBe(winners[0]?.accessToken?.reveal())
        }
        // Concurrent first inserts: one winner.
        const key = { externalCredential: 'Ext', principal: 'EachUser', userId: 'race' }
        const inserts = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            (i % 2 === 0 ? a : b).compareAndSetCredential(
              { ...key, status: 'authenticated', accessToken: new Secret(`i${i}`) },
              0,
            ),
          ),
        )
        expect(inserts.filter((r) => r !== undefined)).toHaveLength(1)
        await h.close()
      })

      it('lists, filters and deletes', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.compareAndSetCredential(credential(), 0)
        await store.compareAndSetCredential(
          {
            externalCredential: 'Ext',
            principal: 'EachUser',
            userId: 'u2',
            status: 'needs-reauth',
          },
          0,
        )
        await store.compareAndSetCredential(
          {
            externalCredential: 'Other',
            principal: 'P',
            userId: '',
            status: 'error',
            lastError: { code: 'NEEDS_REAUTH', message: 'm', at: 5 },
          },
          0,
        )
        expect(
          (await store.listCredentials()).map(
            (c) => `${c.externalCredential}/${c.principal}/${c.userId}`,
          ),
        ).toEqual(['Ext/EachUser/u2', 'Ext/Integration/', 'Other/P/'])
        const others = await store.listCredentials({ externalCredential: 'Other' })
        expect(others).toEqual([
          {
            externalCredential: 'Other',
            principal: 'P',
            userId: '',
            status: 'error',
            lastError: { code: 'NEEDS_REAUTH', message: 'm', at: 5 },
            version: 1,
          },
        ])
        expect(await store.deleteCredential(KEY)).toBe(true)
        expect(await store.deleteCredential(KEY)).toBe(false)
        expect(await store.getCredential(KEY)).toBeUndefined()
        // Deleted means absent: version 0 inserts again.
        expect((await store.compareAndSetCredential(credential(), 0))?.version).toBe(1)
        await h.close()
      })

      it('rejects malformed and hostile credential input with INVALID_ARGUMENT', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        const bad: [string, Omit<PrincipalCredential, 'version'>, number][] = [
          ['unknown status', credential({ status: 'owned' as 'pending' }), 0],
          ['plain-string token', credential({ accessToken: CANARY as unknown as Secret }), 0],
          ['NaN expiry', credential({ expiresAt: Number.NaN }), 0],
          ['empty principal', credential({ principal: '' }), 0],
          ['long user id', credential({ userId: 'u'.repeat(256) }), 0],
          ['non-string user id', credential({ userId: 5 as unknown as string }), 0],
          ['array identity', credential({ identity: [] as unknown as { username: string } }), 0],
          ['negative version', credential(), -1],
          ['fractional version', credential(), 1.5],
        ]
        for (const [label, input, version] of bad) {
          const error = await store.compareAndSetCredential(input, version).catch((e: unknown) => e)
          expect({ label, code: isCalloutError(error) ? error.code : error }).toEqual({
            label,
            code: 'INVALID_ARGUMENT',
          })
          expect((error as Error).message).not.toContain(CANARY)
        }
        expect(
          await codeOf(
            store.getCredential({
              externalCredential: 'Ext',
              principal: "' or 1=1 --",
              userId: '',
            }),
          ),
        ).toBeUndefined()
        expect(await codeOf(store.getCredential(null as unknown as typeof KEY))).toBe(
          'INVALID_ARGUMENT',
        )
        expect(
          await codeOf(store.listCredentials({ externalCredential: 3 as unknown as string })),
        ).toBe('INVALID_ARGUMENT')
        expect(await store.listCredentials()).toEqual([])
        await h.close()
      })
    })

    describe('leases', () => {
      it('concurrent acquireLease from many promises and two instances: exactly one winner', async () => {
        const h = await harness(dialect)
        const a = await h.open()
        const b = await h.open()
        const results = await Promise.all(
          Array.from({ length: 24 }, (_, i) =>
            (i % 2 === 0 ? a : b).acquireLease('refresh:Ext/Integration/', `holder-${i}`, 30_000),
          ),
        )
        expect(results.filter(Boolean)).toHaveLength(1)
        const winner = `holder-${results.indexOf(true)}`
        const rows = await h.raw('select holder from leases where name = ?', [
          'refresh:Ext/Integration/',
        ])
        expect(rows).toEqual([{ holder: winner }])
        await h.close()
      })

      it('expires, is taken over, renews only for its holder and releases', async () => {
        const h = await harness(dialect)
        const a = await h.open()
        const b = await h.open()
        expect(await a.acquireLease('L', 'A', 2_000)).toBe(true)
        expect(await a.acquireLease('L', 'A', 2_000)).toBe(true) // re-entrant for its holder
        expect(await b.acquireLease('L', 'B', 2_000)).toBe(false)
        expect(await a.renewLease('L', 'A', 2_000)).toBe(true)
        await new Promise((resolve) => setTimeout(resolve, 2_500))
        expect(await b.acquireLease('L', 'B', 60_000)).toBe(true) // expired: taken over
        expect(await a.renewLease('L', 'A', 1_000)).toBe(false)
        await a.releaseLease('L', 'A') // no-op: not the holder
        expect(await a.acquireLease('L', 'A', 1_000)).toBe(false)
        await b.releaseLease('L', 'B')
        expect(await a.acquireLease('L', 'A', 1_000)).toBe(true)
        expect(await b.renewLease('missing', 'B', 1_000)).toBe(false)
        await h.close()
      })

      it('expire by the database clock: a process whose clock is minutes off cannot take a held lease', async () => {
        const h = await harness(dialect)
        const honest = await h.open()
        const ahead = await h.open({ clock: fakeClock(Date.now() + 10 * 60_000) })
        const behind = await h.open({ clock: fakeClock(Date.now() - 10 * 60_000) })
        expect(await honest.acquireLease('L', 'honest', 60_000)).toBe(true)
        // Ten minutes ahead, the lease looks long expired to the process; the database says no.
        expect(await ahead.acquireLease('L', 'ahead', 60_000)).toBe(false)
        expect(await ahead.renewLease('L', 'ahead', 60_000)).toBe(false)
        await honest.releaseLease('L', 'honest')
        expect(await ahead.acquireLease('L', 'ahead', 300)).toBe(true)
        // Ten minutes behind, an expired lease still looks valid to the process; the database
        // lets it be taken over.
        await new Promise((resolve) => setTimeout(resolve, 600))
        expect(await behind.acquireLease('L', 'behind', 60_000)).toBe(true)
        expect(await honest.acquireLease('L', 'honest', 60_000)).toBe(false)
        const [row] = await h.raw('select holder, expires_at from leases where name = ?', ['L'])
        expect(row?.['holder']).toBe('behind')
        expect(Math.abs(Number(row?.['expires_at']) - (Date.now() + 60_000))).toBeLessThan(10_000)
        await h.close()
      })

      it('rejects malformed lease arguments', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        for (const ttl of [0, -1, Number.NaN, Infinity, 1.5, 10 * 24 * 3600 * 1000]) {
          expect(await codeOf(store.acquireLease('L', 'A', ttl))).toBe('INVALID_ARGUMENT')
        }
        expect(await codeOf(store.acquireLease('', 'A', 1000))).toBe('INVALID_ARGUMENT')
        expect(await codeOf(store.acquireLease('L', '', 1000))).toBe('INVALID_ARGUMENT')
        expect(await codeOf(store.releaseLease('L', 7 as unknown as string))).toBe(
          'INVALID_ARGUMENT',
        )
        await h.close()
      })
    })

    describe('rate-limit counters', () => {
      it('count hits per key in one window by the database clock, and start a new window after it', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        const first = await store.rateLimits.hit('POST /login|203.0.113.9', 60_000)
        expect(first.count).toBe(1)
        expect(first.ttlMs).toBeGreaterThan(0)
        expect(first.ttlMs).toBeLessThanOrEqual(60_000)
        const hits = await Promise.all(
          Array.from({ length: 5 }, () => store.rateLimits.hit('POST /login|203.0.113.9', 60_000)),
        )
        expect(hits.map((x) => x.count).sort()).toEqual([2, 3, 4, 5, 6])
        expect((await store.rateLimits.hit('POST /login|198.51.100.1', 60_000)).count).toBe(1)
        // The window ended (moved into the past): the next hit starts a new one.
        await h.raw('update rate_limits set window_start = window_start - 60000')
        expect((await store.rateLimits.hit('POST /login|203.0.113.9', 60_000)).count).toBe(1)
        expect(await codeOf(store.rateLimits.hit('', 60_000))).toBe('INVALID_ARGUMENT')
        await h.close()
      })
    })

    describe('audit entries written with their change', () => {
      it('rolls the change back when its audit entry fails, and writes no entry for a failed change', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        // A real trigger refuses audit entries whose action is "refused".
        if (dialect === 'sqlite') {
          await h.raw(
            `create trigger refuse_audit before insert on admin_audit when new.action = 'refused'
             begin select raise(abort, 'audit refused'); end`,
          )
        } else {
          await h.raw(
            `create function refuse_audit() returns trigger language plpgsql as $$
             begin if new.action = 'refused' then raise exception 'audit refused'; end if; return new; end $$`,
          )
          await h.raw(
            `create trigger refuse_audit before insert on admin_audit for each row execute function refuse_audit()`,
          )
        }
        const entry = (action: string) => ({
          at: 1_700_000_000_000,
          actor: 'admin:alice',
          action,
          target: 'AuthProvider/Sf',
          details: {},
        })
        const actions = async () => (await store.admin.listAudit()).map((e) => e.action).sort()
        const one = defs({ authProviders: [provider('Sf')] })

        await expect(store.applyDefinitions(one, { audit: entry('refused') })).rejects.toThrow()
        expect((await store.loadDefinitions()).authProviders.size).toBe(0)
        await store.applyDefinitions(one, { audit: entry('authProvider.create') })
        expect((await store.loadDefinitions()).authProviders.has('Sf')).toBe(true)
        expect(await actions()).toEqual(['authProvider.create'])

        const { record } = newClientKey({ name: 'ci', rules: ['Sf'], anyUser: false, now: 1 })
        await expect(
          store.clientKeys.createClientKey(record, { audit: entry('refused') }),
        ).rejects.toThrow()
        expect(await store.clientKeys.listClientKeys()).toEqual([])
        await store.clientKeys.createClientKey(record, { audit: entry('clientKey.create') })
        await expect(
          store.clientKeys.revokeClientKey(record.id, { audit: entry('refused') }),
        ).rejects.toThrow()
        expect((await store.clientKeys.getClientKey(record.id))?.revokedAt).toBeUndefined()
        expect(
          await store.clientKeys.revokeClientKey(record.id, { audit: entry('clientKey.revoke') }),
        ).toBe(true)
        expect((await store.clientKeys.getClientKey(record.id))?.revokedAt).toBeDefined()

        // And the other way round: a change that fails leaves no audit entry.
        const bad = { ...provider('Bad'), name: 'not a name' } as AuthProvider
        await expect(
          store.applyDefinitions(defs({ authProviders: [bad] }), { audit: entry('bad.create') }),
        ).rejects.toThrow()
        expect(
          await store.clientKeys.revokeClientKey(record.id, { audit: entry('again.revoke') }),
        ).toBe(false)
        await expect(
          store.clientKeys.createClientKey(record, { audit: entry('dup.create') }),
        ).rejects.toThrow()
        expect(await actions()).toEqual([
          'authProvider.create',
          'clientKey.create',
          'clientKey.revoke',
        ])
        await h.close()
      })
    })

    describe('pending authorizations', () => {
      it('are single use, expire, and keep the code verifier encrypted', async () => {
        const h = await harness(dialect)
        const clock = fakeClock()
        const store = await h.open({ clock })
        const pending = {
          state: 'st_1',
          namedCredential: 'Salesforce',
          externalCredential: 'Ext',
          principal: 'Integration',
          userId: '',
          codeVerifier: new Secret('verifier-abc'),
          nonce: 'n-1',
          redirectUri: 'http://127.0.0.1:8080/callback',
          expiresAt: clock.now() + 600_000,
        }
        await store.putPendingAuthorization(pending)
        expect(await codeOf(store.putPendingAuthorization(pending))).toBe('STORE_CONFLICT')
        expect(JSON.stringify(await h.raw('select * from pending_authorizations'))).not.toContain(
          'verifier-abc',
        )
        const results = await Promise.all([
          store.takePendingAuthorization('st_1', clock.now()),
          store.takePendingAuthorization('st_1', clock.now()),
        ])
        const taken = results.filter((r) => r !== undefined)
        expect(taken).toHaveLength(1)
        expect(deepReveal(taken[0])).toEqual(deepReveal(pending))
        expect(await store.takePendingAuthorization('st_1', clock.now())).toBeUndefined()

        await store.putPendingAuthorization({
          ...pending,
          state: 'st_2',
          codeVerifier: new Secret('v2'),
        })
        const putAt = clock.now()
        clock.advance(600_000)
        expect(await store.takePendingAuthorization('st_2', clock.now())).toBeUndefined() // expired at expiresAt
        expect(await store.takePendingAuthorization('st_2', clock.now())).toBeUndefined()
        // The timed-out flow stays listed (no secret), by state and by External Credential.
        const timedOut = {
          namedCredential: 'Salesforce',
          externalCredential: 'Ext',
          principal: 'Integration',
          userId: '',
          createdAt: putAt,
          expiresAt: pending.expiresAt,
        }
        expect(await store.listPendingFlows({ state: 'st_2' })).toEqual([timedOut])
        expect(await store.listPendingFlows({ externalCredential: 'Other' })).toEqual([])
        expect(await store.listPendingFlows({ state: 'x'.repeat(10_000) })).toEqual([])
        expect(JSON.stringify(await store.listPendingFlows())).not.toContain('v2')
        // A week after it timed out, the next flow's housekeeping removes it.
        clock.advance(EXPIRED_FLOW_RETENTION_MS)
        await store.putPendingAuthorization({
          ...pending,
          state: 'st_5',
          expiresAt: clock.now() + 600_000,
        })
        expect(await store.listPendingFlows({ state: 'st_2' })).toEqual([])
        expect((await store.listPendingFlows({ externalCredential: 'Ext' }))[0]).toMatchObject({
          createdAt: clock.now(),
        })
        expect(await store.takePendingAuthorization('st_5', clock.now())).toBeDefined()

        const { codeVerifier: _omit, nonce: _n, ...noVerifier } = pending
        const fresh = { ...noVerifier, state: 'st_3', expiresAt: clock.now() + 600_000 }
        await store.putPendingAuthorization(fresh)
        expect(await store.takePendingAuthorization('st_3', clock.now())).toEqual(fresh)

        expect(await store.takePendingAuthorization('', clock.now())).toBeUndefined()
        expect(
          await store.takePendingAuthorization('x'.repeat(10_000), clock.now()),
        ).toBeUndefined()
        expect(await codeOf(store.putPendingAuthorization({ ...pending, state: '' }))).toBe(
          'INVALID_ARGUMENT',
        )
        expect(
          await codeOf(
            store.putPendingAuthorization({
              ...pending,
              state: 'st_4',
              codeVerifier: 'v' as unknown as Secret,
            }),
          ),
        ).toBe('INVALID_ARGUMENT')
        await h.close()
      })
    })

    describe('encryption at rest', () => {
      it('a corrupted ciphertext is SECRET_CORRUPT', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.compareAndSetCredential(credential(), 0)
        const [row] = await h.raw('select access_token from credentials')
        const ct = String(row?.['access_token'])
        const parts = ct.split('.')
        const body = parts[3] ?? ''
        parts[3] = (body[0] === 'A' ? 'B' : 'A') + body.slice(1)
        await h.raw('update credentials set access_token = ?', [parts.join('.')])
        expect(await codeOf(store.getCredential(KEY))).toBe('SECRET_CORRUPT')
        await h.raw('update credentials set access_token = ?', ['garbage'])
        expect(await codeOf(store.getCredential(KEY))).toBe('SECRET_CORRUPT')
        expect(await codeOf(store.listCredentials())).toBe('SECRET_CORRUPT')
        await h.close()
      })

      it('a ciphertext moved to another row or column is SECRET_CORRUPT', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        const other = { externalCredential: 'Ext', principal: 'EachUser', userId: 'u1' }
        await store.compareAndSetCredential(credential(), 0)
        await store.compareAndSetCredential(
          { ...other, status: 'authenticated', accessToken: new Secret('u1-token') },
          0,
        )
        const [source] = await h.raw(
          'select access_token, refresh_token from credentials where user_id = ?',
          [''],
        )
        // Another row.
        await h.raw('update credentials set access_token = ? where user_id = ?', [
          source?.['access_token'],
          'u1',
        ])
        expect(await codeOf(store.getCredential(other))).toBe('SECRET_CORRUPT')
        // Another column of the same row.
        await h.raw(
          'update credentials set access_token = ?, refresh_token = ? where user_id = ?',
          [source?.['refresh_token'], source?.['access_token'], ''],
        )
        expect(await codeOf(store.getCredential(KEY))).toBe('SECRET_CORRUPT')
        // Another definition's secrets: the row's integrity tag covers its secrets ciphertext.
        await store.applyDefinitions(defs({ authProviders: [provider('A'), provider('B')] }))
        const [a] = await h.raw('select secrets from auth_providers where name = ?', ['A'])
        await h.raw('update auth_providers set secrets = ? where name = ?', [a?.['secrets'], 'B'])
        expect(await codeOf(store.loadDefinitions())).toBe('STORE_TAMPERED')
        await h.close()
      })

      it('a wrong master key is MASTER_KEY_INVALID at open, before anything is written', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.compareAndSetCredential(credential(), 0)
        await store.close()
        const before = await h.raw('select id, master_key_id, wrapped_key from data_keys')
        expect(before).toHaveLength(1)
        expect(before[0]?.['master_key_id']).toBe(h.masterKey.id)
        const error = await h.open({ masterKey: MasterKey.generate() }).catch((e: unknown) => e)
        expect(error).toMatchObject({ code: 'MASTER_KEY_INVALID' })
        expect((error as Error).message).toMatch(
          /does not match the one this store was created with/,
        )
        expect(await h.raw('select id, master_key_id, wrapped_key from data_keys')).toEqual(before)
        // The right key still opens it.
        const again = await h.open()
        expect((await again.getCredential(KEY))?.accessToken?.reveal()).toBe('at-1')
        await h.close()
      })

      it('data keys record only the master key fingerprint', async () => {
        const h = await harness(dialect)
        await h.open()
        const rows = await h.raw('select * from data_keys')
        const text = JSON.stringify(rows)
        expect(text).not.toContain(h.masterKey.toBase64())
        expect(text).not.toContain(h.masterKey.reveal().toString('hex'))
        expect(text).not.toContain(h.masterKey.reveal().toString('base64url'))
        expect(rows[0]?.['master_key_id']).toMatch(/^[0-9a-f]{16}$/)
        await h.close()
      })
    })

    describe('integrity of the rows that decide where a secret goes', () => {
      const all = () =>
        defs({
          authProviders: [provider('Sf')],
          externalCredentials: [external('Ext')],
          namedCredentials: [named('Salesforce')],
        })

      it('refuses a definition or instance_url changed without the key with STORE_TAMPERED', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.applyDefinitions(all())
        await store.compareAndSetCredential(credential(), 0)
        const tamper = async (
          sql: string,
          params: unknown[],
          read: () => Promise<unknown>,
          restore: [string, unknown[]],
        ) => {
          await h.raw(sql, params)
          const error = await read().catch((e: unknown) => e)
          expect(error, sql).toMatchObject({ code: 'STORE_TAMPERED' })
          expect((error as Error).message).toMatch(/callout (apply -f|auth)/)
          await h.raw(...restore)
          await read()
        }
        for (const table of ['auth_providers', 'external_credentials', 'named_credentials']) {
          const [row] = await h.raw(`select definition, mac from ${table}`)
          const doc = JSON.parse(String(row?.['definition'])) as Record<string, unknown>
          await tamper(
            `update ${table} set definition = ?`,
            [
              JSON.stringify({
                ...doc,
                url: 'https://attacker.example',
                tokenUrl: 'https://attacker.example/t',
              }),
            ],
            () => store.loadDefinitions(),
            [`update ${table} set definition = ?`, [row?.['definition']]],
          )
          await tamper(`update ${table} set mac = null`, [], () => store.loadDefinitions(), [
            `update ${table} set mac = ?`,
            [row?.['mac']],
          ])
        }
        // A tag copied from another row does not verify: tags are bound to their row.
        await store.applyDefinitions(
          defs({
            authProviders: [provider('Sf')],
            externalCredentials: [external('Ext')],
            namedCredentials: [named('Salesforce'), named('Other')],
          }),
        )
        const [other] = await h.raw(
          'select definition, mac from named_credentials where name = ?',
          ['Other'],
        )
        const [mine] = await h.raw('select definition, mac from named_credentials where name = ?', [
          'Salesforce',
        ])
        await tamper(
          'update named_credentials set definition = ?, mac = ? where name = ?',
          [other?.['definition'], other?.['mac'], 'Salesforce'],
          () => store.loadDefinitions(),
          [
            'update named_credentials set definition = ?, mac = ? where name = ?',
            [mine?.['definition'], mine?.['mac'], 'Salesforce'],
          ],
        )
        const [cred] = await h.raw('select instance_url, mac from credentials')
        await tamper(
          'update credentials set instance_url = ?',
          ['https://attacker.example'],
          () => store.getCredential(KEY),
          ['update credentials set instance_url = ?', [cred?.['instance_url']]],
        )
        await tamper(
          'update credentials set instance_url = null',
          [],
          () => store.listCredentials(),
          ['update credentials set instance_url = ?', [cred?.['instance_url']]],
        )
        await h.close()
      })

      it('applies the URL rules again when loading', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.applyDefinitions(all())
        // Written through the Store API, which does not run the config pipeline.
        await store.putNamedCredential({ ...named('Plain'), url: 'http://api.example.com' })
        const error = await store.loadDefinitions().catch((e: unknown) => e)
        expect(error).toMatchObject({
          code: 'CONFIG_INVALID',
          details: { kind: 'namedCredential', name: 'Plain' },
        })
        expect((error as Error).message).toContain('callout apply -f')
        await store.putNamedCredential({ ...named('Plain'), allowedHosts: ['https://x.example/'] })
        expect(await codeOf(store.loadDefinitions())).toBe('CONFIG_INVALID')
        await store.putAuthProvider({
          ...provider('Sf'),
          tokenUrl: 'https://u:p@login.example.com/t',
        })
        await store.putNamedCredential(named('Plain'))
        expect(await codeOf(store.loadDefinitions())).toBe('CONFIG_INVALID')
        await store.putAuthProvider(provider('Sf'))
        expect((await store.loadDefinitions()).namedCredentials.get('Plain')?.url).toBe(
          'https://example.my.salesforce.com',
        )
        await h.close()
      })

      it('signs the rows of a schema-1 store once, on the first open with the key', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.applyDefinitions(all())
        await store.compareAndSetCredential(credential(), 0)
        const before = deepReveal({
          defs: await store.loadDefinitions(),
          cred: await store.getCredential(KEY),
        })
        await store.close()
        // Back to schema version 1, as an older Callout left it.
        for (const table of [
          'auth_providers',
          'external_credentials',
          'named_credentials',
          'credentials',
        ])
          await h.raw(`alter table ${table} drop column mac`)
        await h.raw('drop table client_keys')
        for (const table of [
          'admin_users',
          'admin_sessions',
          'admin_tokens',
          'admin_audit',
          'connect_links',
          'rate_limits',
        ])
          await h.raw(`drop table ${table}`)
        await h.raw("update callout_meta set value = '1' where key = 'schema_version'")
        const messages: string[] = []
        const upgraded = await openStore({
          ...(dialect === 'sqlite'
            ? {
                url: `sqlite:${join(tmp, `h${counter}`, 'callout.db')}`,
                home: join(tmp, `h${counter}`),
              }
            : { url: PG_URL, schema: `callout_test_${RUN_ID}_${counter}`, home: tmp }),
          masterKey: h.masterKey,
          onMigrationProgress: (m) => messages.push(m),
        })
        expect(messages).toContain('Applied migration 0002-integrity: signed the existing rows.')
        expect(
          deepReveal({
            defs: await upgraded.loadDefinitions(),
            cred: await upgraded.getCredential(KEY),
          }),
        ).toEqual(before)
        // Signed once: a later change without the key is refused.
        await h.raw('update credentials set instance_url = ?', ['https://attacker.example'])
        expect(await codeOf(upgraded.getCredential(KEY))).toBe('STORE_TAMPERED')
        await upgraded.close()
        await h.close()
      })

      it('key rotation re-signs every row but leaves a tampered row refused', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.applyDefinitions(all())
        await store.compareAndSetCredential(credential(), 0)
        await h.raw('update credentials set instance_url = ?', ['https://attacker.example'])
        const next = MasterKey.generate()
        const result = await rotateMasterKey(store, next, { reencrypt: true })
        expect(result).toMatchObject({ rowsReencrypted: 3, rowsTampered: 1 })
        const reopened = await h.open({ masterKey: next })
        expect(await codeOf(reopened.getCredential(KEY))).toBe('STORE_TAMPERED')
        expect((await reopened.loadDefinitions()).namedCredentials.get('Salesforce')?.url).toBe(
          'https://example.my.salesforce.com',
        )
        await h.close()
      })
    })

    describe('schema', () => {
      it('migrates idempotently with progress, and refuses a newer schema', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        const messages: string[] = []
        await store.migrate((m) => messages.push(m))
        await store.migrate((m) => messages.push(m))
        expect(messages).toEqual([
          'Schema is up to date (version 8).',
          'Schema is up to date (version 8).',
        ])
        await store.close()
        await h.raw("update callout_meta set value = '99' where key = 'schema_version'")
        const error = await h.open().catch((e: unknown) => e)
        expect(error).toMatchObject({
          code: 'STORE_ERROR',
          details: { schemaVersion: 99, supported: 8 },
        })
        expect((error as Error).message).toMatch(/newer/)
        await h.close()
      })

      it('concurrent first opens migrate once and create exactly one data key', async () => {
        const h = await harness(dialect)
        const stores = await Promise.all([h.open(), h.open(), h.open(), h.open()])
        expect(await h.raw('select id from data_keys')).toHaveLength(1)
        expect(await h.raw("select value from callout_meta where key = 'schema_version'")).toEqual([
          { value: '8' },
        ])
        // Each can read what another wrote.
        await stores[0]?.compareAndSetCredential(credential(), 0)
        for (const store of stores)
          expect((await store.getCredential(KEY))?.accessToken?.reveal()).toBe('at-1')
        await h.close()
      })

      it('a fresh store reports each migration', async () => {
        const h = await harness(dialect)
        const messages: string[] = []
        const store = await openStore({
          ...(dialect === 'sqlite'
            ? { url: `sqlite:${join(tmp, `fresh${++counter}`, 'c.db')}` }
            : { url: PG_URL, schema: `callout_test_${RUN_ID}_fresh` }),
          home: tmp,
          masterKey: h.masterKey,
          onMigrationProgress: (m) => messages.push(m),
        })
        if (dialect === 'postgres') schemas.push(`callout_test_${RUN_ID}_fresh`)
        await store.close()
        expect(messages).toEqual([
          'Applying migration 0001-initial (1/8)…',
          'Applying migration 0002-integrity (2/8)…',
          'Applying migration 0003-client-keys (3/8)…',
          'Applying migration 0004-notifications (4/8)…',
          'Applying migration 0005-client-key-integrity (5/8)…',
          'Applying migration 0006-admin (6/8)…',
          'Applying migration 0007-connect-links (7/8)…',
          'Applying migration 0008-rate-limits (8/8)…',
          'Schema migrated to version 8.',
        ])
      })

      it('translates driver errors to STORE_ERROR, and a closed store fails cleanly', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.close()
        expect(await codeOf(store.getCredential(KEY))).toBe('STORE_ERROR')
        expect(await codeOf(store.acquireLease('L', 'A', 1000))).toBe('STORE_ERROR')
      })
    })

    describe('key rotation', () => {
      it('re-wraps data keys and re-encrypts every secret in batches, online', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        const reader = await h.open()
        await store.applyDefinitions(
          defs({
            authProviders: [provider('Sf')],
            externalCredentials: [external('Ext')],
            namedCredentials: [named('Salesforce')],
          }),
        )
        for (let i = 0; i < 7; i++) {
          await store.compareAndSetCredential(
            {
              ...credential(),
              principal: 'EachUser',
              userId: `u${i}`,
              accessToken: new Secret(`at-u${i}`),
            },
            0,
          )
        }
        await store.putPendingAuthorization({
          state: 'st',
          namedCredential: 'Salesforce',
          externalCredential: 'Ext',
          principal: 'EachUser',
          userId: 'u1',
          codeVerifier: new Secret('verifier'),
          redirectUri: 'http://127.0.0.1/cb',
          expiresAt: Date.now() + 600_000,
        })
        const before = deepReveal({
          defs: await store.loadDefinitions(),
          creds: await store.listCredentials(),
        })
        const oldKeyIds = (await h.raw('select id from data_keys')).map((r) => r['id'])

        const next = MasterKey.generate()
        const progress: { done: number; total: number }[] = []
        const result = await rotateMasterKey(store, next, {
          reencrypt: true,
          batchSize: 3,
          onProgress: (p) => progress.push(p),
        })
        expect(result).toEqual({
          previousMasterKeyId: h.masterKey.id,
          masterKeyId: next.id,
          dataKeysRewrapped: 1,
          rowsReencrypted: 11,
          rowsTampered: 0,
        })
        expect(progress).toEqual([
          { done: 0, total: 11 },
          { done: 3, total: 11 },
          { done: 6, total: 11 },
          { done: 9, total: 11 },
          { done: 11, total: 11 },
        ])
        // Every data key is now under the new master key, and every ciphertext under the new data key.
        const keys = await h.raw('select id, master_key_id from data_keys')
        expect(keys).toHaveLength(2)
        expect(new Set(keys.map((k) => k['master_key_id']))).toEqual(new Set([next.id]))
        const freshId = keys.map((k) => k['id']).find((id) => !oldKeyIds.includes(id))
        const cts = [
          ...(await h.raw('select access_token as c from credentials')),
          ...(await h.raw('select refresh_token as c from credentials')),
          ...(await h.raw('select secrets as c from auth_providers')),
          ...(await h.raw('select code_verifier as c from pending_authorizations')),
        ].map((r) => String(r['c']))
        for (const ct of cts) expect(ct.split('.')[1]).toBe(freshId)
        // Every integrity tag is re-computed under the new data key.
        const tags = [
          ...(await h.raw('select mac as c from credentials')),
          ...(await h.raw('select mac as c from auth_providers')),
          ...(await h.raw('select mac as c from external_credentials')),
          ...(await h.raw('select mac as c from named_credentials')),
        ].map((r) => String(r['c']))
        expect(tags).toHaveLength(10)
        for (const tag of tags) expect(tag.split('.')[1]).toBe(freshId)

        // The rotating store and a fresh store with the new key read everything.
        expect(
          deepReveal({ defs: await store.loadDefinitions(), creds: await store.listCredentials() }),
        ).toEqual(before)
        const reopened = await h.open({ masterKey: next })
        expect(
          deepReveal({
            defs: await reopened.loadDefinitions(),
            creds: await reopened.listCredentials(),
          }),
        ).toEqual(before)
        expect(
          (await reopened.takePendingAuthorization('st', Date.now()))?.codeVerifier?.reveal(),
        ).toBe('verifier')
        // The old key no longer opens the store; an instance still running with it fails clearly.
        expect(await codeOf(h.open())).toBe('MASTER_KEY_INVALID')
        expect(
          await codeOf(reader.getCredential({ ...KEY, principal: 'EachUser', userId: 'u1' })),
        ).toBe('MASTER_KEY_INVALID')
        await h.close()
      })

      it('re-wraps only, keeping ciphertexts, when reencrypt is off', async () => {
        const h = await harness(dialect)
        const store = await h.open()
        await store.compareAndSetCredential(credential(), 0)
        const [before] = await h.raw('select access_token from credentials')
        const next = MasterKey.generate()
        const result = await rotateMasterKey(store, next)
        expect(result).toMatchObject({ dataKeysRewrapped: 1, rowsReencrypted: 0 })
        expect(await h.raw('select access_token from credentials')).toEqual([before])
        const reopened = await h.open({ masterKey: next })
        expect((await reopened.getCredential(KEY))?.accessToken?.reveal()).toBe('at-1')
        // The store keeps writing with the new master key's data keys.
        expect(
          (await store.compareAndSetCredential(credential({ accessToken: new Secret('at-2') }), 1))
            ?.version,
        ).toBe(2)
        expect((await reopened.getCredential(KEY))?.accessToken?.reveal()).toBe('at-2')
        await h.close()
      })
    })

    it('two store instances on one database see each other’s writes and leases', async () => {
      const h = await harness(dialect)
      const a = await h.open()
      const b = await h.open()
      await a.applyDefinitions(defs({ authProviders: [provider('Sf')] }))
      expect((await b.loadDefinitions()).authProviders.get('Sf')?.consumerSecret?.reveal()).toBe(
        'secret-of-Sf',
      )
      await b.compareAndSetCredential(credential(), 0)
      expect((await a.getCredential(KEY))?.refreshToken?.reveal()).toBe('rt-1')
      expect(await a.acquireLease('L', 'A', 60_000)).toBe(true)
      expect(await b.acquireLease('L', 'B', 60_000)).toBe(false)
      await a.releaseLease('L', 'A')
      expect(await b.acquireLease('L', 'B', 60_000)).toBe(true)
      await h.close()
    })
  })
}

describe('SQLite specifics', () => {
  it('defaults to <home>/callout.db with WAL, owner-only file mode', async () => {
    const home = join(tmp, 'default-home')
    const key = MasterKey.generate()
    const store = await openStore({ home, env: { CALLOUT_MASTER_KEY: key.toBase64() } })
    expect(store.dialect).toBe('sqlite')
    expect(store.location).toBe(join(home, 'callout.db'))
    await store.compareAndSetCredential(credential(), 0)
    expect((await stat(join(home, 'callout.db'))).mode & 0o777).toBe(0o600)
    expect((await stat(home)).mode & 0o777).toBe(0o700)
    const db = new BetterSqlite3(join(home, 'callout.db'), { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.close()
    await store.close()
  })

  it('CALLOUT_STORE selects the store', async () => {
    const path = join(tmp, 'env-selected', 'x.db')
    const store = await openStore({
      home: tmp,
      masterKey: MasterKey.generate(),
      env: { CALLOUT_STORE: `sqlite:${path}` },
    })
    expect(store.location).toBe(path)
    await store.close()
    expect(existsSync(path)).toBe(true)
  })

  it('refuses a master key file with mode 0644', async () => {
    const home = join(tmp, 'open-key')
    const { createMasterKeyFile } = await import('../src/secrets/master-key.ts')
    const { path } = await createMasterKeyFile(home)
    await chmod(path, 0o644)
    const error = await openStore({ home, env: {} }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'MASTER_KEY_INVALID',
      message: expect.stringContaining('chmod 600'),
    })
    await chmod(path, 0o600)
    const store = await openStore({ home, env: {} })
    await store.close()
  })

  it('without a key: MASTER_KEY_MISSING naming callout init', async () => {
    const error = await openStore({ home: join(tmp, 'no-key'), env: {} }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'MASTER_KEY_MISSING',
      message: expect.stringContaining('callout init'),
    })
  })

  it('an unopenable file is STORE_ERROR naming the path', async () => {
    const path = join(tmp, 'not-a-db.db')
    await writeFile(path, 'this is not a sqlite database, just text '.repeat(50), { mode: 0o600 })
    const error = await openStore({
      url: `sqlite:${path}`,
      home: tmp,
      masterKey: MasterKey.generate(),
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'STORE_ERROR', details: { driverCode: 'SQLITE_NOTADB' } })
    expect((error as Error).message).toContain(path)
    const dirError = await openStore({
      url: `sqlite:${tmp}`,
      home: tmp,
      masterKey: MasterKey.generate(),
    }).catch((e: unknown) => e)
    expect(dirError).toMatchObject({ code: 'STORE_ERROR' })
  })

  it('canary: a planted secret never reaches the database files or an error message', async () => {
    const home = join(tmp, 'canary')
    const path = join(home, 'callout.db')
    const store = await openStore({ url: `sqlite:${path}`, home, masterKey: MasterKey.generate() })
    await store.applyDefinitions(
      defs({
        authProviders: [provider('Sf', CANARY)],
        externalCredentials: [external('Ext', CANARY)],
        namedCredentials: [named('Salesforce')],
      }),
    )
    await store.compareAndSetCredential(
      credential({ accessToken: new Secret(CANARY), refreshToken: new Secret(`${CANARY}-rt`) }),
      0,
    )
    await store.putPendingAuthorization({
      state: 'st',
      namedCredential: 'Salesforce',
      externalCredential: 'Ext',
      principal: 'Integration',
      userId: '',
      codeVerifier: new Secret(CANARY),
      redirectUri: 'http://127.0.0.1/cb',
      expiresAt: Date.now() + 60_000,
    })
    const errors: unknown[] = []
    const collect = async (p: Promise<unknown>) => p.catch((e: unknown) => errors.push(e))
    // Failures with the canary in play.
    await collect(
      store.compareAndSetCredential(
        credential({ status: 'bad' as 'error', accessToken: new Secret(CANARY) }),
        0,
      ),
    )
    await collect(
      store.applyDefinitions(
        defs({ authProviders: [{ ...provider('Sf', CANARY), name: 'bad name' }] }),
      ),
    )
    const raw = new BetterSqlite3(path)
    const [row] = raw.prepare('select access_token, refresh_token from credentials').all() as {
      access_token: string
      refresh_token: string
    }[]
    raw.prepare('update credentials set access_token = ?').run(row?.refresh_token)
    const [ap] = raw.prepare('select secrets from auth_providers').all() as { secrets: string }[]
    raw.prepare('update auth_providers set secrets = ?').run(row?.access_token)
    raw.close()
    await collect(store.getCredential(KEY))
    await collect(store.loadDefinitions())
    // Re-applying the definition rewrites the tampered row.
    await collect(store.applyDefinitions(defs({ authProviders: [provider('Sf', CANARY)] })))
    expect(errors.map((e) => (isCalloutError(e) ? e.code : e))).toEqual([
      'INVALID_ARGUMENT',
      'CONFIG_INVALID',
      'SECRET_CORRUPT',
      'STORE_TAMPERED',
    ])
    expect((await store.loadDefinitions()).authProviders.get('Sf')?.consumerSecret?.reveal()).toBe(
      CANARY,
    )
    expect(ap?.secrets).toMatch(/^v1\./)

    const existing = () => [path, `${path}-wal`, `${path}-shm`].filter((f) => existsSync(f))
    expect(existing()).toContain(`${path}-wal`)
    expect((await readFile(`${path}-wal`)).length).toBeGreaterThan(0)
    const scan = async () => {
      for (const file of existing()) {
        const bytes = await readFile(file)
        expect(bytes.includes(Buffer.from(CANARY)), file).toBe(false)
        expect(bytes.includes(Buffer.from(CANARY, 'utf16le')), file).toBe(false)
      }
    }
    await scan()
    await store.close() // checkpoints the WAL into the main file
    await scan()
    for (const error of errors) {
      expect(isCalloutError(error)).toBe(true)
      const e = error as Error & { details?: unknown; cause?: unknown }
      const text = [
        e.message,
        String(e.stack),
        JSON.stringify(e),
        JSON.stringify(e.details),
        String(e.cause),
      ].join('\n')
      expect(text).not.toContain(CANARY)
    }
  })
})

describe('PostgreSQL specifics', () => {
  it('connection refused is STORE_UNREACHABLE naming the URL without its password', async () => {
    const error = await openStore({
      url: 'postgres://callout:hunter2-canary@127.0.0.1:1/db',
      home: tmp,
      masterKey: MasterKey.generate(),
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'STORE_UNREACHABLE',
      details: { driverCode: 'ECONNREFUSED' },
    })
    const message = (error as Error).message
    expect(message).toContain('postgres://callout@127.0.0.1:1/db')
    expect(message).toMatch(/PostgreSQL is running/)
    expect(JSON.stringify(error)).not.toContain('hunter2')
  })

  it('a missing database is STORE_ERROR with advice', async () => {
    await requirePostgres()
    const error = await openStore({
      url: testPostgresUrlForDatabase('no_such_db_callout'),
      home: tmp,
      masterKey: MasterKey.generate(),
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'STORE_ERROR', details: { driverCode: '3D000' } })
    expect((error as Error).message).toMatch(/does not exist/)
  })

  it('rejects an unsafe schema name', async () => {
    const error = await openStore({
      url: PG_URL,
      schema: 'x; drop schema public',
      home: tmp,
      masterKey: MasterKey.generate(),
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})

describe('PostgreSQL at rest: no plaintext secret in any column', () => {
  it('planted secrets and tokens never appear in any column of any table (raw SQL)', async () => {
    const h = await harness('postgres')
    const store = await h.open()
    const planted = {
      consumerSecret: `${CANARY}-consumer`,
      password: `${CANARY}-password`,
      accessToken: `${CANARY}-access`,
      refreshToken: `${CANARY}-refresh`,
      codeVerifier: `${CANARY}-verifier`,
      mtlsKey: `${CANARY}-mtls-key`,
      passphrase: `${CANARY}-passphrase`,
    }
    const nc = named('Salesforce')
    await store.applyDefinitions(
      defs({
        authProviders: [provider('Sf', planted.consumerSecret)],
        externalCredentials: [external('Ext', planted.password)],
        namedCredentials: [
          {
            ...nc,
            clientCertificate: {
              cert: '-----BEGIN CERTIFICATE-----',
              key: new Secret(planted.mtlsKey),
              passphrase: new Secret(planted.passphrase),
            },
          },
        ],
      }),
    )
    const stored = await store.compareAndSetCredential(
      credential({
        accessToken: new Secret(planted.accessToken),
        refreshToken: new Secret(planted.refreshToken),
      }),
      0,
    )
    // A rotation writes both tokens again: scan what the second write left, too.
    await store.compareAndSetCredential(
      credential({
        accessToken: new Secret(`${planted.accessToken}-2`),
        refreshToken: new Secret(`${planted.refreshToken}-2`),
      }),
      stored!.version,
    )
    await store.putPendingAuthorization({
      state: 'st',
      namedCredential: 'Salesforce',
      externalCredential: 'Ext',
      principal: 'Integration',
      userId: '',
      codeVerifier: new Secret(planted.codeVerifier),
      redirectUri: 'http://127.0.0.1/cb',
      expiresAt: Date.now() + 60_000,
    })
    // Each secret really went in: the store gives every one of them back.
    const loaded = JSON.stringify(deepReveal(await store.loadDefinitions()))
    for (const secret of [planted.consumerSecret, planted.password, planted.mtlsKey])
      expect(loaded).toContain(secret)
    expect((await store.getCredential(KEY))?.refreshToken?.reveal()).toBe(
      `${planted.refreshToken}-2`,
    )

    const needles = Object.values(planted).flatMap((secret) => [
      secret,
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret).toString('hex'),
    ])
    const tables = await h.raw(
      'select table_name from information_schema.tables where table_schema = current_schema()',
    )
    const names = tables.map((t) => String(t.table_name)).sort()
    expect(names).toEqual(
      expect.arrayContaining([
        'auth_providers',
        'credentials',
        'data_keys',
        'external_credentials',
        'leases',
        'named_credentials',
        'pending_authorizations',
      ]),
    )
    const leaks: string[] = []
    const rowsPerTable: Record<string, number> = {}
    for (const table of names) {
      const rows = await h.raw(`select * from "${table}"`)
      rowsPerTable[table] = rows.length
      for (const row of rows) {
        for (const [column, value] of Object.entries(row)) {
          if (value === null) continue
          const bytes = Buffer.isBuffer(value)
            ? value
            : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))
          for (const needle of needles) {
            if (
              bytes.includes(Buffer.from(needle)) ||
              bytes.includes(Buffer.from(needle, 'utf16le'))
            )
              leaks.push(`${table}.${column} holds ${needle.slice(0, 24)}…`)
          }
        }
      }
    }
    // The scan read the rows that hold the secrets.
    expect(rowsPerTable).toMatchObject({
      auth_providers: 1,
      external_credentials: 1,
      named_credentials: 1,
      credentials: 1,
      pending_authorizations: 1,
    })
    expect(leaks).toEqual([])
    await h.close()
  })
})
