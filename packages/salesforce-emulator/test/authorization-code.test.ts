import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'
import { Browser, hiddenField } from './helpers/browser.ts'
import { authorize, authorizeUrl, getJson, pkcePair, postForm } from './helpers/oauth.ts'

const CALLBACK = 'http://127.0.0.1:9/services/authcallback/Target'

describe('authorization code flow with login and approval pages', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  const creds = { username: 'int@target.example', password: 'Target-1' }
  beforeAll(async () => {
    emulator = await startEmulator({
      orgs: [
        {
          name: 'target',
          users: [creds, { username: 'other@target.example', password: 'Other-1' }],
          connectedApps: [
            { name: 'Open', callbackUrls: [CALLBACK] },
            { name: 'Approve', callbackUrls: [CALLBACK], adminPreAuthorized: false },
            { name: 'Pkce', callbackUrls: [CALLBACK], pkceRequired: true, requireSecret: false },
          ],
        },
      ],
    })
    org = emulator.org('target')
  })
  afterAll(async () => {
    await emulator.close()
  })

  const url = (appName: string, extra: Record<string, string> = {}) =>
    authorizeUrl(org.instanceUrl, {
      client_id: org.connectedApp(appName).consumerKey,
      redirect_uri: CALLBACK,
      ...extra,
    })
  const exchange = (appName: string, code: string, extra: Record<string, string> = {}) =>
    postForm(`${org.instanceUrl}/services/oauth2/token`, {
      grant_type: 'authorization_code',
      code,
      client_id: org.connectedApp(appName).consumerKey,
      client_secret: org.connectedApp(appName).consumerSecret,
      redirect_uri: CALLBACK,
      ...extra,
    })

  it('logs in, redirects back with code and state, and exchanges the code once', async () => {
    const outcome = await authorize(
      url('Open', { scope: 'refresh_token full', state: 's-1' }),
      creds,
    )
    expect(outcome.pages).toEqual(['login'])
    expect(outcome.location.startsWith(`${CALLBACK}?`)).toBe(true)
    expect(outcome.params.get('state')).toBe('s-1')
    const code = outcome.params.get('code') ?? ''
    expect(code).not.toBe('')
    const res = await exchange('Open', code)
    expect(res.status).toBe(200)
    expect(res.body.refresh_token).toMatch(/^5Aep861/)
    expect(res.body.scope).toBe('refresh_token full')
    expect(res.body.expires_in).toBeUndefined()
    const rest = await getJson(`${org.instanceUrl}/services/data/v61.0/`, res.body.access_token)
    expect(rest.status).toBe(200)
  })

  it('issues no refresh token when the refresh_token scope was not granted', async () => {
    const outcome = await authorize(url('Open', { scope: 'api' }), creds)
    const res = await exchange('Open', outcome.params.get('code') ?? '')
    expect(res.status).toBe(200)
    expect(res.body.refresh_token).toBeUndefined()
    expect(res.body.scope).toBe('api')
  })

  it('revokes tokens minted from a code when the code is replayed', async () => {
    const outcome = await authorize(url('Open', { scope: 'api refresh_token' }), creds)
    const code = outcome.params.get('code') ?? ''
    const first = await exchange('Open', code)
    expect(first.status).toBe(200)
    const replay = await exchange('Open', code)
    expect(replay.status).toBe(400)
    expect(replay.body).toEqual({
      error: 'invalid_grant',
      error_description: 'invalid authorization code',
    })
    const rest = await getJson(`${org.instanceUrl}/services/data/v61.0/`, first.body.access_token)
    expect(rest.status).toBe(401)
    const refresh = await postForm(`${org.instanceUrl}/services/oauth2/token`, {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token,
      client_id: org.connectedApp('Open').consumerKey,
    })
    expect(refresh.body).toEqual({
      error: 'invalid_grant',
      error_description: 'expired access/refresh token',
    })
  })

  it('rejects an expired code', async () => {
    const outcome = await authorize(url('Open'), creds)
    emulator.clock.advance(16 * 60_000)
    const res = await exchange('Open', outcome.params.get('code') ?? '')
    expect(res.body).toEqual({
      error: 'invalid_grant',
      error_description: 'authorization code expired',
    })
  })

  it('shows the login error and stays on the page for a wrong password', async () => {
    const browser = new Browser()
    const page = await browser.get(url('Open'))
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    const again = await browser.post(`${org.instanceUrl}/services/oauth2/authorize`, {
      tx: hiddenField(page.html, 'tx'),
      step: 'login',
      username: creds.username,
      pw: 'wrong',
    })
    expect(again.status).toBe(200)
    expect(again.html).toContain('Please check your username and password.')
    expect(again.html).toContain('id="login"')
  })

  it('reuses the login session and honours prompt=login', async () => {
    const browser = new Browser()
    const first = await authorize(url('Open'), creds, { browser })
    expect(first.pages).toEqual(['login'])
    const second = await authorize(url('Open'), creds, { browser })
    expect(second.pages).toEqual([])
    const forced = await authorize(url('Open', { prompt: 'login' }), creds, { browser })
    expect(forced.pages).toEqual(['login'])
  })

  it('shows the approval page when the app is not pre-authorized, once', async () => {
    const browser = new Browser()
    const first = await authorize(url('Approve'), creds, { browser })
    expect(first.pages).toEqual(['login', 'approval'])
    const second = await authorize(url('Approve'), creds, { browser })
    expect(second.pages).toEqual([])
    const consent = await authorize(url('Approve', { prompt: 'consent' }), creds, { browser })
    expect(consent.pages).toEqual(['approval'])
  })

  it('redirects access_denied when the user denies', async () => {
    const outcome = await authorize(url('Approve', { state: 'xyz', prompt: 'consent' }), creds, {
      approve: false,
    })
    expect(outcome.params.get('error')).toBe('access_denied')
    expect(outcome.params.get('error_description')).toBe('end-user denied authorization')
    expect(outcome.params.get('state')).toBe('xyz')
  })

  it('sends a callback not registered exactly to the RemoteAccessErrorPage', async () => {
    for (const bad of [`${CALLBACK}/`, `${CALLBACK}?x=1`, 'http://127.0.0.1:9/other']) {
      const res = await fetch(
        authorizeUrl(org.instanceUrl, {
          client_id: org.connectedApp('Open').consumerKey,
          redirect_uri: bad,
        }),
        { redirect: 'manual' },
      )
      expect(res.status).toBe(302)
      const location = new URL(res.headers.get('location') ?? '')
      expect(location.origin).toBe(org.instanceUrl)
      expect(location.searchParams.get('error')).toBe('redirect_uri_mismatch')
      expect(location.searchParams.get('error_description')).toBe(
        'redirect_uri must match configuration',
      )
      const pageRes = await fetch(location)
      expect(pageRes.status).toBe(400)
      expect(await pageRes.text()).toContain('error=redirect_uri_mismatch')
    }
  })

  it('sends an unknown client_id to the RemoteAccessErrorPage', async () => {
    const res = await fetch(
      authorizeUrl(org.instanceUrl, { client_id: 'nope', redirect_uri: CALLBACK }),
      {
        redirect: 'manual',
      },
    )
    const location = new URL(res.headers.get('location') ?? '')
    expect(location.searchParams.get('error')).toBe('invalid_client_id')
    expect(location.searchParams.get('error_description')).toBe('client identifier invalid')
  })

  it('answers redirect_uri_mismatch when the token request uses another redirect_uri', async () => {
    const outcome = await authorize(url('Open'), creds)
    const res = await exchange('Open', outcome.params.get('code') ?? '', {
      redirect_uri: 'http://elsewhere/cb',
    })
    expect(res.body).toEqual({
      error: 'redirect_uri_mismatch',
      error_description: 'redirect_uri must match configuration',
    })
  })

  it('redirects invalid_scope for a scope the app does not allow', async () => {
    const res = await fetch(url('Open', { scope: 'api chatter_api', state: 'q' }), {
      redirect: 'manual',
    })
    const location = new URL(res.headers.get('location') ?? '')
    expect(`${location.origin}${location.pathname}`).toBe(CALLBACK)
    expect(location.searchParams.get('error')).toBe('invalid_scope')
    expect(location.searchParams.get('state')).toBe('q')
  })

  describe('PKCE', () => {
    it('accepts S256 with no code_challenge_method and a 171-character verifier', async () => {
      const { verifier, challenge } = pkcePair()
      expect(verifier.length).toBe(171)
      const outcome = await authorize(url('Pkce', { code_challenge: challenge }), creds)
      const res = await exchange('Pkce', outcome.params.get('code') ?? '', {
        code_verifier: verifier,
        client_secret: '',
      })
      expect(res.status).toBe(200)
    })

    it('answers invalid code verifier for a wrong or missing verifier', async () => {
      const { challenge } = pkcePair()
      for (const verifier of [pkcePair().verifier, undefined]) {
        const outcome = await authorize(
          url('Pkce', { code_challenge: challenge, code_challenge_method: 'S256' }),
          creds,
        )
        const extra: Record<string, string> =
          verifier === undefined ? {} : { code_verifier: verifier }
        const res = await exchange('Pkce', outcome.params.get('code') ?? '', extra)
        expect(res.status).toBe(400)
        expect(res.body).toEqual({
          error: 'invalid_grant',
          error_description: 'invalid code verifier',
        })
      }
    })

    it('redirects invalid_request when the app requires PKCE and no challenge is sent', async () => {
      const res = await fetch(url('Pkce', { state: 'p' }), { redirect: 'manual' })
      const location = new URL(res.headers.get('location') ?? '')
      expect(location.searchParams.get('error')).toBe('invalid_request')
      expect(location.searchParams.get('state')).toBe('p')
    })
  })

  it('keeps at most five approvals per user and app, revoking the oldest refresh token', async () => {
    const refreshTokens: string[] = []
    for (let i = 0; i < 6; i++) {
      const outcome = await authorize(url('Open', { scope: 'api refresh_token' }), {
        username: 'other@target.example',
        password: 'Other-1',
      })
      const res = await exchange('Open', outcome.params.get('code') ?? '')
      refreshTokens.push(res.body.refresh_token)
    }
    expect(org.approvals('other@target.example', 'Open')).toBe(5)
    const refresh = (token: string) =>
      postForm(`${org.instanceUrl}/services/oauth2/token`, {
        grant_type: 'refresh_token',
        refresh_token: token,
        client_id: org.connectedApp('Open').consumerKey,
      })
    const oldest = await refresh(refreshTokens[0] ?? '')
    expect(oldest.body).toEqual({
      error: 'invalid_grant',
      error_description: 'expired access/refresh token',
    })
    const second = await refresh(refreshTokens[1] ?? '')
    expect(second.status).toBe(200)
  })

  it('supports the user-agent flow (response_type=token) with a fragment', async () => {
    const outcome = await authorize(
      url('Open', { response_type: 'token', state: 'ua', scope: 'api' }),
      creds,
    )
    expect(outcome.location.startsWith(`${CALLBACK}#`)).toBe(true)
    expect(outcome.params.get('token_type')).toBe('Bearer')
    expect(outcome.params.get('state')).toBe('ua')
    expect(outcome.params.get('access_token')).toMatch(/^00D/)
  })
})
