/**
 * End to end on the Salesforce emulator: a browser flow is bound to whoever started it. An
 * attacker who starts a per-user flow and sends the authorize URL to a victim gets nothing: the
 * victim's callback is refused with `AUTHORIZATION_USER_MISMATCH`, the code is never redeemed and
 * nothing is stored under either user. A callback carrying another state than the session's is
 * refused before anything else happens (RFC 6749 §10.12).
 */
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

const REDIRECT = 'http://127.0.0.1:9/services/authcallback/Target'
const ATTACKER = 'mallory@target.example'
const VICTIM = 'victim@target.example'

let emulator: Emulator
let org: EmulatedOrg
let home: TestHome
let broker: Broker

const keyOf = (userId: string) => ({ externalCredential: 'Users', principal: 'EachUser', userId })
const codeExchanges = () => emulator.requestLog.tokenRequests('authorization_code')

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [
      {
        name: 'target',
        users: [
          { username: ATTACKER, password: 'Mall0ry-Pa55!' },
          { username: VICTIM, password: 'V1ctim-Pa55!' },
        ],
        connectedApps: [
          {
            name: 'Web',
            callbackUrls: [REDIRECT],
            scopes: ['api', 'refresh_token'],
            adminPreAuthorized: true,
          },
        ],
      },
    ],
  })
  org = emulator.org('target')
  const web = org.connectedApp('Web')
  home = await makeHome({ SF_WEB_SECRET: web.consumerSecret })
  broker = await openTestBroker(home, {
    authProviders: {
      Target: {
        type: 'salesforce',
        loginUrl: org.loginUrl,
        consumerKey: web.consumerKey,
        consumerSecret: '${env:SF_WEB_SECRET}',
      },
    },
    externalCredentials: {
      Users: {
        protocol: 'oauth2',
        flow: 'browser',
        authProvider: 'Target',
        scope: 'api refresh_token',
        principals: { EachUser: { type: 'per-user' } },
      },
    },
    namedCredentials: { Crm: { url: org.instanceUrl, externalCredential: 'Users' } },
  })
})

afterAll(async () => {
  await broker?.close()
  await emulator?.close()
  await home?.cleanup()
})

describe('a browser flow is bound to its initiator', () => {
  it("refuses a victim's callback to an attacker's per-user flow and stores nothing", async () => {
    const exchangesBefore = codeExchanges()
    // The attacker starts a flow as themselves and sends the authorize URL to the victim.
    const { url } = await broker.authorizeUrl('Crm', { redirectUri: REDIRECT, user: ATTACKER })
    // The victim logs in and approves; the callback reaches the app in the victim's session.
    const callback = await salesforceAuthorize(url, org.user(VICTIM))
    expect(new URL(callback).searchParams.get('code')).toBeTruthy()
    const error = await broker.completeAuthorization(callback, { user: VICTIM }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ code: 'AUTHORIZATION_USER_MISMATCH' })
    expect(await readCredential(home, keyOf(ATTACKER))).toBeUndefined()
    expect(await readCredential(home, keyOf(VICTIM))).toBeUndefined()
    expect(codeExchanges()).toBe(exchangesBefore)
    // The pending flow is spent: replaying the callback as the attacker gets nothing either.
    await expect(broker.completeAuthorization(callback, { user: ATTACKER })).rejects.toMatchObject({
      code: 'AUTHORIZATION_FAILED',
    })
    expect(await readCredential(home, keyOf(ATTACKER))).toBeUndefined()
    await expect(
      broker.fetch('callout:Crm/services/data/v61.0/', { user: ATTACKER }),
    ).rejects.toMatchObject({ code: 'NOT_AUTHENTICATED' })
  })

  it('a per-user callback without the user is USER_REQUIRED and stores nothing', async () => {
    const { url } = await broker.authorizeUrl('Crm', { redirectUri: REDIRECT, user: VICTIM })
    const callback = await salesforceAuthorize(url, org.user(VICTIM))
    await expect(broker.completeAuthorization(callback)).rejects.toMatchObject({
      code: 'USER_REQUIRED',
    })
    expect(await readCredential(home, keyOf(VICTIM))).toBeUndefined()
  })

  it("a callback with another state than the session's is refused; the session's own completes", async () => {
    const mine = await broker.authorizeUrl('Crm', { redirectUri: REDIRECT, user: VICTIM })
    const theirs = await broker.authorizeUrl('Crm', { redirectUri: REDIRECT, user: VICTIM })
    const foreign = await salesforceAuthorize(theirs.url, org.user(VICTIM))
    await expect(
      broker.completeAuthorization(foreign, { user: VICTIM, state: mine.state }),
    ).rejects.toMatchObject({ code: 'AUTHORIZATION_FAILED' })
    expect(await readCredential(home, keyOf(VICTIM))).toBeUndefined()

    const callback = await salesforceAuthorize(mine.url, org.user(VICTIM))
    const report = await broker.completeAuthorization(callback, {
      user: VICTIM,
      state: mine.state,
    })
    expect(report.principals.find((p) => p.userId === VICTIM)?.summary).toBe(
      `Authenticated as ${VICTIM}`,
    )
    const stored = await readCredential(home, keyOf(VICTIM))
    expect(stored?.status).toBe('authenticated')
    expect(stored?.identity?.username).toBe(VICTIM)
    expect(await readCredential(home, keyOf(ATTACKER))).toBeUndefined()
  })
})
