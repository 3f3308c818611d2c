import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'
import { isLoopback } from '../src/http/loopback.ts'
import { Browser } from './helpers/browser.ts'
import { authorizeUrl, getJson, postForm } from './helpers/oauth.ts'

const INVALID_SESSION = [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]

describe('REST authentication and request hygiene', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let token: string
  beforeAll(async () => {
    emulator = await startEmulator({ maxBodyBytes: 64 * 1024 })
    org = emulator.org()
    token = org.issueTokens().accessToken
    org.registerApexRoute('GET', '/Hello/*', (req) => ({
      body: { path: req.path, user: req.user.username, q: req.query.get('q') },
    }))
    org.registerApexRoute('POST', '/Echo', (req) => ({ status: 201, body: { got: req.body } }))
    org.registerApexRoute('GET', '/Boom', () => {
      throw new Error('kaboom')
    })
    org.registerApexRoute('GET', '/Unserialisable', () => ({ body: { n: 1n } }))
  })
  afterAll(async () => {
    await emulator.close()
  })

  const base = () => `${org.instanceUrl}/services/data/v61.0`

  it('answers 401 INVALID_SESSION_ID with the exact body and content type for bad, missing and revoked tokens', async () => {
    const revoked = org.issueTokens({ scopes: ['api'] }).accessToken
    await postForm(`${org.instanceUrl}/services/oauth2/revoke`, { token: revoked })
    for (const t of ['nope', undefined, revoked, `${token}x`]) {
      const res = await getJson(`${base()}/`, t)
      expect(res.status).toBe(401)
      expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8')
      expect(res.body).toEqual(INVALID_SESSION)
    }
  })

  it('accepts Authorization: OAuth <token> and answers JSON for Accept */* or none', async () => {
    for (const headers of [
      { authorization: `OAuth ${token}` },
      { authorization: `Bearer ${token}`, accept: '*/*' },
    ]) {
      const res = await fetch(`${base()}/limits`, { headers })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8')
      expect(res.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/15000$/)
    }
  })

  it('answers 401 (not a refresh trigger for jsforce) for a token without api/full scope', async () => {
    const webOnly = org.issueTokens({ scopes: ['web', 'id'] }).accessToken
    const res = await getJson(`${base()}/`, webOnly)
    expect(res.status).toBe(401)
    expect(res.body[0].errorCode).toBe('INVALID_SESSION_ID')
    expect(res.body[0].message).toMatch(/One of the following scopes is required/)
  })

  it('rejects an oversized body with 413 JSON_PARSER_ERROR', async () => {
    const res = await fetch(`${base()}/sobjects/Account`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ Name: 'x'.repeat(70 * 1024) }),
    })
    expect(res.status).toBe(413)
    const body = (await res.json()) as { errorCode: string; message: string }[]
    expect(body[0]?.errorCode).toBe('JSON_PARSER_ERROR')
    expect(body[0]?.message).toBe('Request body exceeds the maximum size of 65536 bytes')
  })

  it('rejects malformed JSON with 400 JSON_PARSER_ERROR and no stack trace', async () => {
    const res = await fetch(`${base()}/sobjects/Account`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"Name": ',
    })
    expect(res.status).toBe(400)
    const text = await res.text()
    expect(JSON.parse(text)[0].errorCode).toBe('JSON_PARSER_ERROR')
    expect(text).not.toMatch(/at .*\.ts/)
  })

  it('rejects a wrong content type with 415', async () => {
    const res = await fetch(`${base()}/sobjects/Account`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      body: 'Name=x',
    })
    expect(res.status).toBe(415)
    expect(((await res.json()) as { errorCode: string }[])[0]?.errorCode).toBe(
      'UNSUPPORTED_MEDIA_TYPE',
    )
  })

  it('routes Apex REST, with 404 for unknown routes and APEX_ERROR for exceptions', async () => {
    const hello = await getJson(`${org.instanceUrl}/services/apexrest/Hello/World?q=1`, token)
    expect(hello.status).toBe(200)
    expect(hello.body).toEqual({ path: '/Hello/World', user: org.user().username, q: '1' })
    expect(hello.headers.get('sforce-limit-info')).toMatch(/^api-usage=/)
    const echo = await fetch(`${org.instanceUrl}/services/apexrest/Echo`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"a":1}',
    })
    expect(echo.status).toBe(201)
    expect(await echo.json()).toEqual({ got: { a: 1 } })
    const missing = await getJson(`${org.instanceUrl}/services/apexrest/Nope`, token)
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual([
      { message: 'Could not find a match for URL /Nope', errorCode: 'NOT_FOUND' },
    ])
    const boom = await getJson(`${org.instanceUrl}/services/apexrest/Boom`, token)
    expect(boom.status).toBe(500)
    expect(boom.body).toEqual([
      { message: 'System.UnexpectedException: kaboom', errorCode: 'APEX_ERROR' },
    ])
    const wrongMethod = await fetch(`${org.instanceUrl}/services/apexrest/Echo`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(wrongMethod.status).toBe(405)
    expect((await getJson(`${org.instanceUrl}/services/apexrest/Hello/World`)).status).toBe(401)
  })

  it('turns an unexpected exception into a 500 UNKNOWN_EXCEPTION without internals', async () => {
    const res = await getJson(`${org.instanceUrl}/services/apexrest/Unserialisable`, token)
    expect(res.status).toBe(500)
    expect(res.body[0].errorCode).toBe('UNKNOWN_EXCEPTION')
    expect(res.body[0].message).toMatch(/^An unexpected error occurred/)
    expect(JSON.stringify(res.body)).not.toMatch(/BigInt|\.ts:/)
  })
})

describe('fault switches', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  beforeAll(async () => {
    emulator = await startEmulator()
    org = emulator.org()
  })
  beforeEach(() => {
    emulator.faults.reset()
    emulator.requestLog.clear()
  })
  afterAll(async () => {
    await emulator.close()
  })

  const rest = (token: string) => getJson(`${org.instanceUrl}/services/data/v61.0/`, token)
  const admin = async (path: string, body?: unknown) => {
    const res = await fetch(`${org.instanceUrl}/_emulator${path}`, {
      method: body === undefined && path === '/requests' ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? '{}' : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const refresh = (refreshToken: string) =>
    postForm(`${org.instanceUrl}/services/oauth2/token`, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: org.connectedApp().consumerKey,
    })
  const passwordGrant = () =>
    postForm(`${org.instanceUrl}/services/oauth2/token`, {
      grant_type: 'password',
      client_id: org.connectedApp().consumerKey,
      client_secret: org.connectedApp().consumerSecret,
      username: org.user().username,
      password: org.user().password,
    })

  for (const via of ['programmatic', 'http'] as const) {
    describe(via, () => {
      const set = async (programmatic: () => void, path: string, body: unknown) => {
        if (via === 'programmatic') programmatic()
        else expect((await admin(path, body)).status).toBe(200)
      }

      it('expires all sessions, and one token', async () => {
        const a = org.issueTokens()
        const b = org.issueTokens()
        await set(() => org.faults.expireAccessToken(a.accessToken), '/faults/expire-sessions', {
          token: a.accessToken,
        })
        expect((await rest(a.accessToken)).status).toBe(401)
        expect((await rest(b.accessToken)).status).toBe(200)
        await set(() => org.faults.expireSessions(), '/faults/expire-sessions', {})
        expect((await rest(b.accessToken)).body).toEqual(INVALID_SESSION)
        expect((await refresh(b.refreshToken ?? '')).status).toBe(200)
      })

      it('revokes all refresh tokens', async () => {
        const a = org.issueTokens()
        await set(() => org.faults.revokeRefreshTokens(), '/faults/revoke-refresh-tokens', {})
        expect((await refresh(a.refreshToken ?? '')).body).toEqual({
          error: 'invalid_grant',
          error_description: 'expired access/refresh token',
        })
      })

      it('turns rotation on', async () => {
        await set(() => org.faults.setRotation(true), '/faults/rotation', { enabled: true })
        const a = org.issueTokens()
        expect((await refresh(a.refreshToken ?? '')).body.refresh_token).toBeTypeOf('string')
      })

      it('changes instance_url in token responses', async () => {
        await set(() => org.faults.setInstanceUrl('http://127.0.0.1:1'), '/faults/instance-url', {
          url: 'http://127.0.0.1:1',
        })
        expect((await passwordGrant()).body.instance_url).toBe('http://127.0.0.1:1')
        await set(() => org.faults.setInstanceUrl(null), '/faults/instance-url', { url: null })
        expect((await passwordGrant()).body.instance_url).toBe(org.instanceUrl)
      })

      it('answers REST calls with a 302 to another host', async () => {
        const a = org.issueTokens()
        await set(() => org.faults.setRestRedirect(true), '/faults/rest-redirect', { to: true })
        const res = await fetch(`${org.instanceUrl}/services/data/v61.0/query?q=x`, {
          redirect: 'manual',
          headers: { authorization: `Bearer ${a.accessToken}` },
        })
        expect(res.status).toBe(302)
        expect(res.headers.get('location')).toBe(
          'https://default.my.salesforce.com/services/data/v61.0/query?q=x',
        )
        await set(() => org.faults.setRestRedirect('http://127.0.0.1:2'), '/faults/rest-redirect', {
          to: 'http://127.0.0.1:2',
        })
        const again = await fetch(`${org.instanceUrl}/services/data/v61.0/`, { redirect: 'manual' })
        expect(again.headers.get('location')).toBe('http://127.0.0.1:2/services/data/v61.0')
      })

      it('makes the login page refuse passwords (SSO only)', async () => {
        await set(() => org.faults.setSsoOnly(true), '/faults/sso-only', { enabled: true })
        const browser = new Browser()
        const url = authorizeUrl(org.instanceUrl, {
          client_id: org.connectedApp().consumerKey,
          redirect_uri: org.connectedApp().callbackUrls[0] ?? '',
        })
        const page = await browser.get(url)
        expect(page.html).toContain('single sign-on')
        const tx = /name="tx" value="([^"]+)"/.exec(page.html)?.[1] ?? ''
        const after = await browser.post(`${org.instanceUrl}/services/oauth2/authorize`, {
          tx,
          step: 'login',
          username: org.user().username,
          pw: org.user().password,
        })
        expect(after.status).toBe(200)
        expect(after.location).toBeUndefined()
        expect(after.html).toContain('password login is disabled')
      })

      it('redirects back with SAME_ORG_SSO', async () => {
        await set(() => org.faults.setSameOrgSso(true), '/faults/same-org-sso', { enabled: true })
        const callback = org.connectedApp().callbackUrls[0] ?? ''
        const res = await fetch(
          authorizeUrl(org.instanceUrl, {
            client_id: org.connectedApp().consumerKey,
            redirect_uri: callback,
            state: 'st',
          }),
          { redirect: 'manual' },
        )
        expect(res.status).toBe(302)
        const location = new URL(res.headers.get('location') ?? '')
        expect(`${location.origin}${location.pathname}`).toBe(callback)
        expect(location.searchParams.get('error')).toBe('SAME_ORG_SSO')
        expect(location.searchParams.get('error_description')).toBe('Cannot sign on into same org')
        expect(location.searchParams.get('ErrorCode')).toBe('SAME_ORG_SSO')
        expect(location.searchParams.get('state')).toBe('st')
      })

      it('rate-limits REST with 403 REQUEST_LIMIT_EXCEEDED', async () => {
        const a = org.issueTokens()
        await set(() => org.faults.setRateLimited(true), '/faults/rate-limit', { enabled: true })
        const res = await rest(a.accessToken)
        expect(res.status).toBe(403)
        expect(res.body).toEqual([
          { message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' },
        ])
      })

      it('injects latency per endpoint class', async () => {
        const a = org.issueTokens()
        await set(() => org.faults.setLatency({ tokenMs: 300 }), '/faults/latency', {
          tokenMs: 300,
        })
        let started = Date.now()
        await rest(a.accessToken)
        expect(Date.now() - started).toBeLessThan(250)
        started = Date.now()
        await passwordGrant()
        expect(Date.now() - started).toBeGreaterThanOrEqual(290)
        await set(() => org.faults.setLatency({ tokenMs: 0, restMs: 300 }), '/faults/latency', {
          tokenMs: 0,
          restMs: 300,
        })
        started = Date.now()
        await rest(a.accessToken)
        expect(Date.now() - started).toBeGreaterThanOrEqual(290)
      })

      it('fails the next N requests with a 5xx', async () => {
        const a = org.issueTokens()
        await set(() => org.faults.failNext(2, { status: 503 }), '/faults/fail-next', {
          count: 2,
          status: 503,
        })
        const first = await rest(a.accessToken)
        expect(first.status).toBe(503)
        expect(first.body[0].errorCode).toBe('SERVER_UNAVAILABLE')
        expect((await rest(a.accessToken)).status).toBe(503)
        expect((await rest(a.accessToken)).status).toBe(200)
        await set(() => org.faults.failNext(1, { scope: 'token' }), '/faults/fail-next', {
          count: 1,
          scope: 'token',
        })
        expect((await rest(a.accessToken)).status).toBe(200)
        expect((await passwordGrant()).status).toBe(500)
        expect((await passwordGrant()).status).toBe(200)
        await set(() => org.faults.failNext(1), '/faults/fail-next', { count: 1 })
        const unknown = await rest(a.accessToken)
        expect(unknown.status).toBe(500)
        expect(unknown.body[0].errorCode).toBe('UNKNOWN_EXCEPTION')
      })

      it('blocks sessions with the REST-API-not-valid 401', async () => {
        const a = org.issueTokens()
        await set(() => org.faults.setBlockedSession(true), '/faults/blocked-session', {
          enabled: true,
        })
        const res = await rest(a.accessToken)
        expect(res.status).toBe(401)
        expect(res.body).toEqual([
          {
            message: 'This session is not valid for use with the REST API',
            errorCode: 'INVALID_SESSION_ID',
          },
        ])
      })
    })
  }

  it('resets every switch over HTTP', async () => {
    org.faults.setRateLimited(true)
    org.faults.setBlockedSession(true)
    expect((await admin('/faults/reset')).status).toBe(200)
    expect((await rest(org.issueTokens().accessToken)).status).toBe(200)
  })

  it('logs requests without query strings and counts token requests', async () => {
    const a = org.issueTokens()
    await getJson(`${a.id}?oauth_token=${encodeURIComponent(a.accessToken)}`)
    await passwordGrant()
    await refresh(a.refreshToken ?? '')
    await refresh(a.refreshToken ?? '')
    expect(emulator.requestLog.tokenRequests()).toBe(3)
    expect(emulator.requestLog.tokenRequests('refresh_token')).toBe(2)
    expect(emulator.requestLog.count({ path: /^\/id\//, status: 200 })).toBe(1)
    for (const e of emulator.requestLog.entries()) {
      expect(e.path).not.toContain('?')
      expect(JSON.stringify(e)).not.toContain(a.accessToken)
    }
    const overHttp = await fetch(`${org.instanceUrl}/_emulator/requests?grantType=refresh_token`)
    const body = (await overHttp.json()) as { count: number }
    expect(body.count).toBe(2)
    const cleared = await fetch(`${org.instanceUrl}/_emulator/requests`, { method: 'DELETE' })
    expect(cleared.status).toBe(204)
    expect(emulator.requestLog.count({ path: '/services/oauth2/token' })).toBe(0)
  })

  it('describes the org over HTTP without secrets unless asked', async () => {
    const plain = (await (await fetch(`${org.instanceUrl}/_emulator/org`)).json()) as Record<
      string,
      unknown
    >
    expect(plain['orgId']).toBe(org.orgId)
    expect(JSON.stringify(plain)).not.toContain(org.connectedApp().consumerSecret)
    expect(JSON.stringify(plain)).not.toContain(org.user().password)
    const withSecrets = await (
      await fetch(`${org.instanceUrl}/_emulator/org?showSecrets=true`)
    ).text()
    expect(withSecrets).toContain(org.connectedApp().consumerSecret)
  })

  it('rejects bad admin input with 400 and unknown admin routes with 404', async () => {
    expect((await admin('/faults/rotation', { enabled: 'yes' })).status).toBe(400)
    expect((await admin('/faults/instance-url', { url: 'http://x/path' })).status).toBe(400)
    expect((await admin('/faults/nope', {})).status).toBe(404)
  })

  it('advances the clock over HTTP', async () => {
    const a = org.issueTokens()
    expect((await admin('/clock/advance', { ms: 7_200_000 })).status).toBe(200)
    expect((await rest(a.accessToken)).status).toBe(401)
  })

  it('accepts admin calls only from loopback addresses', () => {
    expect(isLoopback('127.0.0.1')).toBe(true)
    expect(isLoopback('::1')).toBe(true)
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true)
    expect(isLoopback('10.0.0.1')).toBe(false)
    expect(isLoopback('::ffff:192.168.1.2')).toBe(false)
    expect(isLoopback(undefined)).toBe(false)
  })
})
