/**
 * End to end on the Salesforce emulator: a per-user jwt-bearer credential (one connected app with
 * a certificate, two users). Each user's callouts carry their own identity (the assertion's `sub`
 * is `jwt.subject` evaluated for that user) and their own token; the combinations that would
 * give every user one subject are refused when the configuration is applied.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import type { Broker } from '../../src/index.ts'
import { makeHome, openTestBroker, readCredential, type TestHome } from './helpers/e2e.ts'

const ALICE = 'alice@target.example'
const BOB = 'bob@target.example'
const V = 'v61.0'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })

let emulator: Emulator
let org: EmulatedOrg
let home: TestHome
let broker: Broker

function config(subject: string, parameters: Record<string, string> = {}): object {
  return {
    authProviders: {
      TargetJwt: {
        type: 'salesforce',
        loginUrl: org.loginUrl,
        consumerKey: org.connectedApp('ServerToServer').consumerKey,
      },
    },
    externalCredentials: {
      SfEachUserJwt: {
        protocol: 'oauth2',
        flow: 'jwt-bearer',
        authProvider: 'TargetJwt',
        jwt: { subject },
        principals: {
          EachUser: {
            type: 'per-user',
            parameters,
            secrets: { privateKey: '${env:SF_JWT_KEY}' },
          },
        },
      },
    },
    namedCredentials: {
      TargetAsUser: { url: org.instanceUrl, externalCredential: 'SfEachUserJwt' },
    },
  }
}

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [
      {
        name: 'target',
        users: [
          { username: ALICE, name: 'Alice Adams' },
          { username: BOB, name: 'Bob Brown' },
        ],
        connectedApps: [
          {
            name: 'ServerToServer',
            callbackUrls: ['http://127.0.0.1:9/services/authcallback/Target'],
            scopes: ['api'],
            certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            adminPreAuthorized: true,
          },
        ],
      },
    ],
  })
  org = emulator.org('target')
  home = await makeHome({
    SF_JWT_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  })
  broker = await openTestBroker(home, config("{!$User.Username & '@target.example'}"))
})

afterAll(async () => {
  await broker?.close()
  await emulator?.close()
  await home?.cleanup()
})

async function whoAmI(user: string): Promise<string> {
  const res = await broker.fetch('callout:TargetAsUser/services/oauth2/userinfo', { user })
  expect(res.status).toBe(200)
  return ((await res.json()) as { preferred_username: string }).preferred_username
}

describe('per-user jwt-bearer', () => {
  it('two users get two subjects, two identities and two tokens', async () => {
    expect(await whoAmI('alice')).toBe(ALICE)
    expect(await whoAmI('bob')).toBe(BOB)
    // Each user's token is cached and reused under that user.
    expect(await whoAmI('alice')).toBe(ALICE)
    expect(await whoAmI('bob')).toBe(BOB)
    expect(emulator.requestLog.tokenRequests(JWT_BEARER)).toBe(2)

    const query = await broker.fetch(
      `callout:TargetAsUser/services/data/${V}/query?q=SELECT+Username+FROM+User+WHERE+Id+%3D+'${org.user(BOB).userId}'`,
      { user: 'bob' },
    )
    expect(query.status).toBe(200)
    const body = (await query.json()) as { records: { Username: string }[] }
    expect(body.records[0]?.Username).toBe(BOB)

    const key = { externalCredential: 'SfEachUserJwt', principal: 'EachUser' }
    const alice = await readCredential(home, { ...key, userId: 'alice' })
    const bob = await readCredential(home, { ...key, userId: 'bob' })
    expect(alice?.identity?.username).toBe(ALICE)
    expect(bob?.identity?.username).toBe(BOB)
    expect(alice?.accessToken?.reveal()).toBeTruthy()
    expect(alice?.accessToken?.reveal()).not.toBe(bob?.accessToken?.reveal())

    const [report] = await broker.status('TargetAsUser')
    expect(report?.principals.map((p) => [p.userId, p.summary]).sort()).toEqual([
      ['alice', `Authenticated as ${ALICE}`],
      ['bob', `Authenticated as ${BOB}`],
    ])
  })

  it('without a user the callout is USER_REQUIRED, and no token is requested', async () => {
    const before = emulator.requestLog.tokenRequests()
    await expect(
      broker.fetch('callout:TargetAsUser/services/oauth2/userinfo'),
    ).rejects.toMatchObject({ code: 'USER_REQUIRED' })
    expect(emulator.requestLog.tokenRequests()).toBe(before)
  })

  it('a subject that is the same for every user is refused when applied', async () => {
    const parse = async (subject: string, parameters?: Record<string, string>) => {
      const other = await makeHome({ SF_JWT_KEY: home.env.SF_JWT_KEY ?? '' })
      try {
        return await openTestBroker(other, config(subject, parameters)).then(
          async (b) => {
            await b.close()
            return 'applied'
          },
          (error: { code: string; message: string }) => `${error.code}: ${error.message}`,
        )
      } finally {
        await other.cleanup()
      }
    }
    expect(await parse(ALICE)).toMatch(/^CONFIG_INVALID: .*jwt\.subject.*\$User\.Username/s)
    expect(await parse('{!$User.Username}', { username: ALICE })).toMatch(
      /^CONFIG_INVALID: .*parameters\.username/s,
    )
    expect(await parse('{!$User.Email}')).toMatch(/^CONFIG_INVALID: .*\$User\.Email/s)
  })
})
