/**
 * End to end: canary secrets on the Salesforce emulator — a jwt-bearer private key, a malformed
 * private key, a consumer secret, a user password (password flow, right and wrong) and every
 * token the org issues. The whole story runs (jwt-bearer, password flow, browser flow with
 * rotation, expiry, revocation, a token endpoint 500, a blocked session); no log line, error,
 * event, status output or database byte may contain a canary or an issued token.
 */
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import type { Broker, CredentialKey } from '../../src/index.ts'
import {
  errorChainTexts,
  makeHome,
  memoryLogger,
  openTestBroker,
  readCredential,
  salesforceAuthorize,
  type MemoryLog,
  type TestHome,
} from './helpers/e2e.ts'

const REDIRECT = 'http://127.0.0.1:9/callback'
const V = 'v61.0'
const CANARY = {
  consumerSecret: 'CANARYsfSecret7d1e9b3c5a2f80',
  password: 'CANARY-sf-Pa55word-4c8e2a',
  wrongPassword: 'CANARY-wrong-Pa55-91b7d3',
  badKeyBody: 'CANARYbadKeyMaterial0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6',
}
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const PEM_LINES = PRIVATE_PEM.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'))
const BAD_PEM = `-----BEGIN PRIVATE KEY-----\n${CANARY.badKeyBody}\n-----END PRIVATE KEY-----\n`
const INTEGRATION = 'integration@canary.example'
const ADMIN = 'admin@canary.example'

let emulator: Emulator
let org: EmulatedOrg
let home: TestHome
let broker: Broker
let log: MemoryLog
const outputs: string[] = []
const issued = new Set<string>()
const keys: CredentialKey[] = [
  { externalCredential: 'Jwt', principal: 'Integration', userId: '' },
  { externalCredential: 'Pwd', principal: 'Admin', userId: '' },
  { externalCredential: 'Web', principal: 'Admin', userId: '' },
]

async function harvest(): Promise<void> {
  for (const key of keys) {
    const c = await readCredential(home, key)
    if (c?.accessToken !== undefined) issued.add(c.accessToken.reveal())
    if (c?.refreshToken !== undefined) issued.add(c.refreshToken.reveal())
  }
}

async function failing(p: Promise<unknown>): Promise<{ code?: string }> {
  return p.then(
    () => {
      throw new Error('expected a failure')
    },
    (e: unknown) => {
      outputs.push(...errorChainTexts(e))
      return e as { code?: string }
    },
  )
}

async function call(name: string): Promise<Response> {
  const res = await broker.fetch(
    `callout:${name}/services/data/${V}/query?q=SELECT+Id+FROM+Account`,
  )
  outputs.push(JSON.stringify([...res.headers]))
  return res
}

async function snapshotStatus(): Promise<void> {
  const reports = await broker.status()
  outputs.push(JSON.stringify(reports), inspect(reports, { depth: 10 }))
}

function needles(): string[] {
  return [...Object.values(CANARY), ...PEM_LINES, encodeURIComponent(CANARY.password), ...issued]
}

function scan(haystacks: readonly string[]): string[] {
  const leaks: string[] = []
  for (const needle of needles()) {
    for (const hay of haystacks)
      if (hay.includes(needle)) leaks.push(`${needle.slice(0, 12)}… in ${hay.slice(0, 300)}`)
  }
  return leaks
}

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [
      {
        name: 'canary',
        users: [{ username: INTEGRATION }, { username: ADMIN, password: CANARY.password }],
        connectedApps: [
          {
            name: 'App',
            consumerSecret: CANARY.consumerSecret,
            callbackUrls: [REDIRECT],
            scopes: ['api', 'refresh_token'],
            certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            rotation: true,
          },
        ],
      },
    ],
  })
  org = emulator.org('canary')
  home = await makeHome({
    SF_SECRET: CANARY.consumerSecret,
    SF_KEY: PRIVATE_PEM,
    SF_BAD_KEY: BAD_PEM,
    SF_PASSWORD: CANARY.password,
    SF_WRONG_PASSWORD: CANARY.wrongPassword,
  })
  log = memoryLogger()
  const app = org.connectedApp('App')
  const provider = {
    type: 'salesforce',
    loginUrl: org.loginUrl,
    consumerKey: app.consumerKey,
    consumerSecret: '${env:SF_SECRET}',
  }
  broker = await openTestBroker(
    home,
    {
      authProviders: { Sf: provider },
      externalCredentials: {
        Jwt: {
          protocol: 'oauth2',
          flow: 'jwt-bearer',
          authProvider: 'Sf',
          principals: {
            Integration: {
              type: 'named',
              parameters: { username: INTEGRATION },
              secrets: { privateKey: '${env:SF_KEY}' },
            },
          },
        },
        BadKey: {
          protocol: 'oauth2',
          flow: 'jwt-bearer',
          authProvider: 'Sf',
          principals: {
            Integration: {
              type: 'named',
              parameters: { username: INTEGRATION },
              secrets: { privateKey: '${env:SF_BAD_KEY}' },
            },
          },
        },
        Pwd: {
          protocol: 'oauth2',
          flow: 'password',
          authProvider: 'Sf',
          principals: {
            Admin: {
              type: 'named',
              parameters: { username: ADMIN },
              secrets: { password: '${env:SF_PASSWORD}' },
            },
          },
        },
        WrongPwd: {
          protocol: 'oauth2',
          flow: 'password',
          authProvider: 'Sf',
          principals: {
            Admin: {
              type: 'named',
              parameters: { username: ADMIN },
              secrets: { password: '${env:SF_WRONG_PASSWORD}' },
            },
          },
        },
        Web: {
          protocol: 'oauth2',
          flow: 'browser',
          authProvider: 'Sf',
          scope: 'api refresh_token',
          principals: { Admin: { type: 'named' } },
        },
      },
      namedCredentials: {
        SfJwt: { url: org.instanceUrl, externalCredential: 'Jwt' },
        SfBadKey: { url: org.instanceUrl, externalCredential: 'BadKey' },
        SfPwd: { url: org.instanceUrl, externalCredential: 'Pwd' },
        SfWrongPwd: { url: org.instanceUrl, externalCredential: 'WrongPwd' },
        SfWeb: { url: org.instanceUrl, externalCredential: 'Web' },
      },
    },
    { logger: log.logger },
  )
  for (const name of ['refreshed', 'needs-reauth', 'refresh-failed'] as const) {
    broker.on(name, (event) => outputs.push(JSON.stringify(event), inspect(event, { depth: 10 })))
  }
})

afterAll(async () => {
  await broker?.close()
  await emulator?.close()
  await home?.cleanup()
})

/**
 * The story every test scans the output of. It runs once per file, on first use, so each test
 * stands alone (`-t` one of them and it still runs the story it checks).
 */
let story: Promise<void> | undefined
function storyOnce(): Promise<void> {
  story ??= runStory()
  return story
}

async function runStory(): Promise<void> {
  await snapshotStatus()
  expect((await call('SfJwt')).status).toBe(200)
  expect((await call('SfPwd')).status).toBe(200)
  await harvest()
  // browser flow, rotation on
  const { url } = await broker.authorizeUrl('SfWeb', { redirectUri: REDIRECT })
  await broker.completeAuthorization(
    await salesforceAuthorize(url, { username: ADMIN, password: CANARY.password }),
  )
  expect((await call('SfWeb')).status).toBe(200)
  await harvest()
  // expiry: re-mint, re-login, refresh with rotation
  org.faults.expireSessions()
  for (const name of ['SfJwt', 'SfPwd', 'SfWeb']) expect((await call(name)).status).toBe(200)
  await harvest()
  await snapshotStatus()
  // blocked session: advice, no refresh
  org.faults.setBlockedSession(true)
  expect((await call('SfJwt')).status).toBe(401)
  org.faults.setBlockedSession(false)
  // failures
  // invalid_grant on the password flow is a wrong password, not a dead refresh token
  expect(await failing(call('SfWrongPwd'))).toMatchObject({ code: 'OAUTH_ERROR' })
  expect(await failing(call('SfBadKey'))).toMatchObject({ code: 'CONFIG_INVALID' })
  org.faults.expireSessions()
  org.faults.failNext(1, { status: 500, scope: 'token' })
  expect(await failing(call('SfJwt'))).toMatchObject({ code: 'TOKEN_ENDPOINT_ERROR' })
  org.faults.revokeRefreshTokens()
  expect(await failing(call('SfWeb'))).toMatchObject({ code: 'NEEDS_REAUTH' })
  await harvest()
  await snapshotStatus()
}

describe('Salesforce canary secrets never leak', () => {
  it('runs the whole story, issuing tokens', async () => {
    await storyOnce()
    expect(issued.size).toBeGreaterThanOrEqual(8)
  })

  it('no log line, error, event, header or status output contains a canary or an issued token', async () => {
    await storyOnce()
    expect(scan([`x${CANARY.badKeyBody}`, `${[...issued][0]}`])).toHaveLength(2)
    expect(scan([...log.lines, ...outputs])).toEqual([])
  })

  it('the SQLite database and its WAL contain no canary and no issued token', async () => {
    await storyOnce()
    // Scanning a database that never held a token would prove nothing.
    expect(issued.size).toBeGreaterThanOrEqual(8)
    const files = [home.dbPath, `${home.dbPath}-wal`].filter((f) => existsSync(f))
    expect(files.length).toBeGreaterThanOrEqual(1)
    const leaks: string[] = []
    for (const file of files) {
      const bytes = readFileSync(file)
      for (const needle of needles())
        if (bytes.includes(Buffer.from(needle))) leaks.push(`${needle.slice(0, 12)}… in ${file}`)
    }
    expect(leaks).toEqual([])
  })
})
