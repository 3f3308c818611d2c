/**
 * End to end: refresh storms on the Salesforce emulator. 1,000 concurrent callouts on an expired
 * token cause exactly one token request in one broker; two brokers on one store (the
 * cross-process stand-in: SQLite home, then PostgreSQL) cause exactly one in total, also with
 * refresh-token rotation on (a second use of a rotated refresh token would revoke the family).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { openBroker, parseConfig, type Broker } from '../../src/index.ts'
import { openStore } from '../../src/store/open-store.ts'
import {
  makeHome,
  openTestBroker,
  readCredential,
  salesforceAuthorize,
  type TestHome,
} from './helpers/e2e.ts'

const REDIRECT = 'http://127.0.0.1:9/callback'
const JWT_USER = 'integration@storm.example'
const WEB_USER = 'admin@storm.example'
const V = 'v61.0'
const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test'
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })

let emulator: Emulator
let org: EmulatedOrg
const homes: TestHome[] = []

const tokens = (grant?: string) => emulator.requestLog.tokenRequests(grant)

function config(): object {
  return {
    authProviders: {
      Jwt: {
        type: 'salesforce',
        loginUrl: org.loginUrl,
        consumerKey: org.connectedApp('Jwt').consumerKey,
      },
      Web: {
        type: 'salesforce',
        loginUrl: org.loginUrl,
        consumerKey: org.connectedApp('Web').consumerKey,
        consumerSecret: '${env:SF_WEB_SECRET}',
      },
    },
    externalCredentials: {
      SfJwt: {
        protocol: 'oauth2',
        flow: 'jwt-bearer',
        authProvider: 'Jwt',
        principals: {
          Integration: {
            type: 'named',
            parameters: { username: JWT_USER },
            secrets: { privateKey: '${env:SF_JWT_KEY}' },
          },
        },
      },
      SfWeb: {
        protocol: 'oauth2',
        flow: 'browser',
        authProvider: 'Web',
        scope: 'api refresh_token',
        principals: { Admin: { type: 'named' } },
      },
    },
    namedCredentials: {
      Target: { url: org.instanceUrl, externalCredential: 'SfJwt' },
      TargetAsAdmin: { url: org.instanceUrl, externalCredential: 'SfWeb' },
    },
  }
}

async function newHome(): Promise<TestHome> {
  const home = await makeHome({
    SF_JWT_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    SF_WEB_SECRET: org.connectedApp('Web').consumerSecret,
  })
  homes.push(home)
  return home
}

/** Fires `n` concurrent callouts and returns each one's status, or its error code. */
async function stormOutcomes(
  broker: Broker,
  name: string,
  n: number,
): Promise<(number | string)[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      try {
        const res = await broker.fetch(`callout:${name}/services/data/${V}/limits?i=${i}`)
        await res.arrayBuffer()
        return res.status
      } catch (error) {
        return (error as { code?: string }).code ?? String(error)
      }
    }),
  )
}

/** Fires `n` concurrent callouts through `broker` and returns their statuses. */
async function storm(broker: Broker, name: string, n: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await broker.fetch(
        `callout:${name}/services/data/${V}/sobjects/Account/describe?i=${i}`,
      )
      await res.arrayBuffer()
      return res.status
    }),
  )
}

async function warm(broker: Broker, name: string): Promise<void> {
  const res = await broker.fetch(`callout:${name}/services/data/${V}/limits`)
  expect(res.status).toBe(200)
  await res.arrayBuffer()
}

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [
      {
        name: 'storm',
        users: [{ username: JWT_USER }, { username: WEB_USER, password: 'St0rm-Pa55!' }],
        connectedApps: [
          {
            name: 'Jwt',
            callbackUrls: [REDIRECT],
            scopes: ['api'],
            certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          },
          {
            name: 'Web',
            callbackUrls: [REDIRECT],
            scopes: ['api', 'refresh_token'],
            rotation: true,
          },
        ],
      },
    ],
  })
  org = emulator.org('storm')
})

afterAll(async () => {
  await emulator?.close()
  await Promise.all(homes.map((h) => h.cleanup()))
})

describe('refresh storm in one broker', () => {
  it('1,000 concurrent callouts on an expired jwt-bearer token: one token request, all succeed', async () => {
    const home = await newHome()
    const broker = await openTestBroker(home, config())
    try {
      await warm(broker, 'Target')
      emulator.requestLog.clear() // the log is bounded (10,000 entries): count from empty
      const before = tokens()
      org.faults.expireSessions()
      const statuses = await storm(broker, 'Target', 1000)
      expect(statuses.filter((s) => s !== 200)).toEqual([])
      expect(tokens() - before).toBe(1)
    } finally {
      await broker.close()
    }
  })
})

describe('failure storms', () => {
  it('500 concurrent callouts while the token endpoint fails once: one token request, all fail typed', async () => {
    const home = await newHome()
    const broker = await openTestBroker(home, config())
    try {
      await warm(broker, 'Target')
      emulator.requestLog.clear() // the log is bounded (10,000 entries): count from empty
      const before = tokens()
      org.faults.expireSessions()
      org.faults.failNext(1, { status: 500, scope: 'token' })
      const outcomes = await stormOutcomes(broker, 'Target', 500)
      expect(outcomes).toContain('TOKEN_ENDPOINT_ERROR')
      expect(
        outcomes.filter((o) => o !== 'TOKEN_ENDPOINT_ERROR' && o !== 'REFRESH_COOLDOWN'),
      ).toEqual([])
      expect(tokens() - before).toBe(1)
    } finally {
      await broker.close()
    }
  })

  it('two brokers while the token endpoint fails once: one token request in total, all fail typed', async () => {
    const home = await newHome()
    const a = await openTestBroker(home, config())
    const b = await openBroker({
      home: home.dir,
      env: home.env,
      tokens: { lease: { initialPollMs: 2 } },
    })
    try {
      await warm(a, 'Target')
      await warm(b, 'Target')
      emulator.requestLog.clear() // the log is bounded (10,000 entries): count from empty
      const before = tokens()
      org.faults.expireSessions()
      org.faults.failNext(1, { status: 500, scope: 'token' })
      const [oa, ob] = await Promise.all([
        stormOutcomes(a, 'Target', 100),
        stormOutcomes(b, 'Target', 100),
      ])
      expect(
        [...oa, ...ob].filter((o) => o !== 'TOKEN_ENDPOINT_ERROR' && o !== 'REFRESH_COOLDOWN'),
      ).toEqual([])
      expect(tokens() - before).toBe(1)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('two brokers, a revoked refresh token, 2 × 100 callouts: one refresh in total, one needs-reauth event, all NEEDS_REAUTH', async () => {
    const home = await newHome()
    const a = await openTestBroker(home, config())
    const b = await openBroker({
      home: home.dir,
      env: home.env,
      tokens: { lease: { initialPollMs: 2 } },
    })
    const events: string[] = []
    a.on('needs-reauth', () => events.push('a'))
    b.on('needs-reauth', () => events.push('b'))
    try {
      const { url } = await a.authorizeUrl('TargetAsAdmin', { redirectUri: REDIRECT })
      await a.completeAuthorization(await salesforceAuthorize(url, org.user(WEB_USER)))
      await warm(a, 'TargetAsAdmin')
      await warm(b, 'TargetAsAdmin')
      emulator.requestLog.clear() // the log is bounded (10,000 entries): count from empty
      const before = tokens('refresh_token')
      org.faults.revokeRefreshTokens()
      org.faults.expireSessions()
      const [oa, ob] = await Promise.all([
        stormOutcomes(a, 'TargetAsAdmin', 100),
        stormOutcomes(b, 'TargetAsAdmin', 100),
      ])
      expect([...oa, ...ob].filter((o) => o !== 'NEEDS_REAUTH')).toEqual([])
      expect(tokens('refresh_token') - before).toBe(1)
      expect(events).toHaveLength(1)
    } finally {
      await a.close()
      await b.close()
    }
  })
})

describe('refresh storm across two brokers on one SQLite home', () => {
  it('jwt-bearer: 2 × 500 callouts on an expired token → exactly one token request in total', async () => {
    const home = await newHome()
    const a = await openTestBroker(home, config())
    const b = await openBroker({
      home: home.dir,
      env: home.env,
      tokens: { lease: { initialPollMs: 2 } },
    })
    try {
      await warm(a, 'Target')
      await warm(b, 'Target') // b reads a's token from the store
      emulator.requestLog.clear() // the log is bounded (10,000 entries): count from empty
      const before = tokens()
      org.faults.expireSessions()
      const [sa, sb] = await Promise.all([storm(a, 'Target', 500), storm(b, 'Target', 500)])
      expect([...sa, ...sb].filter((s) => s !== 200)).toEqual([])
      expect(tokens() - before).toBe(1)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('browser flow with rotation: 2 × 250 callouts → exactly one refresh, the rotated token is stored', async () => {
    const home = await newHome()
    const a = await openTestBroker(home, config())
    const b = await openBroker({
      home: home.dir,
      env: home.env,
      tokens: { lease: { initialPollMs: 2 } },
    })
    try {
      const { url } = await a.authorizeUrl('TargetAsAdmin', { redirectUri: REDIRECT })
      await a.completeAuthorization(await salesforceAuthorize(url, org.user(WEB_USER)))
      await warm(a, 'TargetAsAdmin')
      await warm(b, 'TargetAsAdmin')
      const key = { externalCredential: 'SfWeb', principal: 'Admin', userId: '' }
      const first = await readCredential(home, key)
      emulator.requestLog.clear() // the log is bounded (10,000 entries): count from empty
      const before = tokens('refresh_token')
      org.faults.expireSessions()
      const [sa, sb] = await Promise.all([
        storm(a, 'TargetAsAdmin', 250),
        storm(b, 'TargetAsAdmin', 250),
      ])
      expect([...sa, ...sb].filter((s) => s !== 200)).toEqual([])
      expect(tokens('refresh_token') - before).toBe(1)
      const second = await readCredential(home, key)
      expect(second?.refreshToken?.reveal()).not.toBe(first?.refreshToken?.reveal())
      // the stored rotated token works: a second expiry refreshes again
      org.faults.expireSessions()
      await warm(b, 'TargetAsAdmin')
      expect(tokens('refresh_token') - before).toBe(2)
    } finally {
      await a.close()
      await b.close()
    }
  })
})

describe('refresh storm across two brokers on one PostgreSQL schema', () => {
  const schema = `e2e_storm_${randomBytes(6).toString('hex')}`

  afterAll(async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL })
    await client.connect()
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    } finally {
      await client.end()
    }
  })

  it('jwt-bearer: 2 × 500 callouts on an expired token → exactly one token request in total', async () => {
    const home = await newHome()
    // openBroker takes an open Store: open two, one per "process", on the same schema.
    const storeA = await openStore({ home: home.dir, env: home.env, url: POSTGRES_URL, schema })
    const storeB = await openStore({ home: home.dir, env: home.env, url: POSTGRES_URL, schema })
    const a = await openBroker({ home: home.dir, env: home.env, store: storeA })
    const b = await openBroker({
      home: home.dir,
      env: home.env,
      store: storeB,
      tokens: { lease: { initialPollMs: 2 } },
    })
    try {
      await a.apply(parseConfig(config(), { env: home.env, onWarning: () => {} }))
      await b.reload()
      await warm(a, 'Target')
      await warm(b, 'Target')
      emulator.requestLog.clear() // the log is bounded (10,000 entries): count from empty
      const before = tokens()
      org.faults.expireSessions()
      const [sa, sb] = await Promise.all([storm(a, 'Target', 500), storm(b, 'Target', 500)])
      expect([...sa, ...sb].filter((s) => s !== 200)).toEqual([])
      expect(tokens() - before).toBe(1)
      // no token in plaintext anywhere in the schema
      const stored = await readCredential(
        home,
        { externalCredential: 'SfJwt', principal: 'Integration', userId: '' },
        storeA,
      )
      const token = stored!.accessToken!.reveal()
      const client = new pg.Client({ connectionString: POSTGRES_URL })
      await client.connect()
      try {
        const tables = await client.query<{ table_name: string }>(
          'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
          [schema],
        )
        expect(tables.rows.length).toBeGreaterThan(0)
        let rows = 0
        for (const { table_name } of tables.rows) {
          const dump = await client.query<{ j: string }>(
            `SELECT row_to_json(t)::text AS j FROM "${schema}"."${table_name}" t`,
          )
          rows += dump.rows.length
          for (const { j } of dump.rows) {
            expect(j).not.toContain(token)
            expect(j).not.toContain('BEGIN PRIVATE KEY')
          }
        }
        expect(rows).toBeGreaterThan(0)
      } finally {
        await client.end()
      }
    } finally {
      await a.close()
      await b.close()
      await storeA.close()
      await storeB.close()
    }
  })
})
