/**
 * End to end: the `browser` flow (authorization code + PKCE, then refresh tokens with rotation)
 * against a real authorization server (oidc-provider 9), through the broker's public API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../../src/index.ts'
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

const CLIENT_ID = 'web'
const CLIENT_SECRET = 'web-secret-5d0b3a'
const REDIRECT = 'http://127.0.0.1:9/callback'
const KEY = { externalCredential: 'IdpUser', principal: 'Me', userId: '' }

let idp: OidcTestServer
let upstream: Listening
let home: TestHome
let broker: Broker
const seen: string[] = []
const refused = new Set<string>()
const reauthEvents: { code: string; namedCredential?: string }[] = []
/** The broker's clock runs this far ahead of real time (to age tokens without waiting). */
let clockOffsetMs = 0
const clock = { now: () => Date.now() + clockOffsetMs }

function basic(): string {
  return `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`
}

async function introspect(token: string): Promise<{ active: boolean; sub?: string }> {
  const res = await fetch(idp.introspectUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic() },
    body: new URLSearchParams({ token }),
  })
  return (await res.json()) as { active: boolean; sub?: string }
}

async function refreshDirectly(
  refreshToken: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(idp.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic() },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

beforeAll(async () => {
  idp = await startOidcServer({
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT] }],
    rotateRefreshToken: true,
    // Only offline_access earns a refresh token, as in production oidc-provider setups.
    alwaysIssueRefreshToken: false,
  })
  upstream = await listen((req, res) => {
    void (async () => {
      await readBody(req)
      const token = bearerOf(req)
      if (token === undefined) return sendJson(res, 401, { error: 'no bearer token' })
      seen.push(token)
      if (refused.has(token)) return sendJson(res, 401, { error: 'token refused' })
      const info = await introspect(token)
      if (!info.active) return sendJson(res, 401, { error: 'inactive' })
      sendJson(res, 200, { ok: true, sub: info.sub })
    })()
  })
  home = await makeHome({ IDP_SECRET: CLIENT_SECRET })
  broker = await openTestBroker(
    home,
    {
      authProviders: {
        Idp: {
          type: 'oidc',
          issuer: idp.issuer,
          consumerKey: CLIENT_ID,
          consumerSecret: '${env:IDP_SECRET}',
          clientAuth: 'client_secret_basic',
        },
      },
      externalCredentials: {
        IdpUser: {
          protocol: 'oauth2',
          flow: 'browser',
          authProvider: 'Idp',
          scope: 'openid profile offline_access',
          principals: { Me: { type: 'named' } },
        },
      },
      namedCredentials: { Api: { url: `${upstream.origin}/api`, externalCredential: 'IdpUser' } },
    },
    { clock },
  )
  broker.on('needs-reauth', (e) => {
    reauthEvents.push({
      code: e.code,
      ...(e.namedCredential === undefined ? {} : { namedCredential: e.namedCredential }),
    })
  })
})

afterAll(async () => {
  await broker?.close()
  await Promise.all([idp?.close(), upstream?.close()])
  await home?.cleanup()
})

describe('oidc browser flow end to end', () => {
  let callbackUrl: URL

  it('refuses callouts before authentication, without a token request', async () => {
    await expect(broker.fetch('callout:Api/me')).rejects.toMatchObject({
      code: 'NOT_AUTHENTICATED',
    })
    expect(idp.tokenRequests).toBe(0)
    const [report] = await broker.status('Api')
    expect(report?.principals[0]?.status).toBe('not-configured')
  })

  it('authorizes through login and consent and shows "Authenticated as <user>"', async () => {
    const { url, state } = await broker.authorizeUrl('Api', {
      redirectUri: REDIRECT,
      prompt: 'consent',
    })
    const authorize = new URL(url)
    expect(authorize.origin).toBe(idp.issuer)
    expect(authorize.searchParams.get('state')).toBe(state)
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authorize.searchParams.get('scope')).toBe('openid profile offline_access')
    callbackUrl = await idp.authorize(url, { login: 'alice' })
    expect(callbackUrl.searchParams.get('code')).toBeTruthy()
    const report = await broker.completeAuthorization(callbackUrl.href)
    expect(report.principals[0]?.status).toBe('authenticated')
    expect(report.principals[0]?.summary).toMatch(/^Authenticated as alice(@example\.test)?$/)
    expect(report.principals[0]?.hasRefreshToken).toBe(true)
    expect(idp.tokenRequests).toBe(1)
  })

  it('a replayed callback is AUTHORIZATION_FAILED', async () => {
    await expect(broker.completeAuthorization(callbackUrl.href)).rejects.toMatchObject({
      code: 'AUTHORIZATION_FAILED',
    })
    expect(idp.tokenRequests).toBe(1)
  })

  it('a callback with an unknown state is AUTHORIZATION_FAILED, and the pending one still works only once', async () => {
    const { url } = await broker.authorizeUrl('Api', { redirectUri: REDIRECT, prompt: 'consent' })
    const callback = await idp.authorize(url, { login: 'alice' })
    const forged = new URL(callback)
    forged.searchParams.set('state', 'attacker-state')
    await expect(broker.completeAuthorization(forged.href)).rejects.toMatchObject({
      code: 'AUTHORIZATION_FAILED',
    })
    const missing = new URL(callback)
    missing.searchParams.delete('state')
    await expect(broker.completeAuthorization(missing.href)).rejects.toMatchObject({
      code: 'AUTHORIZATION_FAILED',
    })
    expect(idp.tokenRequests).toBe(1)
    // a mix-up: the callback claims another issuer (RFC 9207)
    const mixed = await broker.authorizeUrl('Api', { redirectUri: REDIRECT, prompt: 'consent' })
    const mixedCallback = await idp.authorize(mixed.url, { login: 'alice' })
    expect(mixedCallback.searchParams.get('iss')).toBe(idp.issuer)
    mixedCallback.searchParams.set('iss', 'http://127.0.0.1:1')
    await expect(broker.completeAuthorization(mixedCallback.href)).rejects.toMatchObject({
      code: 'AUTHORIZATION_FAILED',
    })
    expect(idp.tokenRequests).toBe(1)
    // denial at the provider
    const denied = await broker.authorizeUrl('Api', { redirectUri: REDIRECT })
    const deniedCallback = await idp.authorize(denied.url, { deny: true })
    expect(deniedCallback.searchParams.get('error')).toBe('access_denied')
    await expect(broker.completeAuthorization(deniedCallback.href)).rejects.toMatchObject({
      code: 'AUTHORIZATION_FAILED',
    })
    expect(idp.tokenRequests).toBe(1)
    // the genuine callback of the second authorization completes
    const report = await broker.completeAuthorization(callback.href)
    expect(report.principals[0]?.status).toBe('authenticated')
    expect(idp.tokenRequests).toBe(2)
  })

  it('calls the upstream with the access token', async () => {
    const res = await broker.fetch('callout:Api/me')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, sub: 'alice' })
    expect(idp.tokenRequests).toBe(2)
  })

  it('an upstream 401 refreshes with rotation: the stored refresh token changes, the old one is dead', async () => {
    const before = await readCredential(home, KEY)
    const oldRefresh = before!.refreshToken!.reveal()
    const oldAccess = before!.accessToken!.reveal()
    refused.add(oldAccess)
    const res = await broker.fetch('callout:Api/me')
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect(idp.tokenRequests).toBe(3)
    const after = await readCredential(home, KEY)
    expect(after?.status).toBe('authenticated')
    expect(after?.accessToken?.reveal()).not.toBe(oldAccess)
    expect(after?.accessToken?.reveal()).toBe(seen.at(-1))
    const newRefresh = after!.refreshToken!.reveal()
    expect(newRefresh).not.toBe(oldRefresh)
    // a second refresh uses the stored (rotated) refresh token
    refused.add(after!.accessToken!.reveal())
    const res2 = await broker.fetch('callout:Api/me')
    expect(res2.status).toBe(200)
    await res2.arrayBuffer()
    expect(idp.tokenRequests).toBe(4)
    const third = await readCredential(home, KEY)
    expect(third!.refreshToken!.reveal()).not.toBe(newRefresh)
    // the first refresh token was rotated away: the provider rejects it
    const replay = await refreshDirectly(oldRefresh)
    expect(replay.status).toBe(400)
    expect(replay.body.error).toBe('invalid_grant')
    // (oidc-provider's reuse detection now revokes the whole grant: authenticate again)
    const { url } = await broker.authorizeUrl('Api', { redirectUri: REDIRECT, prompt: 'consent' })
    const report = await broker.completeAuthorization((await idp.authorize(url)).href)
    expect(report.principals[0]?.status).toBe('authenticated')
  })

  it('a token past its expires_in is refreshed before the call (proactive), without an upstream 401', async () => {
    const before = await readCredential(home, KEY)
    expect(before?.expiresAt).toBeGreaterThan(Date.now())
    const tokenBefore = idp.tokenRequests
    const upstreamBefore = seen.length
    clockOffsetMs = before!.expiresAt! - Date.now() + 1_000
    try {
      const res = await broker.fetch('callout:Api/me')
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    } finally {
      clockOffsetMs = 0
    }
    expect(idp.tokenRequests - tokenBefore).toBe(1)
    // one upstream request, already with the new token
    expect(seen.length - upstreamBefore).toBe(1)
    const after = await readCredential(home, KEY)
    expect(seen.at(-1)).toBe(after?.accessToken?.reveal())
    expect(after?.accessToken?.reveal()).not.toBe(before?.accessToken?.reveal())
    expect(after?.refreshToken?.reveal()).not.toBe(before?.refreshToken?.reveal())
  })

  it('a refresh token revoked at the provider → NEEDS_REAUTH, status needs-reauth, one event, then fail fast', async () => {
    const current = await readCredential(home, KEY)
    await idp.revoke(current!.refreshToken!.reveal(), {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    })
    refused.add(current!.accessToken!.reveal())
    const tokenBefore = idp.tokenRequests
    const errors = await Promise.all(
      Array.from({ length: 20 }, () =>
        broker.fetch('callout:Api/me').then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    )
    for (const error of errors) {
      expect(error).toMatchObject({ code: 'NEEDS_REAUTH' })
      expect((error as Error).message).toContain('callout auth Api')
    }
    expect(idp.tokenRequests - tokenBefore).toBe(1)
    const [report] = await broker.status('Api')
    expect(report?.principals[0]?.status).toBe('needs-reauth')
    expect(reauthEvents).toEqual([{ code: 'NEEDS_REAUTH', namedCredential: 'Api' }])

    const upstreamBefore = seen.length
    await expect(broker.fetch('callout:Api/me')).rejects.toMatchObject({ code: 'NEEDS_REAUTH' })
    await expect(broker.request('callout:Api/me')).rejects.toMatchObject({ code: 'NEEDS_REAUTH' })
    expect(idp.tokenRequests - tokenBefore).toBe(1)
    expect(seen.length).toBe(upstreamBefore)
    expect(reauthEvents).toHaveLength(1)

    // a fresh broker on the same home also fails fast (the state is in the store)
    const { openBroker } = await import('../../src/index.ts')
    const other = await openBroker({ home: home.dir, env: home.env })
    try {
      await expect(other.fetch('callout:Api/me')).rejects.toMatchObject({ code: 'NEEDS_REAUTH' })
      expect(idp.tokenRequests - tokenBefore).toBe(1)
    } finally {
      await other.close()
    }
  })

  it('re-authenticating clears needs-reauth', async () => {
    const { url } = await broker.authorizeUrl('Api', { redirectUri: REDIRECT, prompt: 'consent' })
    const report = await broker.completeAuthorization((await idp.authorize(url)).href)
    expect(report.principals[0]?.status).toBe('authenticated')
    const res = await broker.fetch('callout:Api/me')
    expect(res.status).toBe(200)
    await res.arrayBuffer()
  })

  it('broker.revoke revokes at the revocation endpoint (RFC 7009): both tokens inactive, the next callout NEEDS_REAUTH', async () => {
    const current = await readCredential(home, KEY)
    const access = current!.accessToken!.reveal()
    const refresh = current!.refreshToken!.reveal()
    expect((await introspect(access)).active).toBe(true)
    const result = await broker.revoke('Api')
    expect(result).toMatchObject({
      namedCredential: 'Api',
      provider: 'revoked',
      tokenType: 'refresh_token',
      removedLocally: true,
    })
    expect(JSON.stringify(result)).not.toContain(refresh)
    expect((await introspect(refresh)).active).toBe(false)
    expect((await introspect(access)).active).toBe(false)
    expect((await refreshDirectly(refresh)).body.error).toBe('invalid_grant')
    const tokenBefore = idp.tokenRequests
    const error = await broker.fetch('callout:Api/me').catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'NEEDS_REAUTH' })
    expect((error as Error).message).toContain('callout auth Api')
    expect(idp.tokenRequests).toBe(tokenBefore)
    const [report] = await broker.status('Api')
    expect(report?.principals[0]?.status).toBe('needs-reauth')
    expect(await readCredential(home, KEY)).toMatchObject({ status: 'needs-reauth' })
    expect((await readCredential(home, KEY))?.refreshToken).toBeUndefined()
  })
})
