/**
 * Every audited change writes its audit entry in the change's own transaction, on both dialects
 * (SQLite in a temp dir, PostgreSQL in a schema of its own): a real trigger in the database
 * refuses the entry of one action, and the change must then not have happened, with a clear
 * `STORE_ERROR`. Covered: admin creation and password change, counted login failures, logins
 * (session and failure counter), logouts, admin API tokens (create, revoke), connect links
 * (create, open), a browser flow (its pending authorization, its tokens), a token obtained now
 * through the admin API's authenticate (the token and its entry) and revocation (the
 * tokens stay stored when their removal cannot be audited, even after the authorization server
 * revoked them).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBroker } from '../src/callout/open-broker.ts'
import { hashToken, mintConnectLink, useConnectLink } from '../src/callout/connect-links.ts'
import { systemClock } from '../src/clock.ts'
import type { CredentialKey, Definitions } from '../src/definitions/model.ts'
import { Secret } from '../src/secrets/secret.ts'
import { MasterKey } from '../src/secrets/master-key.ts'
import { AdminAuth } from '../src/server/admin/admin-auth.ts'
import type { StatusReport } from '../src/callout/status-report.ts'
import { ADMIN_OPERATIONS } from '../src/server/console/admin-api.ts'
import { DefinitionsService } from '../src/server/console/definitions-service.ts'
import { revokeAudited } from '../src/server/console/revoke-audited.ts'
import type { AuditEntry } from '../src/store/admin.ts'
import type { KyselyStore } from '../src/store/kysely-store.ts'
import { openStore } from '../src/store/open-store.ts'
import { listen, readBody, type Listening } from './e2e/helpers/e2e.ts'
import {
  authProvider,
  definitions,
  externalCredential,
  namedCredential,
  principal,
} from './helpers/callout-fixtures.ts'
import {
  dropTestSchemas,
  requirePostgres,
  testPostgresUrl,
  testSchemaName,
} from './helpers/postgres.ts'
import { rawPostgres, rawSqlite } from './helpers/raw-sql.ts'

const PASSWORD = 'correct horse battery staple'
/** Cheap scrypt for tests (production cost is the default). */
const CHEAP = { N: 2 ** 10, r: 8, p: 1 }

let tmp: string
const schemas: string[] = []
/** The revocation endpoint: answers 200 and counts what it was sent. */
let revocation: Listening
const revoked: string[] = []
/** The token endpoint of a browser flow: issues a token set for any code. */
let tokenEndpoint: Listening
let issued = 0

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'callout-audit-tx-'))
  revocation = await listen((req, res) => {
    void readBody(req).then((body) => {
      revoked.push(new URLSearchParams(body).get('token') ?? '')
      res.writeHead(200).end()
    })
  })
  tokenEndpoint = await listen((req, res) => {
    void readBody(req).then(() => {
      issued++
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          access_token: `access-${issued}`,
          refresh_token: `refresh-${issued}`,
          token_type: 'Bearer',
          expires_in: 3600,
        }),
      )
    })
  })
})

afterAll(async () => {
  await revocation.close()
  await tokenEndpoint.close()
  await dropTestSchemas(schemas)
  await rm(tmp, { recursive: true, force: true })
})

/** A fresh store of `dialect` whose `admin_audit` refuses the actions listed in `refused_audit`. */
async function refusingStore(dialect: 'sqlite' | 'postgres') {
  const masterKey = MasterKey.generate()
  const home = await mkdtemp(join(tmp, 'h'))
  let store: KyselyStore
  let raw: (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>
  if (dialect === 'sqlite') {
    const path = join(home, 'callout.db')
    store = await openStore({ url: `sqlite:${path}`, home, masterKey, env: {} })
    raw = async (sql, params) => rawSqlite(path, sql, params)
    await raw('create table refused_audit (action text primary key)')
    await raw(
      `create trigger refuse_audit before insert on admin_audit
       when new.action in (select action from refused_audit)
       begin select raise(abort, 'audit refused'); end`,
    )
  } else {
    await requirePostgres()
    const schema = testSchemaName('callout_audit_tx')
    schemas.push(schema)
    store = await openStore({ url: testPostgresUrl(), schema, home, masterKey, env: {} })
    raw = (sql, params) => rawPostgres(schema, sql, params)
    await raw('create table refused_audit (action text primary key)')
    await raw(
      `create function refuse_audit() returns trigger language plpgsql as $$
       begin
         if exists (select 1 from refused_audit where action = new.action) then
           raise exception 'audit refused';
         end if;
         return new;
       end $$`,
    )
    await raw(
      'create trigger refuse_audit before insert on admin_audit for each row execute function refuse_audit()',
    )
  }
  const auth = new AdminAuth({ store: store.admin, clock: systemClock, scryptCost: CHEAP })
  return {
    store,
    auth,
    raw,
    /** Runs `fn` while the database refuses audit entries of `action`. */
    async refusing<T>(action: string, fn: () => Promise<T>): Promise<T> {
      await raw('insert into refused_audit (action) values (?)', [action])
      try {
        return await fn()
      } finally {
        await raw('delete from refused_audit where action = ?', [action])
      }
    },
    /** The actions in the audit log, sorted (entries of one millisecond have no order). */
    async actions(): Promise<string[]> {
      return (await store.admin.listAudit({ limit: 1000 })).map((e) => e.action).sort()
    },
    async count(table: string): Promise<number> {
      const [row] = await raw(`select count(*) as n from ${table}`)
      return Number(row?.['n'])
    },
  }
}

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise
  } catch (error) {
    return error as { code: string; message: string }
  }
  throw new Error('expected a failure')
}

/** A refused audit entry fails the action with the store's error, naming what failed. */
function expectRefused(error: { code: string; message: string }, operation: string): void {
  expect(error.code).toBe('STORE_ERROR')
  expect(error.message).toContain(operation)
}

/**
 * Runs `obtain` (one token request, audited as `namedCredential.authenticate`) while the database
 * refuses that entry: the token is neither stored nor kept in memory to be stored later. Then runs
 * it again and returns the audit log once the token is stored.
 */
async function storedOnlyWithEntry(
  s: Awaited<ReturnType<typeof refusingStore>>,
  key: CredentialKey,
  obtain: () => Promise<StatusReport>,
): Promise<AuditEntry[]> {
  const requested = issued
  const error = await s.refusing('namedCredential.authenticate', () => failure(obtain()))
  // The token was obtained, but it and its entry are one transaction: neither is stored…
  expect(issued).toBe(requested + 1)
  expect(await s.store.getCredential(key)).toBeUndefined()
  // …nor kept in memory to be stored later without its entry.
  await new Promise((resolve) => setTimeout(resolve, 400))
  expect(await s.store.getCredential(key)).toBeUndefined()
  expectRefused(error, 'write a credential')
  expect(await s.actions()).toEqual([])

  expect((await obtain()).principals[0]?.status).toBe('authenticated')
  expect((await s.store.getCredential(key))?.accessToken?.reveal()).toBe(`access-${issued}`)
  return s.store.admin.listAudit()
}

describe.each(['sqlite', 'postgres'] as const)(
  'audit entries in the change’s transaction on %s',
  (dialect) => {
    it('admin creation and password change: refused entry, no change', async () => {
      const s = await refusingStore(dialect)
      try {
        const created = await s.refusing('admin.create', () =>
          failure(s.auth.createAdmin('alice', PASSWORD, 'cli')),
        )
        expect(await s.store.admin.getAdminUser('alice')).toBeUndefined()
        expectRefused(created, 'create an admin user')
        expect(await s.actions()).toEqual([])

        await s.auth.createAdmin('alice', PASSWORD, 'cli')
        const { cookie } = await s.auth.login('alice', PASSWORD)
        const before = await s.store.admin.getAdminUser('alice')
        const changed = await s.refusing('admin.password', () =>
          failure(s.auth.setPassword('alice', 'another long passphrase', 'cli')),
        )
        expect((await s.store.admin.getAdminUser('alice'))?.passwordHash).toBe(before?.passwordHash)
        expectRefused(changed, 'change an admin password')
        // The password change ends sessions: rolled back, the session still works.
        expect(await s.auth.session(cookie)).toBeDefined()
        expect(await s.actions()).not.toContain('admin.password')
        await s.auth.setPassword('alice', 'another long passphrase', 'cli')
        expect(await s.actions()).toContain('admin.password')
      } finally {
        await s.store.close()
      }
    })

    it('logins and logouts: a refused entry leaves no session, no counted failure, no ended session', async () => {
      const s = await refusingStore(dialect)
      try {
        await s.auth.createAdmin('alice', PASSWORD, 'cli')
        const failed = await s.refusing('admin.login-failed', () =>
          failure(s.auth.login('alice', 'wrong password here')),
        )
        expect((await s.store.admin.getAdminUser('alice'))?.failedLogins).toBe(0)
        expectRefused(failed, 'record a failed login')
        await expect(s.auth.login('alice', 'wrong password here')).rejects.toMatchObject({
          code: 'ADMIN_LOGIN_FAILED',
        })
        expect((await s.store.admin.getAdminUser('alice'))?.failedLogins).toBe(1)

        const login = await s.refusing('admin.login', () =>
          failure(s.auth.login('alice', PASSWORD)),
        )
        expect(await s.count('admin_sessions')).toBe(0)
        expectRefused(login, 'open a session')
        // The failure counter is cleared with the session: both rolled back.
        expect((await s.store.admin.getAdminUser('alice'))?.failedLogins).toBe(1)

        const { cookie } = await s.auth.login('alice', PASSWORD)
        expect((await s.store.admin.getAdminUser('alice'))?.failedLogins).toBe(0)
        const logout = await s.refusing('admin.logout', () => failure(s.auth.logout(cookie)))
        expect(await s.auth.session(cookie)).toBeDefined()
        expectRefused(logout, 'end a session')
        await s.auth.logout(cookie)
        expect(await s.auth.session(cookie)).toBeUndefined()
        expect(await s.actions()).toEqual([
          'admin.create',
          'admin.login',
          'admin.login-failed',
          'admin.logout',
        ])
      } finally {
        await s.store.close()
      }
    })

    it('admin API tokens: a refused entry leaves no token, and a revoked one still valid', async () => {
      const s = await refusingStore(dialect)
      try {
        const created = await s.refusing('adminToken.create', () =>
          failure(s.auth.createToken('deploy-bot', 'cli')),
        )
        expect(await s.store.admin.listAdminTokens()).toEqual([])
        expectRefused(created, 'store an admin token')

        const { id, token } = await s.auth.createToken('deploy-bot', 'cli')
        const revoke = await s.refusing('adminToken.revoke', () =>
          failure(s.auth.revokeToken(id, 'cli')),
        )
        expect((await s.store.admin.getAdminToken(id))?.revokedAt).toBeUndefined()
        expectRefused(revoke, 'revoke an admin token')
        expect((await s.auth.token(`Bearer ${token}`)).actor).toBe(`token:${id}`)
        expect(await s.auth.revokeToken(id, 'cli')).toBe(true)
        await expect(s.auth.token(`Bearer ${token}`)).rejects.toMatchObject({
          code: 'ADMIN_AUTH_REQUIRED',
        })
        expect(await s.actions()).toEqual(['adminToken.create', 'adminToken.revoke'])
      } finally {
        await s.store.close()
      }
    })

    it('connect links: a refused entry stores no link, and leaves an opened link unused', async () => {
      const s = await refusingStore(dialect)
      const defs: Definitions = definitions({
        authProviders: [
          authProvider({
            authorizeUrl: 'https://idp.example.com/authorize',
            tokenUrl: 'https://idp.example.com/token',
          }),
        ],
        externalCredentials: [
          externalCredential({
            name: 'Users',
            flow: 'browser',
            principals: [principal({ name: 'EachUser', type: 'per-user' })],
          }),
        ],
        namedCredentials: [namedCredential({ name: 'Crm', externalCredential: 'Users' })],
      })
      const deps = { store: s.store, clock: systemClock }
      const mint = () =>
        mintConnectLink(
          defs,
          'Crm',
          {
            user: 'alice',
            consoleUrl: 'https://callout.example.com',
            createdBy: 'admin:root',
            audit: (link) =>
              s.auth.entry({
                actor: 'admin:root',
                action: 'connectLink.create',
                target: `NamedCredential/${link.namedCredential}`,
                details: { user: link.user },
              }),
          },
          deps,
        )
      try {
        const created = await s.refusing('connectLink.create', () => failure(mint()))
        expect(await s.count('connect_links')).toBe(0)
        expectRefused(created, 'store a connect link')

        const { url } = await mint()
        const token = url.slice(url.lastIndexOf('/') + 1)
        const browser = hashToken('browser-cookie')
        const open = () =>
          useConnectLink(token, browser, deps, {
            audit: s.auth.entry({
              actor: 'user:alice',
              action: 'connectLink.open',
              target: 'NamedCredential/Crm',
            }),
          })
        const opened = await s.refusing('connectLink.open', () => failure(open()))
        expect((await s.store.getConnectLink(hashToken(token)))?.usedAt).toBeUndefined()
        expectRefused(opened, 'open a connect link')
        expect(await s.store.connectLinkOfBrowser(browser)).toBeUndefined()
        expect((await open()).userId).toBe('alice')
        expect(await s.actions()).toEqual(['connectLink.create', 'connectLink.open'])
      } finally {
        await s.store.close()
      }
    })

    it('a browser flow: a refused entry stores no pending authorization, and no token', async () => {
      const s = await refusingStore(dialect)
      await s.store.applyDefinitions(
        definitions({
          authProviders: [
            authProvider({
              authorizeUrl: `${tokenEndpoint.origin}/authorize`,
              tokenUrl: `${tokenEndpoint.origin}/token`,
              allowInsecureHttp: true,
            }),
          ],
          externalCredentials: [externalCredential({ flow: 'browser' })],
          namedCredentials: [namedCredential()],
        }),
      )
      const key = { externalCredential: 'Api', principal: 'Default', userId: '' }
      const redirectUri = 'http://127.0.0.1:8787/callback'
      // A failed write is retried while the lease is held (15 s by default): shortened here.
      const broker = await openBroker({ store: s.store, env: {}, tokens: { commitRetryMs: 300 } })
      const complete = async () => {
        const { state } = await broker.authorizeUrl('Api', { redirectUri })
        return broker.completeAuthorization(`${redirectUri}?code=code-1&state=${state}`, {
          state,
          audit: ({ namedCredential, credential }) =>
            s.auth.entry({
              actor: 'admin:root',
              action: 'namedCredential.authenticate',
              target: `NamedCredential/${namedCredential}`,
              details: { status: credential.status },
            }),
        })
      }
      try {
        const start = () =>
          broker.authorizeUrl('Api', {
            redirectUri,
            audit: s.auth.entry({
              actor: 'admin:root',
              action: 'namedCredential.authenticate-start',
              target: 'NamedCredential/Api',
            }),
          })
        const started = await s.refusing('namedCredential.authenticate-start', () =>
          failure(start()),
        )
        expect(await s.count('pending_authorizations')).toBe(0)
        expectRefused(started, 'store a pending authorization')
        await start()
        expect(await s.count('pending_authorizations')).toBe(1)
        expect(await s.actions()).toEqual(['namedCredential.authenticate-start'])
        await s.raw('delete from admin_audit')

        const entries = await storedOnlyWithEntry(s, key, complete)
        expect(entries.map((e) => [e.action, e.target, e.details])).toEqual([
          ['namedCredential.authenticate', 'NamedCredential/Api', { status: 'authenticated' }],
        ])
      } finally {
        await broker.close()
        await s.store.close()
      }
    })

    it('obtaining a token now (the admin API’s authenticate): a refused entry stores no token', async () => {
      const s = await refusingStore(dialect)
      await s.store.applyDefinitions(
        definitions({
          authProviders: [
            authProvider({ tokenUrl: `${tokenEndpoint.origin}/token`, allowInsecureHttp: true }),
          ],
          externalCredentials: [externalCredential({ flow: 'client-credentials' })],
          namedCredentials: [namedCredential()],
        }),
      )
      const key = { externalCredential: 'Api', principal: 'Default', userId: '' }
      // A failed write is retried while the lease is held (15 s by default): shortened here.
      const broker = await openBroker({ store: s.store, env: {}, tokens: { commitRetryMs: 300 } })
      // The admin API's own operation, as its route runs it.
      const operation = ADMIN_OPERATIONS.find(
        (op) =>
          op.method === 'POST' && op.path === '/admin/api/namedCredentials/{name}/authenticate',
      )!
      const context = {
        auth: s.auth,
        broker,
        definitions: new DefinitionsService(broker, systemClock),
        now: () => Date.now(),
      }
      const authenticate = () =>
        operation.handle(context, {
          actor: { actor: 'token:0123456789ab', username: '' },
          params: { name: 'Api' },
          body: undefined,
          remote: '127.0.0.1',
          reply: undefined as never,
        }) as Promise<StatusReport>
      try {
        const entries = await storedOnlyWithEntry(s, key, authenticate)
        expect(entries.map((e) => [e.action, e.actor, e.target, e.details])).toEqual([
          [
            'namedCredential.authenticate',
            'token:0123456789ab',
            'NamedCredential/Api',
            { status: 'authenticated' },
          ],
        ])
      } finally {
        await broker.close()
        await s.store.close()
      }
    })

    it('revocation: revoked at the server, the tokens stay stored when their removal cannot be audited', async () => {
      const s = await refusingStore(dialect)
      const refresh = `refresh-${randomBytes(6).toString('hex')}`
      await s.store.applyDefinitions(
        definitions({
          authProviders: [
            authProvider({ revokeUrl: `${revocation.origin}/revoke`, allowInsecureHttp: true }),
          ],
          externalCredentials: [externalCredential()],
          namedCredentials: [namedCredential()],
        }),
      )
      const key = { externalCredential: 'Api', principal: 'Default', userId: '' }
      await s.store.compareAndSetCredential(
        {
          ...key,
          status: 'authenticated',
          accessToken: new Secret('access-1'),
          refreshToken: new Secret(refresh),
          expiresAt: Date.now() + 3_600_000,
        },
        0,
      )
      // A failed removal is retried while the lease is held (15 s by default): shortened here.
      const broker = await openBroker({ store: s.store, env: {}, tokens: { commitRetryMs: 300 } })
      try {
        const error = await s.refusing('namedCredential.revoke', () =>
          failure(revokeAudited(broker, s.auth, 'Api', {}, { actor: 'cli' })),
        )
        // The server was asked and revoked the refresh token…
        expect(revoked).toContain(refresh)
        // …but the removal and its entry are one transaction: the tokens stay stored.
        const kept = await s.store.getCredential(key)
        expect(kept?.refreshToken?.reveal()).toBe(refresh)
        expect(kept?.status).toBe('authenticated')
        expect(await s.actions()).toEqual([])
        expect(error.code).toBe('STORE_ERROR')
        expect((error as unknown as { details: Record<string, unknown> }).details).toMatchObject({
          reason: 'removal-failed',
          provider: 'revoked',
        })
        expect(error.message).toContain('no longer accepts them')
        expect(error.message).not.toContain(refresh)

        // Run again once the store takes entries: removed, with one entry.
        const result = await revokeAudited(broker, s.auth, 'Api', {}, { actor: 'cli' })
        expect(result.removedLocally).toBe(true)
        expect((await s.store.getCredential(key))?.refreshToken).toBeUndefined()
        const entries = await s.store.admin.listAudit()
        expect(entries.map((e) => [e.action, e.details])).toEqual([
          ['namedCredential.revoke', { provider: 'revoked', removedLocally: true }],
        ])
      } finally {
        await broker.close()
        await s.store.close()
      }
    })
  },
)
