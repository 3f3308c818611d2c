/**
 * `callout migrate --from <store> --to <store>`: real SQLite files and real PostgreSQL databases
 * (one per test, dropped afterwards). A copied store serves callouts with the copied credential,
 * without re-authenticating; the copy round-trips back to SQLite; integrity tags hold on the
 * target; bad input is refused and loses nothing.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBroker } from '../../src/index.ts'
import { Secret } from '../../src/secrets/secret.ts'
import { generateClientKey } from '../../src/server/client-key.ts'
import { COPIED_TABLES, TABLES_NOT_COPIED } from '../../src/store/copy-store.ts'
import type { KyselyStore } from '../../src/store/kysely-store.ts'
import { openStore } from '../../src/store/open-store.ts'
import {
  authProvider,
  definitions,
  externalCredential,
  namedCredential,
} from '../helpers/callout-fixtures.ts'
import { TokenServer, Upstream } from '../helpers/callout-servers.ts'
import { requirePostgres, testPostgresUrlForDatabase, withPostgres } from '../helpers/postgres.ts'
import { rawSqlite } from '../helpers/raw-sql.ts'
import { runCli } from './helpers.ts'

const RUN_ID = `${process.pid}_${randomBytes(4).toString('hex')}`
const KEY = { externalCredential: 'Api', principal: 'Default', userId: '' }
const CLIENT_SECRET = 'copy-test-client-secret-5b1e'

let tmp: string
let counter = 0
const databases: string[] = []

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'callout-copy-'))
})

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
  if (databases.length > 0) {
    await withPostgres(async (client) => {
      for (const name of databases)
        await client.query(`drop database if exists "${name}" with (force)`)
    })
  }
})

/** A fresh home with its own master key. */
async function home(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = join(tmp, `home${++counter}`)
  return {
    dir,
    env: { CALLOUT_HOME: dir, CALLOUT_MASTER_KEY: randomBytes(32).toString('base64') },
  }
}

/** A new, empty PostgreSQL database for this test; its URL. */
async function database(): Promise<string> {
  await requirePostgres()
  const name = `callout_copy_${RUN_ID}_${++counter}`
  databases.push(name)
  await withPostgres((client) => client.query(`create database "${name}"`))
  return testPostgresUrlForDatabase(name)
}

/** Runs raw SQL in a test database, bypassing Callout. */
async function rawDatabase(url: string, sql: string, params: unknown[] = []): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(sql, params)).rows
  } finally {
    await client.end()
  }
}

function deepReveal(value: unknown): unknown {
  if (value instanceof Secret) return `secret:${value.reveal()}`
  if (value instanceof Map)
    return Object.fromEntries([...value].map(([k, v]) => [k, deepReveal(v)]))
  if (Array.isArray(value)) return value.map(deepReveal)
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepReveal(v)]))
  return value
}

/** Everything a store holds, secrets revealed, for comparing two stores. */
async function contents(store: KyselyStore): Promise<unknown> {
  return deepReveal({
    definitions: await store.loadDefinitions(),
    credentials: await store.listCredentials(),
    keys: await store.clientKeys.listClientKeys(),
    adminUser: await store.admin.getAdminUser('alice'),
    adminSession: await store.admin.getSession('session-hash-copied', Date.now()),
    adminTokens: await store.admin.listAdminTokens(),
    audit: await store.admin.listAudit(),
  })
}

/** Fills a store: a browser-flow credential with stored tokens, a client key, a pending flow. */
async function fill(
  store: KyselyStore,
  servers: { tokenUrl: string; upstream: string },
): Promise<void> {
  await store.applyDefinitions(
    definitions({
      authProviders: [
        authProvider({
          tokenUrl: servers.tokenUrl,
          authorizeUrl: 'https://login.example.com/authorize',
          consumerSecret: new Secret(CLIENT_SECRET),
          allowInsecureHttp: true,
        }),
      ],
      externalCredentials: [externalCredential({ flow: 'browser' })],
      namedCredentials: [
        namedCredential({ url: `${servers.upstream}/v1`, allowInsecureHttp: true }),
      ],
    }),
  )
  const now = Date.now()
  const stored = await store.compareAndSetCredential(
    {
      ...KEY,
      status: 'authenticated',
      accessToken: new Secret('token-copied'),
      refreshToken: new Secret('refresh-0'),
      tokenType: 'Bearer',
      issuedAt: now,
      expiresAt: now + 3_600_000,
    },
    0,
  )
  expect(stored?.version).toBe(1)
  const { id, hash } = generateClientKey()
  await store.clientKeys.createClientKey({
    id,
    name: 'ci-bot',
    rules: ['Api:GET'],
    anyUser: false,
    keyHash: hash,
    createdAt: now,
  })
  await store.admin.createAdminUser({
    id: 'adm_1',
    username: 'alice',
    passwordHash: 'scrypt$not-a-real-hash',
    createdAt: now,
    updatedAt: now,
  })
  await store.admin.openSession({
    idHash: 'session-hash-copied',
    userId: 'adm_1',
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 3_600_000,
  })
  await store.admin.createAdminToken({
    id: 'tok_1',
    name: 'deploy',
    tokenHash: 'a'.repeat(64),
    createdBy: 'alice',
    createdAt: now,
  })
  await store.admin.appendAudit({
    at: now,
    actor: 'alice',
    action: 'apply',
    target: 'Api',
    details: {},
  })
  await store.putPendingAuthorization({
    state: 'state-copied',
    namedCredential: 'Api',
    externalCredential: 'Api',
    principal: 'Default',
    userId: '',
    codeVerifier: new Secret('verifier-copied-0123456789'),
    redirectUri: 'http://127.0.0.1/callback',
    expiresAt: now + 600_000,
  })
}

/** A SQLite store in a fresh home, filled offline; what it holds. */
async function filledSqlite(): Promise<{
  h: Awaited<ReturnType<typeof home>>
  path: string
  before: unknown
}> {
  const h = await home()
  const path = join(h.dir, 'source.db')
  const store = await openStore({ url: `sqlite:${path}`, home: h.dir, env: h.env })
  await fill(store, {
    tokenUrl: 'https://login.example.com/token',
    upstream: 'https://api.example.com',
  })
  const before = await contents(store)
  await store.close()
  return { h, path, before }
}

describe('callout migrate --from --to', () => {
  it('copies SQLite to PostgreSQL, serves callouts there without re-authenticating, and copies back', async () => {
    const h = await home()
    const tokens = await new TokenServer().start()
    const upstream = await new Upstream(tokens).start()
    try {
      const sourcePath = join(h.dir, 'source.db')
      const source = await openStore({ url: `sqlite:${sourcePath}`, home: h.dir, env: h.env })
      await fill(source, { tokenUrl: tokens.tokenUrl, upstream: upstream.origin })
      const before = await contents(source)
      await source.close()
      tokens.current = 'token-copied'

      const pgUrl = await database()
      const copy = await runCli(['migrate', '--from', `sqlite:${sourcePath}`, '--to', pgUrl], h.env)
      expect(copy.stderr).toBe('')
      expect(copy.code).toBe(0)
      expect(copy.stdout).toContain('copying credentials: 1/1')
      expect(copy.stdout).toMatch(/^ {2}credentials +1 \/ 1 {2}ok$/m)
      expect(copy.stdout).toMatch(/^ {2}data_keys +1 \/ 1 {2}ok$/m)
      expect(copy.stdout).toMatch(/^ {2}client_keys +1 \/ 1 {2}ok$/m)
      // 3 definitions, 1 credential, 1 client key.
      expect(copy.stdout).toContain('integrity tags verified on the target: 5 rows')
      for (const secret of ['token-copied', 'refresh-0', CLIENT_SECRET, 'verifier-copied']) {
        expect(copy.stdout).not.toContain(secret)
      }
      // Secrets crossed encrypted: no plaintext in any row of the target.
      for (const table of ['credentials', 'auth_providers', 'pending_authorizations']) {
        const dump = JSON.stringify(await rawDatabase(pgUrl, `select * from ${table}`))
        for (const secret of ['token-copied', 'refresh-0', CLIENT_SECRET, 'verifier-copied']) {
          expect(dump).not.toContain(secret)
        }
      }

      // A broker on the target calls with the copied token: no token request.
      const target = await openStore({ url: pgUrl, home: h.dir, env: h.env })
      expect(await contents(target)).toEqual(before)
      const pending = await target.takePendingAuthorization('state-copied', Date.now())
      expect(pending?.codeVerifier?.reveal()).toBe('verifier-copied-0123456789')
      const broker = await openBroker({ store: target, env: h.env })
      const first = await broker.fetch('callout:Api/items')
      expect(first.status).toBe(200)
      await first.text()
      expect(tokens.requests).toBe(0)
      expect(upstream.seen.at(-1)?.authorization).toBe('Bearer token-copied')
      // The copied refresh token works too: the upstream stops accepting the access token.
      tokens.current = 'rotated-elsewhere'
      const second = await broker.fetch('callout:Api/items')
      expect(second.status).toBe(200)
      await second.text()
      expect(tokens.grants).toEqual(['refresh_token'])
      expect(tokens.refreshTokensSeen).toEqual(['refresh-0'])
      await broker.close()
      const afterRefresh = await contents(target)
      await target.close()

      // And back to a new SQLite file.
      const backPath = join(h.dir, 'back.db')
      const back = await runCli(['migrate', '--from', pgUrl, '--to', `sqlite:${backPath}`], h.env)
      expect(back.stderr).toBe('')
      expect(back.code).toBe(0)
      const returned = await openStore({ url: `sqlite:${backPath}`, home: h.dir, env: h.env })
      expect(await contents(returned)).toEqual(afterRefresh)
      await returned.close()
    } finally {
      await tokens.listening.close()
      await upstream.listening.close()
    }
  })

  it('keeps integrity tags working on the target: a row tampered there is refused', async () => {
    const { h, path: sourcePath } = await filledSqlite()
    const pgUrl = await database()
    expect(
      (await runCli(['migrate', '--from', `sqlite:${sourcePath}`, '--to', pgUrl], h.env)).code,
    ).toBe(0)
    await rawDatabase(pgUrl, 'update credentials set instance_url = $1', [
      'https://attacker.example',
    ])
    await rawDatabase(
      pgUrl,
      `update named_credentials set definition = replace(definition, 'api.example.com', 'attacker.example')`,
    )
    await rawDatabase(pgUrl, `update client_keys set rules = '["Api"]'`)
    const target = await openStore({ url: pgUrl, home: h.dir, env: h.env })
    const codeOf = (p: Promise<unknown>): Promise<unknown> =>
      p.then(
        () => 'resolved',
        (e: unknown) => (e as { code?: unknown }).code,
      )
    expect(await codeOf(target.getCredential(KEY))).toBe('STORE_TAMPERED')
    expect(await codeOf(target.loadDefinitions())).toBe('STORE_TAMPERED')
    expect(await codeOf(target.clientKeys.listClientKeys())).toBe('STORE_TAMPERED')
    await target.close()
  })

  it('copies a row that failed its check in the source as it was, says so, and it stays refused', async () => {
    const { h, path: sourcePath } = await filledSqlite()
    rawSqlite(sourcePath, `update client_keys set any_user = 1`)
    const targetPath = join(h.dir, 'target.db')
    const copy = await runCli(
      ['migrate', '--from', `sqlite:${sourcePath}`, '--to', `sqlite:${targetPath}`],
      h.env,
    )
    expect(copy.code).toBe(0)
    expect(copy.stdout).toContain('integrity tags verified on the target: 4 rows')
    expect(copy.stderr).toMatch(
      /^warning: 1 rows failed their integrity check .*client_keys:[0-9a-f]{12}$/m,
    )
    const target = await openStore({ url: `sqlite:${targetPath}`, home: h.dir, env: h.env })
    await expect(target.clientKeys.listClientKeys()).rejects.toMatchObject({
      code: 'STORE_TAMPERED',
    })
    await target.close()
  })

  describe('bad input is refused and loses nothing', () => {
    async function unchanged(
      h: Awaited<ReturnType<typeof home>>,
      url: string,
      before: unknown,
    ): Promise<void> {
      const store = await openStore({ url, home: h.dir, env: h.env })
      expect(await contents(store)).toEqual(before)
      await store.close()
    }

    it('the same store twice: the same path, a relative path, a symlink, another spelling of one database', async () => {
      const { h, path, before } = await filledSqlite()
      await symlink(path, join(h.dir, 'alias.db'))
      for (const [from, to, cwd] of [
        [`sqlite:${path}`, `sqlite:${path}`, tmp],
        [`sqlite:${path}`, 'sqlite:./source.db', h.dir],
        [`sqlite:${path}`, `sqlite:${join(h.dir, 'alias.db')}`, tmp],
      ] as const) {
        for (const overwrite of [[], ['--overwrite']]) {
          const run = await runCli(['migrate', '--from', from, '--to', to, ...overwrite], h.env, {
            cwd,
          })
          expect(run.code).not.toBe(0)
          expect(run.stderr).toMatch(
            /^error INVALID_ARGUMENT: --from and --to name the same store/m,
          )
        }
      }
      await unchanged(h, `sqlite:${path}`, before)

      // One PostgreSQL database under two host names: found by a marker, not by the URL.
      const pgUrl = await database()
      expect(
        (await runCli(['migrate', '--from', `sqlite:${path}`, '--to', pgUrl], h.env)).code,
      ).toBe(0)
      const alias = new URL(pgUrl)
      alias.hostname = 'localhost'
      const run = await runCli(
        ['migrate', '--from', pgUrl, '--to', alias.href, '--overwrite'],
        h.env,
      )
      expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: --from and --to name the same store/m)
      await unchanged(h, pgUrl, before)
    })

    it('a row the target refuses half-way: the copy lands whole or not at all', async () => {
      const { h, path, before } = await filledSqlite()
      // SQLite does not enforce varchar lengths; PostgreSQL refuses this id (varchar(32)).
      rawSqlite(
        path,
        "insert into admin_audit (id, at, actor, action, target, details) values (?, 1, 'a', 'b', 'c', '{}')",
        ['x'.repeat(40)],
      )
      const pgUrl = await database()
      const run = await runCli(['migrate', '--from', `sqlite:${path}`, '--to', pgUrl], h.env)
      expect(run.code).not.toBe(0)
      expect(run.stderr).toMatch(/^error STORE_ERROR: /m)
      for (const table of ['auth_providers', 'credentials', 'client_keys', 'admin_users']) {
        expect(await rawDatabase(pgUrl, `select 1 from ${table}`), table).toEqual([])
      }
      rawSqlite(path, 'delete from admin_audit where length(id) = 40')
      await unchanged(h, `sqlite:${path}`, before)
      // Fixed, the same target takes the copy: nothing was left behind.
      expect(
        (await runCli(['migrate', '--from', `sqlite:${path}`, '--to', pgUrl], h.env)).code,
      ).toBe(0)
      await unchanged(h, pgUrl, before)
    })

    it('an unreachable target', async () => {
      const { h, path, before } = await filledSqlite()
      const run = await runCli(
        ['migrate', '--from', `sqlite:${path}`, '--to', 'postgres://postgres@127.0.0.1:1/nowhere'],
        h.env,
      )
      expect(run.code).not.toBe(0)
      expect(run.stderr).toMatch(/^error STORE_UNREACHABLE: .*127\.0\.0\.1:1/m)
      await unchanged(h, `sqlite:${path}`, before)
    })

    it('a non-empty target, unless --overwrite', async () => {
      const { h, path, before } = await filledSqlite()
      const pgUrl = await database()
      const other = await openStore({ url: pgUrl, home: h.dir, env: h.env })
      await other.applyDefinitions(
        definitions({ authProviders: [authProvider({ name: 'Elsewhere' })] }),
      )
      const theirs = await contents(other)
      await other.close()
      const run = await runCli(['migrate', '--from', `sqlite:${path}`, '--to', pgUrl], h.env)
      expect(run.code).not.toBe(0)
      expect(run.stderr).toMatch(/^error STORE_NOT_EMPTY: .*auth_providers \(1\).*--overwrite/m)
      await unchanged(h, pgUrl, theirs)
      await unchanged(h, `sqlite:${path}`, before)

      const forced = await runCli(
        ['migrate', '--from', `sqlite:${path}`, '--to', pgUrl, '--overwrite'],
        h.env,
      )
      expect(forced.code).toBe(0)
      await unchanged(h, pgUrl, before)
    })

    it('a store created with another master key, on either side', async () => {
      const { h, path, before } = await filledSqlite()
      const stranger = await home()
      // The target was created with another key.
      const pgUrl = await database()
      const theirs = await openStore({ url: pgUrl, home: stranger.dir, env: stranger.env })
      await theirs.close()
      const run = await runCli(['migrate', '--from', `sqlite:${path}`, '--to', pgUrl], h.env)
      expect(run.code).not.toBe(0)
      expect(run.stderr).toMatch(
        /^error MASTER_KEY_INVALID: The --to store .* was created with another master key/m,
      )
      expect(run.stderr).toContain('callout rotate-key')
      // The source does not open with the key in use.
      const wrong = await runCli(
        ['migrate', '--from', `sqlite:${path}`, '--to', `sqlite:${join(h.dir, 'new.db')}`],
        stranger.env,
      )
      expect(wrong.code).not.toBe(0)
      expect(wrong.stderr).toMatch(/^error MASTER_KEY_INVALID: The --from store/m)
      expect(wrong.stderr).not.toContain(h.env.CALLOUT_MASTER_KEY)
      await unchanged(h, `sqlite:${path}`, before)
    })

    it('malformed flags', async () => {
      const { h, path, before } = await filledSqlite()
      const cases: [string[], RegExp][] = [
        [['--from', `sqlite:${path}`], /^error INVALID_ARGUMENT: .*--to is missing/m],
        [['--to', `sqlite:${path}`], /^error INVALID_ARGUMENT: .*--from is missing/m],
        [['--overwrite'], /^error INVALID_ARGUMENT: --overwrite is for copying a store/m],
        [
          ['--from', `sqlite:${path}`, '--to', 'mysql://root@db/x'],
          /^error CONFIG_INVALID: --to is not a store URL/m,
        ],
        [
          ['--from', `sqlite:${path}`, '--to', ':memory:'],
          /^error INVALID_ARGUMENT: --to needs a store/m,
        ],
        [
          [
            '--from',
            `sqlite:${join(h.dir, 'missing.db')}`,
            '--to',
            `sqlite:${join(h.dir, 'x.db')}`,
          ],
          /^error INVALID_ARGUMENT: --from names no store/m,
        ],
        [
          ['--from', 'postgres://user:hunter2@[::1', '--to', `sqlite:${path}`],
          /^error CONFIG_INVALID: --from is not a store URL/m,
        ],
      ]
      for (const [args, expected] of cases) {
        const run = await runCli(['migrate', ...args], h.env)
        expect(run.code, args.join(' ')).not.toBe(0)
        expect(run.stderr).toMatch(expected)
        expect(run.stderr).not.toContain('hunter2')
      }
      await unchanged(h, `sqlite:${path}`, before)
    })
  })

  it('carries every table of the schema, or says why not', async () => {
    const h = await home()
    const path = join(h.dir, 'fresh.db')
    const store = await openStore({ url: `sqlite:${path}`, home: h.dir, env: h.env })
    await store.close()
    const tables = rawSqlite(
      path,
      "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'",
    )
      .map((row) => String(row['name']))
      .sort()
    expect(tables).toEqual([...COPIED_TABLES.map((t) => t.table), ...TABLES_NOT_COPIED].sort())
  })

  it('callout migrate alone still upgrades the schema', async () => {
    const h = await home()
    const run = await runCli(['migrate'], h.env)
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/schema version \d+ \(up to date\)/)
  })
})
