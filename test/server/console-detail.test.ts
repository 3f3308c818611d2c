/**
 * The Named Credential detail page's doctor panel and its admin API twin, over real sockets
 * against the Salesforce emulator: the checks of `callout doctor` at page load, the online checks
 * on a CSRF-protected button, advice that names the console's buttons (never a CLI command) on the
 * page and the admin API's operations in JSON, and never a secret.
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
    expect(page.body).not.toContain(consumerSecret)
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
