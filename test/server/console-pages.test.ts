/**
 * The console's pages against the Salesforce emulator, over real sockets with a browser-like
 * client: an Auth Provider, the classic "New Named Credential" screen with "Start Authentication
 * Flow on Save", the emulator's login and approval pages, the callback at
 * /services/authcallback/<AuthProvider>, "Authenticated as <username>", the test panel's list of
 * REST resources, a refresh after the org expires its sessions, "needs re-auth" after the refresh
 * token is revoked, and re-authentication in one click; error paths and injected markup.
 */
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PENDING_AUTHORIZATION_TTL_MS } from '../../src/callout/browser-authorization.ts'
import { formatStatus } from '../../src/cli/commands/status.ts'
import { salesforceAuthorize } from '../e2e/helpers/e2e.ts'
import {
  Browser,
  TEST_SCRYPT_COST,
  adminToken,
  consoleRig,
  csrfOf,
  type ConsoleInstance,
  type ConsoleRig,
} from './console-helpers.ts'

const USER = 'admin@target.example'
const PASSWORD = 'Adm1n-Pa55!'
const SECRET_CANARY_FIELD = 'consumerSecret'

let emulator: Emulator
let org: EmulatedOrg
let rig: ConsoleRig
let c: ConsoleInstance
let browser: Browser
let consumerSecret = ''
/** How far the instance's clock runs ahead of the real one. */
let skew = 0

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [
      {
        name: 'target',
        users: [{ username: USER, password: PASSWORD }],
        records: { Account: [{ Name: 'Acme' }] },
      },
    ],
  })
  org = emulator.org('target')
  rig = await consoleRig({ scryptCost: TEST_SCRYPT_COST })
  c = await rig.start({
    loginRateLimit: { max: 1_000, timeWindowMs: 60_000 },
    clock: { now: () => Date.now() + skew },
  })
  const app = org.addConnectedApp({
    name: 'CalloutConsole',
    callbackUrls: [`${c.origin}/services/authcallback/SfTarget`],
    scopes: ['api', 'refresh_token'],
  })
  consumerSecret = app.consumerSecret
  browser = new Browser(c.origin)
  await browser.login()
  const created = await browser.submit('/auth-providers/new', '/auth-providers', {
    name: 'SfTarget',
    type: 'salesforce',
    consumerKey: app.consumerKey,
    consumerSecret: app.consumerSecret,
    loginUrl: org.loginUrl,
    defaultScopes: 'api refresh_token',
  })
  if (created.status !== 303)
    throw new Error(`Auth Provider not created: ${created.body.slice(0, 2000)}`)
})
afterAll(async () => {
  await rig?.close()
  await emulator?.close()
})

/** Follows the authorize redirect through the emulator's login and approval pages to our callback. */
async function authorizeFrom(page: { status: number; location?: string }): Promise<string> {
  expect(page.status).toBe(303)
  expect(page.location?.startsWith(org.loginUrl)).toBe(true)
  const callback = await salesforceAuthorize(page.location!, { username: USER, password: PASSWORD })
  expect(callback.startsWith(`${c.origin}/services/authcallback/SfTarget?`)).toBe(true)
  const done = await browser.get(callback.slice(c.origin.length))
  expect(done.status).toBe(303)
  expect(done.location).toBe('/named-credentials/Target?flash=authenticated')
  return done.location!
}

/** The classic New Named Credential form with "Start Authentication Flow on Save". */
function startAuthForm(name: string, label: string): Record<string, string> {
  return {
    label,
    name,
    url: org.instanceUrl,
    identityType: 'named-principal',
    protocol: 'oauth2',
    authProvider: 'SfTarget',
    scope: 'api refresh_token',
    startAuth: 'on',
    generateAuthorizationHeader: 'on',
  }
}

describe('Auth Providers', () => {
  it('shows the callback URL to paste into the Connected App, never the secret', async () => {
    const page = await browser.get('/auth-providers/SfTarget')
    expect(page.status).toBe(200)
    expect(page.body).toContain(`value="${c.origin}/services/authcallback/SfTarget"`)
    expect(page.body).toContain('data-copy="callback-url"')
    expect(page.body).toContain('A secret is stored and never shown')
    expect(page.body).not.toContain(consumerSecret)
    expect((await browser.get('/auth-providers')).body).not.toContain(consumerSecret)
    expect(c.broker.definitions.authProviders.get('SfTarget')?.consumerSecret?.reveal()).toBe(
      consumerSecret,
    )
  })

  it('shows field-level errors with "did you mean" and stores nothing', async () => {
    const res = await browser.submit('/auth-providers/new', '/auth-providers', {
      name: 'Broken',
      type: 'salesforce',
      consumerKey: '',
      loginUrl: 'not a url',
    })
    expect(res.status).toBe(400)
    expect(res.body).toContain('Nothing was saved')
    expect(res.body).toMatch(/id="consumerKey-error"|id="loginUrl-error"/)
    expect(c.broker.definitions.authProviders.has('Broken')).toBe(false)
    const dup = await browser.submit('/auth-providers/new', '/auth-providers', {
      name: 'SfTarget',
      type: 'salesforce',
      consumerKey: 'x',
      consumerSecret: 'y',
    })
    expect(dup.status).toBe(409)
    expect(dup.body).toContain('id="name-error"')
  })

  it('keeps the stored secret when the form leaves it empty', async () => {
    const form = await browser.get('/auth-providers/SfTarget')
    const res = await browser.post('/auth-providers/SfTarget', {
      _csrf: csrfOf(form.body),
      type: 'salesforce',
      consumerKey: org.connectedApp('CalloutConsole').consumerKey,
      consumerSecret: '',
      loginUrl: org.loginUrl,
      defaultScopes: 'api refresh_token',
    })
    expect(res.status).toBe(303)
    expect(c.broker.definitions.authProviders.get('SfTarget')?.consumerSecret?.reveal()).toBe(
      consumerSecret,
    )
  })
})

describe('New Named Credential with Start Authentication Flow on Save', () => {
  it('saves, goes through the login and approval pages, and shows "Authenticated as <username>"', async () => {
    const form = await browser.get('/named-credentials/new')
    expect(form.body).toContain('Start Authentication Flow on Save')
    const saved = await browser.post('/named-credentials', {
      _csrf: csrfOf(form.body),
      ...startAuthForm('Target', '<script>alert(1)</script> Target org'),
    })
    const location = await authorizeFrom(saved)
    const detail = await browser.get(location)
    expect(detail.status).toBe(200)
    expect(detail.body).toContain(`Authenticated as ${USER}`)
    expect(detail.body).toContain('class="badge authenticated"')
    expect(detail.body).toContain('Re-authenticate')
    expect(detail.body).not.toContain('<script>alert(1)</script>')
    expect(detail.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    const list = await browser.get('/')
    expect(list.body).toContain('Authenticated</span>')
    expect(list.body).not.toContain('<script>alert(1)</script>')
  })

  it('lists the REST resources in one click, and again after the org expires its sessions', async () => {
    for (let round = 0; round < 2; round++) {
      if (round === 1) org.faults.expireSessions()
      const page = await browser.get('/named-credentials/Target')
      const res = await browser.post('/named-credentials/Target/test', {
        _csrf: csrfOf(page.body),
        preset: 'resources',
      })
      expect(res.status).toBe(200)
      expect(res.body).toContain('<span id="test-status">200')
      expect(res.body).toContain('&quot;sobjects&quot;')
    }
  })

  it('turns to "needs re-auth" when the refresh token is revoked, then re-authenticates in one click', async () => {
    org.faults.revokeRefreshTokens()
    org.faults.expireSessions()
    const page = await browser.get('/named-credentials/Target')
    const failed = await browser.post('/named-credentials/Target/test', {
      _csrf: csrfOf(page.body),
      preset: 'resources',
    })
    expect(failed.body).toContain('NEEDS_REAUTH')
    const after = await browser.get('/named-credentials/Target')
    expect(after.body).toContain('class="badge needs-reauth"')
    expect(after.body).toContain('Needs re-auth')
    const again = await browser.post('/named-credentials/Target/authenticate', {
      _csrf: csrfOf(after.body),
    })
    await authorizeFrom(again)
    expect((await browser.get('/named-credentials/Target')).body).toContain(
      `Authenticated as ${USER}`,
    )
  })
})

describe('the callback', () => {
  it('refuses a forged state and a callback with no pending flow, storing nothing', async () => {
    const before = await c.store.listCredentials()
    const forged = await browser.get('/services/authcallback/SfTarget?code=abc&state=forged')
    expect(forged.status).toBe(400)
    expect(forged.body).toContain('AUTHORIZATION_FAILED')
    expect(JSON.stringify(await c.store.listCredentials())).toBe(JSON.stringify(before))
  })

  it('shows redirect_uri_mismatch verbatim with the callback URL to register', async () => {
    const page = await browser.get('/named-credentials/Target')
    const start = await browser.post('/named-credentials/Target/authenticate', {
      _csrf: csrfOf(page.body),
    })
    const state = new URL(start.location!).searchParams.get('state')!
    const res = await browser.get(
      `/services/authcallback/SfTarget?error=redirect_uri_mismatch&error_description=redirect_uri%20must%20match%20configuration&state=${state}`,
    )
    expect(res.status).toBe(400)
    expect(res.body).toContain('redirect_uri_mismatch')
    expect(res.body).toContain(`value="${c.origin}/services/authcallback/SfTarget"`)
  })

  it.each([
    ['access_denied', 'end-user denied authorization', /access_denied/],
    ['invalid_request', 'SAME_ORG_SSO', /My Domain/],
    ['invalid_client_id', 'client identifier invalid', /2–10 minutes to propagate/],
  ])(
    'shows %s from the authorization server verbatim, with advice',
    async (code, description, advice) => {
      const page = await browser.get('/named-credentials/Target')
      const start = await browser.post('/named-credentials/Target/authenticate', {
        _csrf: csrfOf(page.body),
      })
      const state = new URL(start.location!).searchParams.get('state')!
      const res = await browser.get(
        `/services/authcallback/SfTarget?error=${code}&error_description=${encodeURIComponent(description)}&state=${state}`,
      )
      expect(res.status).toBe(400)
      expect(res.body).toContain(code)
      expect(res.body).toMatch(advice)
      expect((await browser.get('/named-credentials/Target')).body).toContain(
        `Authenticated as ${USER}`,
      )
    },
  )

  it('refuses a flow finished in another browser than the one that started it', async () => {
    const page = await browser.get('/named-credentials/Target')
    const start = await browser.post('/named-credentials/Target/authenticate', {
      _csrf: csrfOf(page.body),
    })
    const callback = await salesforceAuthorize(start.location!, {
      username: USER,
      password: PASSWORD,
    })
    const other = new Browser(c.origin)
    await other.login()
    const res = await other.get(callback.slice(c.origin.length))
    expect(res.status).toBe(400)
    expect(res.body).toContain('AUTHORIZATION_FAILED')
    expect(res.body).toContain('not the one this session started')
  })

  it('sends a browser that started the flow but has no console session to the login page first', async () => {
    const returning = new Browser(c.origin)
    returning.cookies.set('callout_oauth_state', 'y')
    const res = await returning.get('/services/authcallback/SfTarget?code=x&state=y')
    expect(res.status).toBe(303)
    expect(res.location).toMatch(/^\/login\?next=%2Fservices%2Fauthcallback%2FSfTarget/)
  })

  it('refuses a callback in a browser that started no flow and has no console session', async () => {
    const stranger = new Browser(c.origin)
    const res = await stranger.get('/services/authcallback/SfTarget?code=x&state=y')
    expect(res.status).toBe(400)
    expect(res.body).toContain('AUTHORIZATION_FAILED')
    expect(res.body).toContain('did not start the authentication')
  })
})

describe('CSRF on signed-in forms', () => {
  it('refuses a delete without the form token and keeps the credential', async () => {
    const res = await browser.post('/named-credentials/Target/delete', {})
    expect(res.status).toBe(403)
    expect(res.body).toContain('CSRF_INVALID')
    expect(c.broker.definitions.namedCredentials.has('Target')).toBe(true)
  })
})

describe('client keys and audit', () => {
  it('creates a key shown once, and revokes it', async () => {
    const created = await browser.submit('/client-keys', '/client-keys', {
      name: 'ci',
      allow: 'Target:GET',
    })
    expect(created.status).toBe(200)
    const key = /id="new-key" readonly value="(ck_[^"]+)"/.exec(created.body)?.[1]
    expect(key).toMatch(/^ck_/)
    const list = await browser.get('/client-keys')
    expect(list.body).not.toContain(key!)
    const id = key!.slice(3, 15)
    const revoked = await browser.post(`/client-keys/${id}/revoke`, { _csrf: csrfOf(list.body) })
    expect(revoked.status).toBe(303)
    expect((await c.store.clientKeys.getClientKey(id))?.revokedAt).toBeDefined()
  })

  it('audited every change as the admin, never a secret', async () => {
    const entries = await c.store.admin.listAudit({ limit: 1000 })
    const actions = entries.map((e) => e.action)
    expect(actions).toEqual(
      expect.arrayContaining([
        'authProvider.create',
        'authProvider.update',
        'namedCredential.create',
        'namedCredential.authenticate-start',
        'namedCredential.authenticate',
        'clientKey.create',
        'clientKey.revoke',
      ]),
    )
    expect(JSON.stringify(entries)).not.toContain(consumerSecret)
    expect(entries.find((e) => e.action === 'authProvider.create')?.actor).toBe('admin:alice')
    expect(SECRET_CANARY_FIELD).toBe('consumerSecret')
  })
})

describe('a flow that never returns (an SSO-only org)', () => {
  it('turns from pending into a timeout with advice everywhere, refuses a late callback, and recovers', async () => {
    org.faults.setSsoOnly(true)
    const form = await browser.get('/named-credentials/new')
    const saved = await browser.post('/named-credentials', {
      _csrf: csrfOf(form.body),
      ...startAuthForm('SsoTarget', 'SSO org'),
    })
    expect(saved.status).toBe(303)
    const state = new URL(saved.location!).searchParams.get('state')!
    // The org's login page offers only SSO: the password login never reaches the callback.
    await expect(
      salesforceAuthorize(saved.location!, { username: USER, password: PASSWORD }),
    ).rejects.toThrow()

    const pending = await browser.get('/named-credentials/SsoTarget')
    expect(pending.body).toContain('class="badge pending"')
    expect(pending.body).toContain('Authentication in progress')

    skew += PENDING_AUTHORIZATION_TTL_MS
    const detail = await browser.get('/named-credentials/SsoTarget')
    expect(detail.body).toContain('class="badge timed-out"')
    expect(detail.body).toContain('Timed out')
    expect(detail.body).toContain('use the JWT bearer flow (flow: jwt-bearer')
    expect(detail.body).toContain('the target org&#39;s My Domain')
    expect(detail.body).toContain(`value="${c.origin}/services/authcallback/SfTarget"`)
    const list = await browser.get('/')
    expect(list.body).toContain('class="badge timed-out">Timed out</span>')

    const token = await adminToken(c.store, 'timeout-bot')
    const api = await request(`${c.origin}/admin/api/namedCredentials/SsoTarget/status`, {
      headers: { authorization: `Bearer ${token}` },
    })
    const report = (await api.body.json()) as { principals: Record<string, unknown>[] }
    expect(report.principals[0]).toMatchObject({
      status: 'timed-out',
      advice: expect.stringContaining('jwt-bearer'),
    })
    const lines = formatStatus(await c.broker.status('SsoTarget'), Date.now() + skew)
    expect(lines.join('\n')).toMatch(/Authentication timed out: .*\n {4}The login never came back/)

    const before = JSON.stringify(await c.store.listCredentials())
    const late = await browser.get(`/services/authcallback/SfTarget?code=late&state=${state}`)
    expect(late.status).toBe(400)
    expect(late.body).toContain('AUTHORIZATION_TIMEOUT')
    expect(late.body).toContain('arrived after its flow timed out')
    expect(JSON.stringify(await c.store.listCredentials())).toBe(before)
    expect((await browser.get('/named-credentials/SsoTarget')).body).toContain(
      'class="badge timed-out"',
    )

    org.faults.setSsoOnly(false)
    const again = await browser.post('/named-credentials/SsoTarget/authenticate', {
      _csrf: csrfOf(detail.body),
    })
    expect(again.status).toBe(303)
    const callback = await salesforceAuthorize(again.location!, {
      username: USER,
      password: PASSWORD,
    })
    expect((await browser.get(callback.slice(c.origin.length))).status).toBe(303)
    const done = await browser.get('/named-credentials/SsoTarget')
    expect(done.body).toContain(`Authenticated as ${USER}`)
    expect(done.body).not.toContain('badge timed-out')
  })
})
