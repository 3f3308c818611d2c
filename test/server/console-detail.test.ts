/**
 * The Named Credential detail page's doctor panel and its admin API twin, and "Open in target
 * org", over real sockets against the Salesforce emulator: the checks of `callout doctor` at page
 * load, the online checks on a CSRF-protected button, advice that names the console's buttons
 * (never a CLI command) on the page and the admin API's operations in JSON, and never a secret; a
 * 303 to a one-time frontdoor URL that logs a browser into the org (never rendered, never
 * audited), for a page the admin names or the record a test call returned.
 */
import { generateKeyPairSync } from 'node:crypto'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/index.ts'
import { salesforceAuthorize } from '../e2e/helpers/e2e.ts'
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
const JWT_USER = 'integration@target.example'

let emulator: Emulator
let org: EmulatedOrg
let rig: ConsoleRig
let c: ConsoleInstance
let browser: Browser
let token: string
let consumerSecret = ''
let privateKey = ''

beforeAll(async () => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 })
  privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const certificate = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  emulator = await startEmulator({
    orgs: [
      {
        name: 'target',
        users: [{ username: USER, password: PASSWORD }, { username: JWT_USER }],
        connectedApps: [{ name: 'Server', callbackUrls: ['http://localhost/cb'], certificate }],
      },
    ],
  })
  org = emulator.org('target')
  rig = await consoleRig()
  c = await rig.start({ loginRateLimit: { max: 1_000, timeWindowMs: 60_000 } })
  const app = org.addConnectedApp({
    name: 'Browser',
    callbackUrls: [`${c.origin}/services/authcallback/SfBrowser`],
    scopes: ['api', 'refresh_token', 'web'],
  })
  consumerSecret = app.consumerSecret
  await c.broker.apply(
    parseConfig(
      {
        authProviders: {
          SfBrowser: {
            type: 'salesforce',
            loginUrl: org.loginUrl,
            consumerKey: app.consumerKey,
            consumerSecret,
            defaultScopes: 'api refresh_token web',
          },
          SfServer: {
            type: 'salesforce',
            loginUrl: org.loginUrl,
            consumerKey: org.connectedApp('Server').consumerKey,
          },
        },
        externalCredentials: {
          BrowserAuth: {
            protocol: 'oauth2',
            flow: 'browser',
            authProvider: 'SfBrowser',
            principals: { Admin: { type: 'named' } },
          },
          ServerAuth: jwtCredential(privateKey),
          TeamAuth: {
            protocol: 'oauth2',
            flow: 'browser',
            authProvider: 'SfBrowser',
            principals: { Member: { type: 'per-user' } },
          },
          EachUser: {
            protocol: 'oauth2',
            flow: 'jwt-bearer',
            authProvider: 'SfServer',
            jwt: { subject: '{!$User.Username}' },
            principals: { Each: { type: 'per-user', secrets: { privateKey } } },
          },
          WrongKey: jwtCredential(
            generateKeyPairSync('rsa', { modulusLength: 2048 })
              .privateKey.export({ type: 'pkcs8', format: 'pem' })
              .toString(),
          ),
        },
        namedCredentials: {
          Target: { url: org.instanceUrl, externalCredential: 'BrowserAuth' },
          Server: { url: org.instanceUrl, externalCredential: 'ServerAuth' },
          Broken: { url: org.instanceUrl, externalCredential: 'WrongKey' },
          PerUser: { url: org.instanceUrl, externalCredential: 'EachUser' },
          Team: { url: org.instanceUrl, externalCredential: 'TeamAuth' },
          WithPath: {
            url: `${org.instanceUrl}/services/data/v61.0`,
            externalCredential: 'ServerAuth',
          },
        },
      },
      { allowInlineSecrets: true, env: {} },
    ),
  )
  browser = new Browser(c.origin)
  await browser.login()
  token = await adminToken(c.store)
})
/** A JWT bearer ExternalCredential for {@link JWT_USER} signing with `key`. */
function jwtCredential(key: string): Record<string, unknown> {
  return {
    protocol: 'oauth2',
    flow: 'jwt-bearer',
    authProvider: 'SfServer',
    principals: {
      Integration: {
        type: 'named',
        parameters: { username: JWT_USER },
        secrets: { privateKey: key },
      },
    },
  }
}

afterAll(async () => {
  await rig?.close()
  await emulator?.close()
})

interface ShownFinding {
  level: string
  subject: string
  text: string
}

/** The doctor panel's findings as shown: level, subject and the rest of the row's text. */
function findingsOf(html: string): ShownFinding[] {
  const list = /<ul class="findings" id="doctor-findings">([\s\S]*?)<\/ul>/.exec(html)
  if (list === null) throw new Error('the page has no doctor panel')
  return [...list[1]!.matchAll(/<li class="finding (ok|warn|fail)">([\s\S]*?)<\/li>/g)].map((m) => {
    const text = m[2]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ')
    const subject = /<strong>([^<]*)<\/strong>/.exec(m[2]!)?.[1] ?? ''
    return { level: m[1]!, subject, text }
  })
}

async function runOnline(name: string): Promise<ShownFinding[]> {
  const page = await browser.get(`/named-credentials/${name}`)
  const res = await browser.post(`/named-credentials/${name}/doctor`, { _csrf: csrfOf(page.body) })
  expect(res.status).toBe(200)
  expect(res.body).toContain('with the online checks just run')
  return findingsOf(res.body)
}

async function api(method: string, path: string): Promise<{ status: number; json: unknown }> {
  const res = await request(`${c.origin}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${token}` },
  })
  return { status: res.statusCode, json: await res.body.json() }
}

/** Everything the panel or the API says, for "never a CLI command, never a secret" checks. */
function said(findings: readonly { text?: string; what?: string; todo?: string }[]): string {
  return findings.map((f) => `${f.text ?? ''} ${f.what ?? ''} ${f.todo ?? ''}`).join('\n')
}

describe('the doctor panel', () => {
  it('shows the offline checks at page load, with the console\u2019s Authenticate button as the fix', async () => {
    const page = await browser.get('/named-credentials/Target')
    expect(page.status).toBe(200)
    const findings = findingsOf(page.body)
    expect(findings).toContainEqual({
      level: 'ok',
      subject: 'Target',
      text: expect.stringContaining('enabled') as string,
    })
    const never = findings.find((f) => f.subject === 'Target Admin')
    expect(never?.level).toBe('warn')
    expect(never?.text).toContain('never authenticated')
    expect(never?.text).toContain('press Authenticate on this page')
    expect(said(findings)).not.toContain('callout auth')
    expect(page.body).toContain('Not authenticated: press Authenticate on this page')
    expect(page.body).not.toContain('callout auth')
    expect(page.body).not.toContain(consumerSecret)
  })

  it('names only buttons the page has: Authenticate, Run online checks, Create connect link', async () => {
    const voiced = [
      ['Target', 'Authenticate'],
      ['Server', 'Run online checks'],
      ['Team', 'Create connect link'],
    ] as const
    for (const [name, button] of voiced) {
      const page = await browser.get(`/named-credentials/${name}`)
      expect(page.body, name).toContain(`>${button}</button>`)
    }
  })

  it('runs the online checks on the button: a real token request and a call that needs it', async () => {
    const before = emulator.requestLog.tokenRequests()
    const findings = await runOnline('Server')
    expect(emulator.requestLog.tokenRequests() - before).toBe(1)
    expect(findings.map((f) => [f.level, f.text])).toEqual(
      expect.arrayContaining([
        ['ok', expect.stringContaining(`obtained a token now (Authenticated as ${JWT_USER}`)],
        ['ok', expect.stringContaining('GET /services/data/v61.0/ answered 200')],
      ]),
    )
    expect(findings.every((f) => f.level === 'ok')).toBe(true)
  })

  it('fails a wrong key with its code, and says what to do in the console\u2019s words', async () => {
    const findings = await runOnline('Broken')
    const failed = findings.find((f) => f.text.includes('could not obtain a token'))
    expect(failed?.level).toBe('fail')
    expect(failed?.text).toContain('OAUTH_CLIENT_INVALID')
    expect(said(findings)).not.toContain('callout auth')
    expect(said(findings)).not.toContain(privateKey.slice(40, 80))
  })

  it('after a revoked refresh token, fails with "needs re-authentication" and names the Authenticate button', async () => {
    const page = await browser.get('/named-credentials/Target')
    const started = await browser.post('/named-credentials/Target/authenticate', {
      _csrf: csrfOf(page.body),
    })
    const callback = await salesforceAuthorize(started.location!, {
      username: USER,
      password: PASSWORD,
    })
    expect((await browser.get(callback.slice(c.origin.length))).status).toBe(303)
    expect(findingsOf((await browser.get('/named-credentials/Target')).body)).toContainEqual({
      level: 'ok',
      subject: 'Target Admin',
      text: expect.stringContaining(`Authenticated as ${USER}`) as string,
    })
    org.faults.revokeRefreshTokens()
    org.faults.expireSessions()
    const findings = await runOnline('Target')
    const reauth = findings.find((f) => f.subject === 'Target Admin')
    expect(reauth?.level).toBe('fail')
    expect(reauth?.text).toContain('needs re-authentication')
    expect(reauth?.text).toContain('press Authenticate on this page')
    expect(said(findings)).not.toContain('callout auth')
    const after = await browser.get('/named-credentials/Target')
    expect(after.body).toContain('NEEDS_REAUTH')
    expect(after.body).not.toContain('callout auth')
  })

  it('refuses the online checks without the form\u2019s CSRF token, and audits them with it', async () => {
    const audited = async (): Promise<number> =>
      (await c.store.admin.listAudit({ limit: 1000 })).filter(
        (e) => e.action === 'namedCredential.doctor',
      ).length
    const before = await audited()
    const tokens = emulator.requestLog.tokenRequests()
    const forged = await browser.post('/named-credentials/Server/doctor', {})
    expect(forged.status).toBe(403)
    expect(emulator.requestLog.tokenRequests()).toBe(tokens)
    expect(await audited()).toBe(before)
    await runOnline('Server')
    expect(await audited()).toBe(before + 1)
  })
})

describe('the doctor in the admin API', () => {
  it('GET …/doctor answers the offline findings, POST …/doctor the online ones, in the API\u2019s words', async () => {
    const offline = await api('GET', '/admin/api/namedCredentials/Broken/doctor')
    expect(offline.status).toBe(200)
    expect((offline.json as { online: boolean }).online).toBe(false)
    const online = await api('POST', '/admin/api/namedCredentials/Broken/doctor')
    expect(online.status).toBe(200)
    const result = online.json as {
      online: boolean
      findings: { level: string; what: string; todo?: string }[]
    }
    expect(result.online).toBe(true)
    expect(result.findings.some((f) => f.level === 'fail')).toBe(true)
    const server = (await api('POST', '/admin/api/namedCredentials/Server/doctor')).json as {
      findings: { level: string; what: string }[]
    }
    expect(server.findings).toContainEqual(
      expect.objectContaining({ level: 'ok', what: 'GET /services/data/v61.0/ answered 200' }),
    )
    const target = (await api('GET', '/admin/api/namedCredentials/Target/doctor')).json as {
      findings: { subject: string; todo?: string }[]
    }
    expect(target.findings.find((f) => f.subject === 'Target Admin')?.todo).toContain(
      'the Authenticate button on the console page /named-credentials/Target',
    )
    const all = [...result.findings, ...target.findings]
    expect(said(all)).not.toContain('callout auth')
    expect(said(all)).not.toContain('press ')
    expect(JSON.stringify(all)).not.toContain(consumerSecret)
  })

  it('answers 404 for an unknown Named Credential and is described in /admin/openapi.json', async () => {
    const missing = await api('GET', '/admin/api/namedCredentials/Nope/doctor')
    expect(missing.status).toBe(404)
    expect((missing.json as { error: { code: string } }).error.code).toBe('CREDENTIAL_NOT_FOUND')
    const doc = (await request(`${c.origin}/admin/openapi.json`)).body
    const paths = ((await doc.json()) as { paths: Record<string, Record<string, unknown>> }).paths
    expect(Object.keys(paths['/admin/api/namedCredentials/{name}/doctor'] ?? {}).sort()).toEqual([
      'get',
      'post',
    ])
  })
})

/** The one-time frontdoor URL a console post redirected to, checked and followed to its page. */
async function landing(res: {
  status: number
  location?: string
  headers: Record<string, unknown>
}): Promise<{ startUrl: string; html: string; otp: string }> {
  expect(res.status).toBe(303)
  expect(res.headers['cache-control']).toBe('no-store')
  const url = new URL(res.location!)
  expect(url.origin).toBe(org.instanceUrl)
  expect(url.pathname).toBe('/secur/frontdoor.jsp')
  const door = await request(url, { method: 'GET' })
  await door.body.dump()
  expect(door.statusCode).toBe(302)
  const cookie = String(door.headers['set-cookie']).split(';')[0]!
  const page = await request(new URL(String(door.headers.location), org.instanceUrl), {
    headers: { cookie },
  })
  expect(page.statusCode).toBe(200)
  return {
    startUrl: url.searchParams.get('startURL') ?? '',
    html: await page.body.text(),
    otp: url.searchParams.get('otp') ?? '',
  }
}

async function testCall(name: string, form: Record<string, string>): Promise<string> {
  const page = await browser.get(`/named-credentials/${name}`)
  const res = await browser.post(`/named-credentials/${name}/test`, {
    _csrf: csrfOf(page.body),
    headers: 'Content-Type: application/json',
    body: '',
    ...form,
  })
  expect(res.status).toBe(200)
  return res.body
}

async function openForm(action: string, html: string): Promise<Record<string, string>> {
  const form = new RegExp(`<form method="post" action="${action}"[^>]*>([\\s\\S]*?)</form>`).exec(
    html,
  )
  if (form === null) throw new Error(`no form posting to ${action}`)
  const fields: Record<string, string> = {}
  for (const m of form[1]!.matchAll(
    /<input type="(?:hidden|text)"[^>]*name="([^"]+)" value="([^"]*)"/g,
  ))
    fields[m[1]!] = m[2]!.replaceAll('&#39;', "'").replaceAll('&amp;', '&')
  return fields
}

describe('Open in target org', () => {
  it("redirects to a one-time frontdoor URL that lands logged in on the org's home, audited without the URL", async () => {
    const page = await browser.get('/named-credentials/Server')
    expect(page.body).toContain('Open in target org')
    const fields = await openForm('/named-credentials/Server/open', page.body)
    expect(fields.path).toBe('/lightning/page/home')
    const res = await browser.post('/named-credentials/Server/open', fields)
    const landed = await landing(res)
    expect(landed.startUrl).toBe('/lightning/page/home')
    expect(landed.html).toContain(`Logged in as ${JWT_USER}`)
    const entries = await c.store.admin.listAudit({ limit: 1000 })
    const opened = entries.find((e) => e.action === 'namedCredential.open')
    expect(opened?.details).toEqual({ path: '/lightning/page/home' })
    expect(JSON.stringify(entries)).not.toContain(landed.otp)
  })

  it("reaches the org's origin when the Named Credential's URL has a path", async () => {
    const page = await browser.get('/named-credentials/WithPath')
    const res = await browser.post('/named-credentials/WithPath/open', {
      ...(await openForm('/named-credentials/WithPath/open', page.body)),
    })
    expect((await landing(res)).html).toContain(`Logged in as ${JWT_USER}`)
  })

  it('opens the record a test call created, and the record a test call read', async () => {
    const created = await testCall('Server', {
      method: 'POST',
      path: '/services/data/v61.0/sobjects/Account',
      body: JSON.stringify({ Name: 'Opened From The Console' }),
    })
    const offer = await openForm(
      '/named-credentials/Server/open',
      created.slice(created.indexOf('id="test-body"')),
    )
    const id = /^\/lightning\/r\/Account\/(\w{18})\/view$/.exec(offer.path ?? '')?.[1]
    expect(id).toBeDefined()
    expect(created).toContain(`Open Account ${id!} in target org`)
    const landed = await landing(await browser.post('/named-credentials/Server/open', offer))
    expect(landed.startUrl).toBe(`/lightning/r/Account/${id!}/view`)
    expect(landed.html).toContain('Opened From The Console')
    const read = await testCall('Server', {
      method: 'GET',
      path: `/services/data/v61.0/sobjects/Account/${id!}`,
    })
    expect(read).toContain(`Open Account ${id!} in target org`)
    const resources = await testCall('Server', { preset: 'resources' })
    expect(resources).not.toContain('id="open-record"')
  })

  it('names the end user for a per-user principal, and refuses without one', async () => {
    const page = await browser.get('/named-credentials/PerUser')
    expect(page.body).toContain('id="open-user"')
    const csrf = csrfOf(page.body)
    const refused = await browser.post('/named-credentials/PerUser/open', {
      _csrf: csrf,
      path: '/lightning/page/home',
    })
    expect(refused.status).toBe(400)
    expect(refused.location).toBeUndefined()
    expect(refused.body).toContain('USER_REQUIRED')
    expect(refused.body).toContain('enter the end user under User')
    expect(refused.body).not.toContain('broker.fetch')
    const opened = await browser.post('/named-credentials/PerUser/open', {
      _csrf: csrf,
      path: '/lightning/page/home',
      user: JWT_USER,
    })
    expect((await landing(opened)).html).toContain(`Logged in as ${JWT_USER}`)
  })

  it('refuses a path off the org and a post without the CSRF token, with no frontdoor URL', async () => {
    const page = await browser.get('/named-credentials/Server')
    const before = (await c.store.admin.listAudit({ limit: 1000 })).length
    const evil = await browser.post('/named-credentials/Server/open', {
      _csrf: csrfOf(page.body),
      path: 'https://evil.example/',
    })
    expect(evil.status).toBe(400)
    expect(evil.location).toBeUndefined()
    expect(evil.body).toContain('FRONTDOOR_PATH_INVALID')
    expect(evil.body).not.toContain('frontdoor.jsp')
    const forged = await browser.post('/named-credentials/Server/open', {
      path: '/lightning/page/home',
    })
    expect(forged.status).toBe(403)
    expect(forged.location).toBeUndefined()
    expect((await c.store.admin.listAudit({ limit: 1000 })).length).toBe(before)
  })
})
