/**
 * Revoking a principal's tokens from the console, the admin API and `callout revoke`, against the
 * Salesforce emulator's `/services/oauth2/revoke`: the refresh token (and with it the access
 * token) is dead at the org, the stored tokens are gone, the principal is "needs re-auth" and the
 * next callout fails with NEEDS_REAUTH and the advice to re-authenticate; every outcome is
 * audited. Error paths: an AuthProvider without a revocation endpoint (removed locally, said so)
 * and a revocation endpoint that fails (tokens kept until the admin removes them anyway).
 */
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Secret } from '../../src/index.ts'
import { runCli } from '../cli/helpers.ts'
import { listen, readBody, salesforceAuthorize, type Listening } from '../e2e/helpers/e2e.ts'
import {
  adminToken,
  Browser,
  consoleRig,
  csrfOf,
  type ConsoleInstance,
  type ConsoleRig,
} from './console-helpers.ts'

const USER = 'admin@target.example'
const PASSWORD = 'Adm1n-Pa55!'
const KEY = { externalCredential: 'Target_Auth', principal: 'NamedPrincipal', userId: '' }

let emulator: Emulator
let org: EmulatedOrg
let rig: ConsoleRig
let c: ConsoleInstance
let browser: Browser
let token: string
let app: { consumerKey: string; consumerSecret: string }
/** A revocation endpoint that fails with 503, and what it was sent. */
let failing: Listening
const failingSeen: URLSearchParams[] = []

async function api(method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${c.origin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.body.text()
  return { status: res.statusCode, text, json: text === '' ? undefined : JSON.parse(text) }
}

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [{ name: 'target', users: [{ username: USER, password: PASSWORD }] }],
  })
  org = emulator.org('target')
  rig = await consoleRig()
  c = await rig.start({ loginRateLimit: { max: 1_000, timeWindowMs: 60_000 } })
  app = org.addConnectedApp({
    name: 'CalloutRevoke',
    callbackUrls: [`${c.origin}/services/authcallback/SfTarget`],
    scopes: ['api', 'refresh_token'],
  })
  failing = await listen((req, res) => {
    void readBody(req).then((body) => {
      failingSeen.push(new URLSearchParams(body))
      res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>maintenance</h1>')
    })
  })
  token = await adminToken(c.store)
  browser = new Browser(c.origin)
  await browser.login()
  const created = [
    await api('POST', '/admin/api/authProviders', {
      name: 'SfTarget',
      type: 'salesforce',
      consumerKey: app.consumerKey,
      consumerSecret: app.consumerSecret,
      loginUrl: org.loginUrl,
      defaultScopes: 'api refresh_token',
    }),
    await api('POST', '/admin/api/namedCredentials', {
      name: 'Target',
      url: org.instanceUrl,
      identityType: 'named-principal',
      protocol: 'oauth2',
      flow: 'browser',
      authProvider: 'SfTarget',
      scope: 'api refresh_token',
    }),
  ]
  for (const r of created) if (r.status !== 201) throw new Error(r.text)
})
afterAll(async () => {
  await rig?.close()
  await failing?.close()
  await emulator?.close()
})

/** Authenticates Target in the console: the emulator's login and approval pages, the callback. */
async function authenticate(): Promise<void> {
  const page = await browser.get('/named-credentials/Target')
  const start = await browser.post('/named-credentials/Target/authenticate', {
    _csrf: csrfOf(page.body),
  })
  const callback = await salesforceAuthorize(start.location!, {
    username: USER,
    password: PASSWORD,
  })
  const done = await browser.get(callback.slice(c.origin.length))
  expect(done.location).toBe('/named-credentials/Target?flash=authenticated')
  expect((await c.store.getCredential(KEY))?.status).toBe('authenticated')
}

/** What the org's token endpoint says to a refresh with `refreshToken`. */
async function refreshAtOrg(refreshToken: string): Promise<{ status: number; error?: string }> {
  const res = await request(`${org.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: app.consumerKey,
      client_secret: app.consumerSecret,
    }).toString(),
  })
  const body = (await res.body.json()) as { error?: string }
  return { status: res.statusCode, ...(body.error === undefined ? {} : { error: body.error }) }
}

async function restStatus(accessToken: string): Promise<number> {
  const res = await request(`${org.instanceUrl}/services/data/v61.0/`, {
    headers: { authorization: `Bearer ${accessToken}` },
  })
  await res.body.dump()
  return res.statusCode
}

describe('Revoke in the console', () => {
  it('confirms, revokes the refresh token at the org, and leaves the principal needing re-auth', async () => {
    await authenticate()
    const before = (await c.store.getCredential(KEY))!
    const refresh = before.refreshToken!.reveal()
    const access = before.accessToken!.reveal()
    expect((await refreshAtOrg(refresh)).status).toBe(200)

    const detail = await browser.get('/named-credentials/Target')
    expect(detail.body).toContain('href="/named-credentials/Target/revoke"')
    const confirm = await browser.get('/named-credentials/Target/revoke')
    expect(confirm.status).toBe(200)
    expect(confirm.body).toContain('Revoke the tokens of Target?')
    expect(confirm.body).toContain('refresh token')
    expect(confirm.body).toContain('id="revoke-confirm"')
    expect(confirm.body).toContain('Signed in as <strong>alice</strong>')

    const forged = await browser.post('/named-credentials/Target/revoke', {})
    expect(forged.status).toBe(403)
    expect(forged.body).toContain('CSRF_INVALID')
    expect((await c.store.getCredential(KEY))?.status).toBe('authenticated')

    const done = await browser.post('/named-credentials/Target/revoke', {
      _csrf: csrfOf(confirm.body),
    })
    expect(done.status).toBe(303)
    expect(done.location).toBe('/named-credentials/Target?flash=revoked')
    const stored = await c.store.getCredential(KEY)
    expect(stored?.status).toBe('needs-reauth')
    expect(stored?.accessToken).toBeUndefined()
    expect(stored?.refreshToken).toBeUndefined()
    // dead at the org: the refresh token and the access token minted from it
    expect(await refreshAtOrg(refresh)).toMatchObject({ status: 400, error: 'invalid_grant' })
    expect(await restStatus(access)).toBe(401)

    const after = await browser.get(done.location!)
    expect(after.body).toContain('class="badge needs-reauth"')
    expect(after.body).toContain('Revoked: the tokens were revoked')
    expect(after.body).not.toContain('href="/named-credentials/Target/revoke"')
    const error = await c.broker
      .fetch('callout:Target/services/data/v61.0/')
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'NEEDS_REAUTH' })
    expect((error as Error).message).toContain('were revoked')
    expect((error as Error).message).toContain('callout auth Target')
    // The page shows that stored error in the console's words, not the library's command.
    const failed = await browser.get('/named-credentials/Target')
    expect(failed.body).toContain('were revoked')
    expect(failed.body).not.toContain('callout auth')

    const entries = await c.store.admin.listAudit({ limit: 100 })
    const entry = entries.find((e) => e.action === 'namedCredential.revoke')
    expect(entry).toMatchObject({
      actor: 'admin:alice',
      target: 'NamedCredential/Target',
      details: { provider: 'revoked', removedLocally: true },
    })
    expect(JSON.stringify(entries)).not.toContain(refresh)
  })
})

describe('Revoke through the admin API and the CLI', () => {
  it('POST /admin/api/namedCredentials/{name}/revoke revokes, answers without tokens, and is described', async () => {
    await authenticate()
    const before = (await c.store.getCredential(KEY))!
    const res = await api('POST', '/admin/api/namedCredentials/Target/revoke')
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({
      namedCredential: 'Target',
      provider: 'revoked',
      tokenType: 'refresh_token',
      removedLocally: true,
    })
    expect(res.text).not.toContain(before.refreshToken!.reveal())
    expect(res.text).not.toContain(before.accessToken!.reveal())
    expect(await refreshAtOrg(before.refreshToken!.reveal())).toMatchObject({ status: 400 })
    const again = await api('POST', '/admin/api/namedCredentials/Target/revoke', {})
    expect(again.json).toMatchObject({ provider: 'nothing-stored', removedLocally: false })

    const bad = await api('POST', '/admin/api/namedCredentials/Target/revoke', { force: 'yes' })
    expect(bad.status).toBe(400)
    expect(bad.json.error.code).toBe('INVALID_ARGUMENT')
    const unknown = await api('POST', '/admin/api/namedCredentials/Targt/revoke')
    expect(unknown.status).toBe(404)
    expect(unknown.json.error.message).toContain('did you mean Target?')
    const anonymous = await request(`${c.origin}/admin/api/namedCredentials/Target/revoke`, {
      method: 'POST',
    })
    expect(anonymous.statusCode).toBe(401)
    await anonymous.body.dump()
    const doc = (await api('GET', '/admin/openapi.json')).json
    expect(doc.paths['/admin/api/namedCredentials/{name}/revoke'].post.summary).toContain(
      'RFC 7009',
    )
    const audited = (await c.store.admin.listAudit({ limit: 100 })).filter(
      (e) => e.action === 'namedCredential.revoke' && e.actor.startsWith('token:'),
    )
    expect(audited.map((e) => e.details.provider)).toEqual(['nothing-stored', 'revoked'])
  })

  it('callout revoke <Name> revokes and prints what happened', async () => {
    await authenticate()
    const refresh = (await c.store.getCredential(KEY))!.refreshToken!.reveal()
    const run = await runCli(['revoke', 'Target'], rig.env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('refresh token of principal NamedPrincipal')
    expect(run.stdout).toContain('was revoked')
    expect(await refreshAtOrg(refresh)).toMatchObject({ status: 400, error: 'invalid_grant' })
    expect((await c.store.getCredential(KEY))?.status).toBe('needs-reauth')
    const audited = await c.store.admin.listAudit({ limit: 100 })
    expect(audited.find((e) => e.actor === 'cli')?.action).toBe('namedCredential.revoke')
  })
})

describe('Revoke error paths', () => {
  const seeded = {
    principal: 'Default',
    userId: '',
    status: 'authenticated' as const,
    accessToken: new Secret('seeded-access-7f3a'),
    refreshToken: new Secret('seeded-refresh-9c1d'),
    tokenType: 'Bearer',
    issuedAt: Date.now(),
  }

  beforeAll(async () => {
    const endpoints = {
      authorizeUrl: `${org.loginUrl}/services/oauth2/authorize`,
      tokenUrl: `${org.loginUrl}/services/oauth2/token`,
    }
    const steps = [
      ['authProviders', { name: 'NoRevoke', type: 'oauth2', consumerKey: 'k', ...endpoints }],
      [
        'authProviders',
        {
          name: 'Broken',
          type: 'oauth2',
          consumerKey: 'k',
          consumerSecret: 's',
          ...endpoints,
          revokeUrl: `${failing.origin}/revoke`,
        },
      ],
      [
        'externalCredentials',
        {
          name: 'People_Auth',
          protocol: 'oauth2',
          flow: 'browser',
          authProvider: 'NoRevoke',
          principals: { Person: { type: 'per-user' } },
        },
      ],
      [
        'namedCredentials',
        { name: 'PeopleApi', url: 'https://api.example.com', externalCredential: 'People_Auth' },
      ],
      ...['NoRevoke', 'Broken'].flatMap((p) => [
        [
          'externalCredentials',
          {
            name: `${p}_Auth`,
            protocol: 'oauth2',
            flow: 'browser',
            authProvider: p,
            principals: { Default: { type: 'named' } },
          },
        ],
        [
          'namedCredentials',
          { name: `${p}Api`, url: 'https://api.example.com', externalCredential: `${p}_Auth` },
        ],
      ]),
    ] as const
    for (const [section, body] of steps) {
      const res = await api('POST', `/admin/api/${section}`, body)
      if (res.status !== 201) throw new Error(res.text)
    }
    for (const p of ['NoRevoke', 'Broken']) {
      await c.store.compareAndSetCredential({ ...seeded, externalCredential: `${p}_Auth` }, 0)
    }
    for (const userId of ['ann', 'bob']) {
      await c.store.compareAndSetCredential(
        { ...seeded, externalCredential: 'People_Auth', principal: 'Person', userId },
        0,
      )
    }
  })

  it('without a revocation endpoint the tokens are removed locally, and the page says so', async () => {
    const confirm = await browser.get('/named-credentials/NoRevokeApi/revoke')
    const done = await browser.post('/named-credentials/NoRevokeApi/revoke', {
      _csrf: csrfOf(confirm.body),
    })
    expect(done.location).toBe('/named-credentials/NoRevokeApi?flash=revoked-locally')
    expect((await browser.get(done.location!)).body).toContain('Removed here only')
    const stored = await c.store.getCredential({
      ...KEY,
      externalCredential: 'NoRevoke_Auth',
      principal: 'Default',
    })
    expect(stored?.refreshToken).toBeUndefined()
    expect(stored?.status).toBe('needs-reauth')
  })

  it('a failing revocation endpoint keeps the tokens until the admin removes them anyway', async () => {
    const key = { externalCredential: 'Broken_Auth', principal: 'Default', userId: '' }
    const confirm = await browser.get('/named-credentials/BrokenApi/revoke')
    const failed = await browser.post('/named-credentials/BrokenApi/revoke', {
      _csrf: csrfOf(confirm.body),
    })
    expect(failed.status).toBe(502)
    expect(failed.body).toContain('REVOCATION_FAILED')
    expect(failed.body).toContain('HTTP 503')
    expect(failed.body).toContain('Remove locally anyway')
    expect(failed.body).not.toContain('seeded-refresh')
    expect(failingSeen.map((p) => [p.get('token'), p.get('token_type_hint')])).toEqual([
      ['seeded-refresh-9c1d', 'refresh_token'],
    ])
    expect((await c.store.getCredential(key))?.refreshToken?.reveal()).toBe('seeded-refresh-9c1d')

    // the CLI says the same and names its flag
    const cli = await runCli(['revoke', 'BrokenApi'], rig.env)
    expect(cli.code).not.toBe(0)
    expect(cli.stderr).toContain('REVOCATION_FAILED')
    expect(cli.stderr).toContain('callout revoke BrokenApi --force')
    expect((await c.store.getCredential(key))?.status).toBe('authenticated')

    const forced = await browser.post('/named-credentials/BrokenApi/revoke', {
      _csrf: csrfOf(failed.body),
      force: 'on',
    })
    expect(forced.location).toBe('/named-credentials/BrokenApi?flash=revoked-locally')
    expect((await c.store.getCredential(key))?.refreshToken).toBeUndefined()
    const details = (await c.store.admin.listAudit({ limit: 100 }))
      .filter(
        (e) => e.action === 'namedCredential.revoke' && e.target === 'NamedCredential/BrokenApi',
      )
      .map((e) => e.details)
    expect(details).toEqual([
      { force: true, provider: 'failed', removedLocally: true },
      { provider: 'failed', removedLocally: false, code: 'REVOCATION_FAILED' },
      { provider: 'failed', removedLocally: false, code: 'REVOCATION_FAILED' },
    ])
  })

  it("revokes one end user's tokens of a per-user principal, and only theirs", async () => {
    const person = (userId: string) =>
      c.store.getCredential({ externalCredential: 'People_Auth', principal: 'Person', userId })
    const detail = await browser.get('/named-credentials/PeopleApi')
    expect(detail.body).toContain('href="/named-credentials/PeopleApi/revoke?user=ann"')
    expect(detail.body).toContain('href="/named-credentials/PeopleApi/revoke?user=bob"')
    const confirm = await browser.get('/named-credentials/PeopleApi/revoke?user=ann')
    expect(confirm.body).toContain('<input type="hidden" name="user" value="ann">')
    const done = await browser.post('/named-credentials/PeopleApi/revoke', {
      _csrf: csrfOf(confirm.body),
      user: 'ann',
    })
    expect(done.status).toBe(303)
    expect((await person('ann'))?.refreshToken).toBeUndefined()
    expect((await person('bob'))?.refreshToken?.reveal()).toBe('seeded-refresh-9c1d')
    const noUser = await api('POST', '/admin/api/namedCredentials/PeopleApi/revoke')
    expect(noUser.status).toBe(400)
    expect(noUser.json.error.code).toBe('USER_REQUIRED')
    expect((await person('bob'))?.status).toBe('authenticated')
    const bob = await api('POST', '/admin/api/namedCredentials/PeopleApi/revoke', { user: 'bob' })
    expect(bob.json).toMatchObject({ provider: 'no-endpoint', key: { userId: 'bob' } })
    expect((await person('bob'))?.refreshToken).toBeUndefined()
  })
})
