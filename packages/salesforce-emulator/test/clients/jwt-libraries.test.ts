/**
 * Two JWT bearer libraries, unmodified: salesforce-jwt-bearer-token-flow (`sub`) and
 * node-salesforce-jwt (`prn`), against a connected app created at run time with the public key.
 */
import { generateKeyPairSync } from 'node:crypto'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { getJson } from '../helpers/oauth.ts'

const require = createRequire(import.meta.url)

interface TokenBody {
  access_token: string
  instance_url: string
  id: string
  scope: string
}
type Callback = (err: unknown, token: TokenBody | null) => void
const bearerFlow = require('salesforce-jwt-bearer-token-flow') as {
  getToken(
    params: { iss: string; sub: string; aud: string; privateKey: string },
    cb: Callback,
  ): void
}
const salesforceJwt = require('node-salesforce-jwt') as {
  getToken(
    opts: { clientId: string; privateKey: string; user: string; uri?: string; audience?: string },
    cb: Callback,
  ): void
}

function promised(run: (cb: Callback) => void): Promise<TokenBody> {
  return new Promise((resolve, reject) => {
    run((err, token) => {
      if (err === null && token !== null) resolve(token)
      // The libraries reject with the parsed OAuth error body or an Error; keep it as it came.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      else reject(err)
    })
  })
}

function rsaPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }
}

describe('JWT bearer libraries against the emulator', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let consumerKey: string
  const keys = rsaPair()
  const stranger = rsaPair()

  beforeAll(async () => {
    emulator = await startEmulator({ orgs: [{ name: 'jwt-libs' }] })
    org = emulator.org('jwt-libs')
    org.addUser({ username: 'integration@jwt-libs.example' })
    consumerKey = org.addConnectedApp({
      name: 'Server To Server',
      callbackUrls: ['https://unused.example/cb'],
      scopes: ['api', 'web'],
      certificate: keys.publicPem,
    }).consumerKey
  })
  afterAll(async () => {
    await emulator.close()
  })

  const userIdOf = (token: TokenBody) => token.id.split('/').at(-1)

  it('salesforce-jwt-bearer-token-flow (sub) gets a token that the REST API accepts', async () => {
    const token = await promised((cb) =>
      bearerFlow.getToken(
        {
          iss: consumerKey,
          sub: 'integration@jwt-libs.example',
          aud: org.loginUrl,
          privateKey: keys.privatePem,
        },
        cb,
      ),
    )
    expect(token.instance_url).toBe(org.instanceUrl)
    expect(userIdOf(token)).toBe(org.user('integration@jwt-libs.example').userId)
    const limits = await getJson(
      `${token.instance_url}/services/data/v61.0/limits`,
      token.access_token,
    )
    expect(limits.status).toBe(200)
  })

  it('salesforce-jwt-bearer-token-flow reports a key the app does not trust', async () => {
    const err = await promised((cb) =>
      bearerFlow.getToken(
        {
          iss: consumerKey,
          sub: 'integration@jwt-libs.example',
          aud: org.loginUrl,
          privateKey: stranger.privatePem,
        },
        cb,
      ),
    ).catch((e: unknown) => e)
    expect(err).toEqual({
      error: 'invalid_client',
      error_description: 'invalid client credentials',
    })
  })

  it('node-salesforce-jwt (prn) authenticates the prn user', async () => {
    const token = await promised((cb) =>
      salesforceJwt.getToken(
        {
          clientId: consumerKey,
          privateKey: keys.privatePem,
          user: 'integration@jwt-libs.example',
          uri: `${org.loginUrl}/services/oauth2/token`,
        },
        cb,
      ),
    )
    expect(userIdOf(token)).toBe(org.user('integration@jwt-libs.example').userId)
    expect(token.scope).toBe('api web')
    const identity = await getJson(token.id, token.access_token)
    expect(identity.body.username).toBe('integration@jwt-libs.example')
  })

  it('node-salesforce-jwt reports an unknown prn user as Salesforce does', async () => {
    const err = await promised((cb) =>
      salesforceJwt.getToken(
        {
          clientId: consumerKey,
          privateKey: keys.privatePem,
          user: 'nobody@jwt-libs.example',
          uri: `${org.loginUrl}/services/oauth2/token`,
          audience: 'https://test.salesforce.com',
        },
        cb,
      ),
    ).catch((e: unknown) => e)
    expect((err as Error).message).toBe(
      "Unable to authenticate: invalid_grant (user hasn't approved this consumer)",
    )
  })
})
