/**
 * End to end: a token set obtained from the authorization server is never lost to a store that
 * is locked. oidc-provider rotates refresh tokens (the old one dies at once); right after it
 * answers a refresh, another SQLite connection takes the database's write lock and holds it
 * longer than the store waits. The callout still succeeds with the new token, the new refresh
 * token reaches the store once the lock is released, and the next refresh works.
 */
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../../src/index.ts'
import { openStore } from '../../src/store/open-store.ts'
import type { Store } from '../../src/store/types.ts'
import { startOidcServer, type OidcTestServer } from '../helpers/oidc-server.ts'
import {
  bearerOf,
  listen,
  makeHome,
  openTestBroker,
  readBody,
  readCredential,
  sendJson,
  type Listening,
  type TestHome,
} from './helpers/e2e.ts'

const CLIENT_SECRET = 'web-secret-7a1c'
const REDIRECT = 'http://127.0.0.1:9/callback'
const KEY = { externalCredential: 'IdpUser', principal: 'Me', userId: '' }
/** The store's own wait for a foreign write lock. */
const BUSY_TIMEOUT_MS = 100
/** How long the token manager retries a failed commit while it holds the lease. */
const COMMIT_RETRY_MS = 2_000

let idp: OidcTestServer
let upstream: Listening
let home: TestHome
let store: Store
let broker: Broker
const refused = new Set<string>()
/** When set, the next refresh answer is followed by a foreign write lock held this long. */
let lockAfterRefreshMs = 0
let lockReleased: Promise<void> = Promise.resolve()
let locked = false

/** Takes the SQLite write lock from a separate connection and holds it for `ms`. */
function holdWriteLock(ms: number): Promise<void> {
  const locker = new BetterSqlite3(home.dbPath)
  locker.exec('BEGIN IMMEDIATE')
  locked = true
  return new Promise((resolve) =>
    setTimeout(() => {
      locked = false
      locker.exec('COMMIT')
      locker.close()
      resolve()
    }, ms),
  )
}

/** The broker's fetch to the authorization server: a real request, then maybe the lock. */
async function authFetch(input: string | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init)
  if (lockAfterRefreshMs > 0 && String(init?.body).includes('grant_type=refresh_token')) {
    lockReleased = holdWriteLock(lockAfterRefreshMs)
    lockAfterRefreshMs = 0
  }
  return response
}

async function introspect(token: string): Promise<boolean> {
  const res = await fetch(idp.introspectUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`web:${CLIENT_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }),
  })
  return ((await res.json()) as { active: boolean }).active
}

beforeAll(async () => {
  idp = await startOidcServer({
    clients: [{ clientId: 'web', clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT] }],
    rotateRefreshToken: true,
    alwaysIssueRefreshToken: false,
  })
  upstream = await listen((req, res) => {
    void (async () => {
      await readBody(req)
      const token = bearerOf(req)
      if (token === undefined || refused.has(token) || !(await introspect(token))) {
        return sendJson(res, 401, { error: 'invalid_token' })
      }
      sendJson(res, 200, { ok: true })
    })()
  })
  home = await makeHome({ IDP_SECRET: CLIENT_SECRET })
  store = await openStore({ home: home.dir, env: home.env, busyTimeoutMs: BUSY_TIMEOUT_MS })
  broker = await openTestBroker(
    home,
    {
      authProviders: {
        Idp: {
          type: 'oidc',
          issuer: idp.issuer,
          consumerKey: 'web',
          consumerSecret: '${env:IDP_SECRET}',
          clientAuth: 'client_secret_basic',
        },
      },
      externalCredentials: {
        IdpUser: {
          protocol: 'oauth2',
          flow: 'browser',
          authProvider: 'Idp',
          scope: 'openid offline_access',
          principals: { Me: { type: 'named' } },
        },
      },
      namedCredentials: { Api: { url: `${upstream.origin}/api`, externalCredential: 'IdpUser' } },
    },
    { store, auth: { fetch: authFetch }, tokens: { commitRetryMs: COMMIT_RETRY_MS } },
  )
  const { url } = await broker.authorizeUrl('Api', { redirectUri: REDIRECT, prompt: 'consent' })
  await broker.completeAuthorization(await idp.authorize(url, { login: 'alice' }))
})

afterAll(async () => {
  await lockReleased
  await broker?.close()
  await store?.close()
  await Promise.all([idp?.close(), upstream?.close()])
  await home?.cleanup()
})

/** Makes the upstream refuse the current access token, so the next callout refreshes. */
async function refuseCurrentToken(): Promise<string> {
  const current = await readCredential(home, KEY, store)
  refused.add(current!.accessToken!.reveal())
  return current!.refreshToken!.reveal()
}

async function callOk(): Promise<void> {
  const res = await broker.fetch('callout:Api/me')
  expect(res.status).toBe(200)
  await res.arrayBuffer()
}

describe('a rotated refresh token survives a locked store', () => {
  it('a lock longer than the store wait: the commit is retried under the lease and stored', async () => {
    const oldRefreshToken = await refuseCurrentToken()
    lockAfterRefreshMs = BUSY_TIMEOUT_MS * 8
    await callOk()
    // Stored before the callout returned: the commit waited out the lock.
    expect(locked).toBe(false)
    const stored = await readCredential(home, KEY, store)
    expect(stored?.status).toBe('authenticated')
    expect(stored?.refreshToken?.reveal()).not.toBe(oldRefreshToken)
    // The stored refresh token is the live one: the next refresh works.
    await refuseCurrentToken()
    await callOk()
    expect((await readCredential(home, KEY, store))?.status).toBe('authenticated')
  })

  it('a lock longer than the retry window: the token set is used from memory and stored after', async () => {
    const oldRefreshToken = await refuseCurrentToken()
    lockAfterRefreshMs = COMMIT_RETRY_MS * 2
    await callOk()
    expect(locked).toBe(true)
    // Still locked: the store holds the old (now dead) refresh token; the broker has the new one.
    expect((await readCredential(home, KEY, store))?.refreshToken?.reveal()).toBe(oldRefreshToken)
    await callOk()
    await lockReleased
    let stored = await readCredential(home, KEY, store)
    for (let i = 0; i < 100 && stored?.refreshToken?.reveal() === oldRefreshToken; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      stored = await readCredential(home, KEY, store)
    }
    expect(stored?.status).toBe('authenticated')
    expect(stored?.refreshToken?.reveal()).not.toBe(oldRefreshToken)
    await refuseCurrentToken()
    await callOk()
    expect((await readCredential(home, KEY, store))?.status).toBe('authenticated')
  })
})
