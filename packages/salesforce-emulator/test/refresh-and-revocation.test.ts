import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'
import { getJson, postForm } from './helpers/oauth.ts'

const EXPIRED = { error: 'invalid_grant', error_description: 'expired access/refresh token' }

describe('refresh tokens, rotation, policies, revoke, introspect, identity', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  beforeAll(async () => {
    emulator = await startEmulator({
      orgs: [
        {
          name: 'rt',
          sessionTimeoutSeconds: 900,
          users: [
            { username: 'u@rt.example', password: 'Pw-1' },
            { username: 'v@rt.example', password: 'Pw-2' },
          ],
          connectedApps: [
            { name: 'Plain', callbackUrls: ['http://localhost/cb'] },
            { name: 'Rotating', callbackUrls: ['http://localhost/cb'], rotation: true },
            {
              name: 'ExpireAfter',
              callbackUrls: ['http://localhost/cb'],
              refreshTokenPolicy: { kind: 'expire-after', seconds: 3600 },
            },
            {
              name: 'Idle',
              callbackUrls: ['http://localhost/cb'],
              refreshTokenPolicy: { kind: 'expire-if-unused', seconds: 600 },
            },
            {
              name: 'Immediate',
              callbackUrls: ['http://localhost/cb'],
              refreshTokenPolicy: { kind: 'immediately' },
            },
            {
              name: 'SecretForRefresh',
              callbackUrls: ['http://localhost/cb'],
              requireSecretForRefresh: true,
            },
          ],
        },
      ],
    })
    org = emulator.org('rt')
  })
  afterAll(async () => {
    await emulator.close()
  })

  const tokenUrl = () => `${org.instanceUrl}/services/oauth2/token`
  const refresh = (appName: string, refreshToken: string, extra: Record<string, string> = {}) =>
    postForm(tokenUrl(), {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: org.connectedApp(appName).consumerKey,
      ...extra,
    })
  const rest = (token: string) => getJson(`${org.instanceUrl}/services/data/v61.0/`, token)

  it('refreshes without returning a new refresh token when rotation is off', async () => {
    const issued = org.issueTokens({ app: 'Plain' })
    const res = await refresh('Plain', issued.refreshToken ?? '')
    expect(res.status).toBe(200)
    // The default scopes include openid: Salesforce adds an id_token to the refresh response.
    expect(Object.keys(res.body)).toEqual([
      'access_token',
      'signature',
      'scope',
      'id_token',
      'instance_url',
      'id',
      'token_type',
      'issued_at',
    ])
    expect(res.body.access_token).not.toBe(issued.accessToken)
    const again = await refresh('Plain', issued.refreshToken ?? '')
    expect(again.status).toBe(200)
    expect((await rest(res.body.access_token)).status).toBe(200)
  })

  it('rotates refresh tokens, rejects the old one and revokes the family on reuse', async () => {
    const issued = org.issueTokens({ app: 'Rotating' })
    const first = await refresh('Rotating', issued.refreshToken ?? '')
    expect(first.status).toBe(200)
    expect(first.body.refresh_token).toMatch(/^5Aep861/)
    expect(first.body.refresh_token).not.toBe(issued.refreshToken)
    const reuse = await refresh('Rotating', issued.refreshToken ?? '')
    expect(reuse.status).toBe(400)
    expect(reuse.body).toEqual(EXPIRED)
    const current = await refresh('Rotating', first.body.refresh_token)
    expect(current.body).toEqual(EXPIRED)
    expect((await rest(first.body.access_token)).status).toBe(401)
  })

  it('turns rotation on and off with the fault switch', async () => {
    org.faults.setRotation(true)
    try {
      const issued = org.issueTokens({ app: 'Plain' })
      const res = await refresh('Plain', issued.refreshToken ?? '')
      expect(res.body.refresh_token).toBeTypeOf('string')
    } finally {
      org.faults.setRotation(false)
    }
    const issued = org.issueTokens({ app: 'Plain' })
    expect((await refresh('Plain', issued.refreshToken ?? '')).body.refresh_token).toBeUndefined()
  })

  it("restores each app's configured rotation on reset", async () => {
    org.faults.setRotation(false)
    org.faults.reset()
    const rotating = org.issueTokens({ app: 'Rotating' })
    expect((await refresh('Rotating', rotating.refreshToken ?? '')).body.refresh_token).toBeTypeOf(
      'string',
    )
    const plain = org.issueTokens({ app: 'Plain' })
    expect((await refresh('Plain', plain.refreshToken ?? '')).body.refresh_token).toBeUndefined()
  })

  it('expires refresh tokens by policy', async () => {
    const absolute = org.issueTokens({ app: 'ExpireAfter' })
    const idle = org.issueTokens({ app: 'Idle' })
    const immediate = org.issueTokens({ app: 'Immediate' })
    expect((await refresh('Immediate', immediate.refreshToken ?? '')).body).toEqual(EXPIRED)
    emulator.clock.advance(500_000)
    expect((await refresh('Idle', idle.refreshToken ?? '')).status).toBe(200)
    expect((await refresh('ExpireAfter', absolute.refreshToken ?? '')).status).toBe(200)
    emulator.clock.advance(500_000)
    expect((await refresh('Idle', idle.refreshToken ?? '')).status).toBe(200)
    emulator.clock.advance(601_000)
    expect((await refresh('Idle', idle.refreshToken ?? '')).body).toEqual(EXPIRED)
    emulator.clock.advance(3_600_000)
    expect((await refresh('ExpireAfter', absolute.refreshToken ?? '')).body).toEqual(EXPIRED)
  })

  it('requires the secret for refresh when the app says so', async () => {
    const issued = org.issueTokens({ app: 'SecretForRefresh' })
    const without = await refresh('SecretForRefresh', issued.refreshToken ?? '')
    expect(without.body).toEqual({
      error: 'invalid_client',
      error_description: 'invalid client credentials',
    })
    const withSecret = await refresh('SecretForRefresh', issued.refreshToken ?? '', {
      client_secret: org.connectedApp('SecretForRefresh').consumerSecret,
    })
    expect(withSecret.status).toBe(200)
  })

  it('rejects a refresh token presented by another app', async () => {
    const issued = org.issueTokens({ app: 'Plain' })
    expect((await refresh('Rotating', issued.refreshToken ?? '')).body).toEqual(EXPIRED)
  })

  it('expires access tokens after the session timeout', async () => {
    const issued = org.issueTokens({ app: 'Plain' })
    expect((await rest(issued.accessToken)).status).toBe(200)
    emulator.clock.advance(901_000)
    const res = await rest(issued.accessToken)
    expect(res.status).toBe(401)
    expect(res.body).toEqual([
      { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' },
    ])
  })

  it('revokes a refresh token and its access tokens', async () => {
    const issued = org.issueTokens({ app: 'Plain' })
    const refreshed = await refresh('Plain', issued.refreshToken ?? '')
    const res = await postForm(`${org.instanceUrl}/services/oauth2/revoke`, {
      token: issued.refreshToken ?? '',
    })
    expect(res.status).toBe(200)
    expect(res.body).toBe('')
    expect((await rest(issued.accessToken)).status).toBe(401)
    expect((await rest(refreshed.body.access_token)).status).toBe(401)
    expect((await refresh('Plain', issued.refreshToken ?? '')).body).toEqual(EXPIRED)
  })

  it('revokes an access token alone, and answers 400 for an unknown token', async () => {
    const issued = org.issueTokens({ app: 'Plain' })
    expect(
      (await postForm(`${org.instanceUrl}/services/oauth2/revoke`, { token: issued.accessToken }))
        .status,
    ).toBe(200)
    expect((await rest(issued.accessToken)).status).toBe(401)
    expect((await refresh('Plain', issued.refreshToken ?? '')).status).toBe(200)
    const unknown = await postForm(`${org.instanceUrl}/services/oauth2/revoke`, { token: 'nope' })
    expect(unknown.status).toBe(400)
    expect(new URLSearchParams(unknown.body as string).get('error')).toBe('invalid_token')
  })

  it('introspects tokens in RFC 7662 shape', async () => {
    const app = org.connectedApp('Plain')
    const issued = org.issueTokens({ app: 'Plain' })
    const introspect = (token: string, appName = 'Plain') =>
      postForm(`${org.instanceUrl}/services/oauth2/introspect`, {
        token,
        client_id: org.connectedApp(appName).consumerKey,
        client_secret: org.connectedApp(appName).consumerSecret,
      })
    const active = await introspect(issued.accessToken)
    expect(active.status).toBe(200)
    expect(active.body).toMatchObject({
      active: true,
      client_id: app.consumerKey,
      username: 'u@rt.example',
      sub: issued.id,
      token_type: 'access_token',
    })
    expect(active.body.exp - active.body.iat).toBe(900)
    expect((await introspect(issued.refreshToken ?? '')).body).toMatchObject({
      active: true,
      token_type: 'refresh_token',
    })
    expect((await introspect('nope')).body).toEqual({ active: false })
    expect((await introspect(issued.accessToken, 'Rotating')).body).toEqual({ active: false })
    const badClient = await postForm(`${org.instanceUrl}/services/oauth2/introspect`, {
      token: issued.accessToken,
      client_id: app.consumerKey,
    })
    expect(badClient.body).toEqual({
      error: 'invalid_client',
      error_description: 'invalid client credentials',
    })
  })

  it('serves the identity URL with a Bearer header or ?oauth_token=, and 403 Bad_OAuth_Token', async () => {
    const issued = org.issueTokens({ app: 'Plain' })
    const user = org.user('u@rt.example')
    const byHeader = await getJson(issued.id, issued.accessToken)
    expect(byHeader.status).toBe(200)
    expect(byHeader.body).toMatchObject({
      id: issued.id,
      user_id: user.userId,
      organization_id: org.orgId,
      username: 'u@rt.example',
      display_name: user.name,
      email: 'u@rt.example',
    })
    expect(byHeader.body.urls.rest).toBe(`${org.instanceUrl}/services/data/v{version}/`)
    expect(byHeader.body.urls.sobjects).toBe(
      `${org.instanceUrl}/services/data/v{version}/sobjects/`,
    )
    const byQuery = await getJson(
      `${issued.id}?format=json&oauth_token=${encodeURIComponent(issued.accessToken)}&version=61.0`,
    )
    expect(byQuery.status).toBe(200)
    expect(byQuery.body.urls.query).toBe(`${org.instanceUrl}/services/data/v61.0/query/`)
    const bad = await getJson(issued.id, 'nope')
    expect(bad.status).toBe(403)
    expect(bad.body).toBe('Bad_OAuth_Token')
    emulator.faults.expireAccessToken(issued.accessToken)
    const expired = await getJson(issued.id, issued.accessToken)
    expect(expired.status).toBe(403)
    expect(expired.body).toBe('Bad_OAuth_Token')
    expect(
      emulator.requestLog
        .entries({ path: /^\/id\// })
        .every((e) => !e.path.includes('oauth_token')),
    ).toBe(true)
  })

  it('serves userinfo claims', async () => {
    const issued = org.issueTokens({ app: 'Plain', username: 'v@rt.example' })
    const res = await getJson(`${org.instanceUrl}/services/oauth2/userinfo`, issued.accessToken)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      sub: issued.id,
      user_id: org.user('v@rt.example').userId,
      organization_id: org.orgId,
      preferred_username: 'v@rt.example',
    })
    expect((await getJson(`${org.instanceUrl}/services/oauth2/userinfo`, 'nope')).status).toBe(403)
  })

  it('answers inactive_user for a deactivated user on refresh', async () => {
    const issued = org.issueTokens({ app: 'Plain', username: 'v@rt.example' })
    org.setUserActive('v@rt.example', false)
    try {
      expect((await refresh('Plain', issued.refreshToken ?? '')).body).toEqual({
        error: 'inactive_user',
        error_description: 'user is inactive',
      })
    } finally {
      org.setUserActive('v@rt.example', true)
    }
  })
})
