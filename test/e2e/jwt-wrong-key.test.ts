/**
 * End to end on the Salesforce emulator: a jwt-bearer principal whose private key does not match
 * the certificate uploaded to the Connected App gets advice about that certificate, not only
 * about the consumer key.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '@callout/salesforce-emulator'
import type { Broker } from '../../src/index.ts'
import { makeHome, openTestBroker, type TestHome } from './helpers/e2e.ts'

const USER = 'integration@target.example'
const uploaded = generateKeyPairSync('rsa', { modulusLength: 2048 })
const other = generateKeyPairSync('rsa', { modulusLength: 2048 })

let emulator: Emulator
let home: TestHome
let broker: Broker

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [
      {
        name: 'target',
        users: [{ username: USER }],
        connectedApps: [
          {
            name: 'ServerToServer',
            callbackUrls: ['http://127.0.0.1:9/cb'],
            scopes: ['api'],
            certificate: uploaded.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            adminPreAuthorized: true,
          },
        ],
      },
    ],
  })
  const org = emulator.org('target')
  home = await makeHome({
    SF_JWT_KEY: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  })
  broker = await openTestBroker(home, {
    authProviders: {
      Target: {
        type: 'salesforce',
        loginUrl: org.loginUrl,
        consumerKey: org.connectedApp('ServerToServer').consumerKey,
      },
    },
    externalCredentials: {
      SfJwt: {
        protocol: 'oauth2',
        flow: 'jwt-bearer',
        authProvider: 'Target',
        principals: {
          Integration: {
            type: 'named',
            parameters: { username: USER },
            secrets: { privateKey: '${env:SF_JWT_KEY}' },
          },
        },
      },
    },
    namedCredentials: { Target: { url: org.instanceUrl, externalCredential: 'SfJwt' } },
  })
})

afterAll(async () => {
  await broker?.close()
  await emulator?.close()
  await home?.cleanup()
})

describe('jwt-bearer with a key that does not match the uploaded certificate', () => {
  it('is OAUTH_CLIENT_INVALID with advice about the Connected App certificate', async () => {
    const error = await broker.fetch('callout:Target/services/data/v61.0/').then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string },
    )
    expect(error).toMatchObject({ code: 'OAUTH_CLIENT_INVALID' })
    expect(error?.message).toMatch(/certificate uploaded to the Connected App/)
  })
})
