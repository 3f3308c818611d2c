/**
 * End to end: refresh storms in one broker on the Salesforce emulator. 1,000 concurrent callouts
 * on an expired token cause exactly one token request, also with refresh-token rotation on (a
 * second use of a rotated refresh token would revoke the family); a token endpoint failing once
 * causes one token request and typed failures. Storms across processes sharing one store need
 * real processes (one event loop would serialise two brokers): `multi-process.test.ts`.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import type { Broker } from '../../src/index.ts'
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
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
/** A storm of 1,000 callouts takes seconds, and longer on a busy machine. */
const STORM_TIMEOUT_MS = 90_000

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
      // 1,000 describes queue at the emulator on a busy 2-core machine: the default 10 s timeout
      // would fail the slowest of them there; the claim under test is one token request.
      Target: { url: org.instanceUrl, externalCredential: 'SfJwt', timeoutMs: 60_000 },
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

describe('refresh storm in one broker', { timeout: STORM_TIMEOUT_MS }, () => {
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

describe('failure storms', { timeout: STORM_TIMEOUT_MS }, () => {
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
})

describe(
  'refresh storm with refresh-token rotation in one broker',
  { timeout: STORM_TIMEOUT_MS },
  () => {
    it('browser flow: 1,000 callouts after expiry → exactly one refresh, the rotated token is stored and works', async () => {
      const home = await newHome()
      const broker = await openTestBroker(home, config())
      try {
        const { url } = await broker.authorizeUrl('TargetAsAdmin', { redirectUri: REDIRECT })
        await broker.completeAuthorization(await salesforceAuthorize(url, org.user(WEB_USER)))
        await warm(broker, 'TargetAsAdmin')
        const key = { externalCredential: 'SfWeb', principal: 'Admin', userId: '' }
        const first = await readCredential(home, key)
        emulator.requestLog.clear() // the log is bounded (10,000 entries): count from empty
        const before = tokens('refresh_token')
        org.faults.expireSessions()
        const statuses = await storm(broker, 'TargetAsAdmin', 1000)
        expect(statuses.filter((s) => s !== 200)).toEqual([])
        expect(tokens('refresh_token') - before).toBe(1)
        expect(tokens()).toBe(1)
        const second = await readCredential(home, key)
        expect(second?.refreshToken?.reveal()).not.toBe(first?.refreshToken?.reveal())
        // the stored rotated token works: a second expiry refreshes again
        org.faults.expireSessions()
        await warm(broker, 'TargetAsAdmin')
        expect(tokens('refresh_token') - before).toBe(2)
      } finally {
        await broker.close()
      }
    })
  },
)
