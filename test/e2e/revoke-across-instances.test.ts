/**
 * A revocation reaches every instance on one PostgreSQL: instance B holds the token in its cache
 * (with a cache lifetime of ten minutes, so only the store's notification can make it let go),
 * instance A revokes it at the Salesforce emulator, and B's next callout fails with NEEDS_REAUTH
 * instead of sending the revoked token — against an upstream that accepts any bearer token, so a
 * stale token would go through.
 */
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBroker, parseConfig, type Broker } from '../../src/index.ts'
import type { KyselyStore } from '../../src/store/kysely-store.ts'
import { openStore } from '../../src/store/open-store.ts'
import {
  dropTestSchemas,
  requirePostgres,
  testPostgresUrl,
  testSchemaName,
} from '../helpers/postgres.ts'
import {
  bearerOf,
  listen,
  makeHome,
  salesforceAuthorize,
  sendJson,
  type Listening,
  type TestHome,
} from './helpers/e2e.ts'

const REDIRECT = 'http://127.0.0.1:9/callback'
const USER = 'admin@target.example'
const PASSWORD = 'Rev0ke-Acr0ss!'
const schema = testSchemaName('revoke')

let emulator: Emulator
let org: EmulatedOrg
let upstream: Listening
let home: TestHome
const stores: KyselyStore[] = []
const brokers: Broker[] = []
const seen: string[] = []

async function instance(): Promise<Broker> {
  const store = await openStore({ url: testPostgresUrl(), schema, home: home.dir, env: home.env })
  stores.push(store)
  const broker = await openBroker({
    store,
    home: home.dir,
    env: home.env,
    tokens: { cacheTtlMs: 600_000 },
  })
  brokers.push(broker)
  return broker
}

async function outcome(broker: Broker): Promise<string> {
  try {
    const res = await broker.fetch('callout:Api/data')
    await res.arrayBuffer()
    return String(res.status)
  } catch (error) {
    return (error as { code?: string }).code ?? 'unknown'
  }
}

beforeAll(async () => {
  await requirePostgres()
  emulator = await startEmulator({
    orgs: [{ name: 'target', users: [{ username: USER, password: PASSWORD }] }],
  })
  org = emulator.org('target')
  const app = org.addConnectedApp({
    name: 'Revoke',
    callbackUrls: [REDIRECT],
    scopes: ['api', 'refresh_token'],
  })
  upstream = await listen((req, res) => {
    seen.push(bearerOf(req) ?? '')
    sendJson(res, 200, { ok: true })
  })
  home = await makeHome({ SF_SECRET: app.consumerSecret })
  const a = await instance()
  await a.apply(
    parseConfig(
      {
        authProviders: {
          Sf: {
            type: 'salesforce',
            loginUrl: org.loginUrl,
            consumerKey: app.consumerKey,
            consumerSecret: '${env:SF_SECRET}',
            defaultScopes: 'api refresh_token',
          },
        },
        externalCredentials: {
          Target: {
            protocol: 'oauth2',
            flow: 'browser',
            authProvider: 'Sf',
            principals: { Admin: { type: 'named' } },
          },
        },
        namedCredentials: { Api: { url: upstream.origin, externalCredential: 'Target' } },
      },
      { env: home.env, onWarning: () => {} },
    ),
  )
  const { url } = await a.authorizeUrl('Api', { redirectUri: REDIRECT })
  await a.completeAuthorization(
    await salesforceAuthorize(url, { username: USER, password: PASSWORD }),
  )
}, 30_000)
afterAll(async () => {
  for (const broker of brokers) await broker.close()
  for (const store of stores) await store.close()
  await dropTestSchemas([schema])
  await upstream?.close()
  await emulator?.close()
  await home?.cleanup()
})

describe('revocation across instances', () => {
  it("drops the revoked token from another instance's cache at once", async () => {
    const a = brokers[0]!
    const b = await instance()
    // Listening (its first `resync` clears the cache) before B caches the token.
    await expect.poll(() => stores[1]!.notifications.state, { timeout: 5_000 }).toBe('live')
    expect(await outcome(b)).toBe('200')
    expect(await outcome(b)).toBe('200')
    const cached = seen.at(-1)!
    expect(cached).not.toBe('')
    const result = await a.revoke('Api')
    expect(result).toMatchObject({ provider: 'revoked', tokenType: 'refresh_token' })
    // B hears the store's notification; until then it would still send the cached token.
    await expect.poll(() => outcome(b), { timeout: 5_000, interval: 50 }).toBe('NEEDS_REAUTH')
    const error = await b.fetch('callout:Api/data').catch((e: unknown) => e)
    expect((error as Error).message).toContain('callout auth Api')
  })
})
