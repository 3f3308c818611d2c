/**
 * `broker.frontdoorUrl` end to end: a callout creates an Account through a Salesforce Named
 * Credential on the emulator, the frontdoor URL opens its edit page in Chromium without a login
 * prompt, the edit is saved and read back by a callout, and the same URL opened again lands on
 * the login page; a Named Credential whose URL has a path still reaches the org's UI Bridge
 * endpoint on its origin. Then each refusal: not Salesforce, scopes without web/full (configured or
 * answered by the org), paths that are not relative, a per-user principal without `user`.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { isCalloutError, openBroker, parseConfig, type Broker } from '../../src/index.ts'
import { MasterKey } from '../../src/secrets/index.ts'

const USERNAME = 'frontdoor-integration@target.example'
const V = '/services/data/v61.0'

let emulator: Emulator
let org: EmulatedOrg
let broker: Broker
let home: string
let browser: Browser
let context: BrowserContext
const logged: string[] = []

function record(level: string) {
  return (obj: object, msg?: string): void => {
    logged.push(`${level} ${JSON.stringify(obj)} ${msg ?? ''}`)
  }
}

beforeAll(async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const certificate = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  emulator = await startEmulator({
    orgs: [
      {
        name: 'target',
        sessionTimeoutSeconds: 900,
        users: [{ username: USERNAME }],
        connectedApps: [
          { name: 'Callout', callbackUrls: ['http://localhost/cb'], certificate },
          { name: 'ApiOnly', callbackUrls: ['http://localhost/cb'], certificate, scopes: ['api'] },
        ],
      },
    ],
  })
  org = emulator.org('target')
  home = await mkdtemp(join(tmpdir(), 'callout-frontdoor-'))
  broker = await openBroker({
    home,
    masterKey: MasterKey.generate(),
    store: ':memory:',
    env: {},
    logger: {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    },
  })
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const jwtCredential = (provider: string, extra: object = {}) => ({
    protocol: 'oauth2',
    flow: 'jwt-bearer',
    authProvider: provider,
    principals: {
      Integration: {
        type: 'named',
        parameters: { username: USERNAME },
        secrets: { privateKey: key },
      },
    },
    ...extra,
  })
  await broker.apply(
    parseConfig(
      {
        authProviders: {
          Target: {
            type: 'salesforce',
            loginUrl: org.loginUrl,
            consumerKey: org.connectedApp('Callout').consumerKey,
          },
          TargetApiOnly: {
            type: 'salesforce',
            loginUrl: org.loginUrl,
            consumerKey: org.connectedApp('ApiOnly').consumerKey,
          },
          Generic: {
            type: 'oauth2',
            tokenUrl: `${org.instanceUrl}/services/oauth2/token`,
            consumerKey: 'generic-client',
            consumerSecret: 'generic-secret',
          },
        },
        externalCredentials: {
          TargetAuth: jwtCredential('Target'),
          TargetApiScope: jwtCredential('Target', { scope: 'api refresh_token' }),
          TargetAppApiOnly: jwtCredential('TargetApiOnly'),
          EachUser: {
            protocol: 'oauth2',
            flow: 'jwt-bearer',
            authProvider: 'Target',
            jwt: { subject: '{!$User.Username}' },
            principals: { Each: { type: 'per-user', secrets: { privateKey: key } } },
          },
          Open: { protocol: 'none' },
          GenericAuth: {
            protocol: 'oauth2',
            flow: 'client-credentials',
            authProvider: 'Generic',
            principals: { App: { type: 'named' } },
          },
        },
        namedCredentials: {
          Target: { url: org.loginUrl, externalCredential: 'TargetAuth' },
          TargetApiScope: { url: org.instanceUrl, externalCredential: 'TargetApiScope' },
          TargetAppApiOnly: { url: org.instanceUrl, externalCredential: 'TargetAppApiOnly' },
          TargetEachUser: { url: org.instanceUrl, externalCredential: 'EachUser' },
          Plain: { url: org.instanceUrl, externalCredential: 'Open' },
          TargetWithPath: {
            url: `${org.instanceUrl}${V}`,
            externalCredential: 'TargetAuth',
          },
          Generic: { url: org.instanceUrl, externalCredential: 'GenericAuth' },
        },
      },
      { allowInlineSecrets: true, env: {} },
    ),
  )
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  context = await browser.newContext()
}, 60_000)

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await broker?.close()
  await emulator?.close()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    if (isCalloutError(err)) return err.code
    throw err
  }
  return 'no error'
}

describe('broker.frontdoorUrl in Chromium', () => {
  it('opens the edit page of a record a callout created, saves an edit, and works once only', async () => {
    const created = await broker.fetch(`callout:Target${V}/sobjects/Account`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Name: 'Frontdoor Original' }),
    })
    expect(created.status).toBe(201)
    const { id } = (await created.json()) as { id: string }
    const editPath = `/lightning/r/Account/${id}/edit`
    const url = await broker.frontdoorUrl('Target', { path: editPath })
    expect(new URL(url).origin).toBe(org.instanceUrl)

    const page = await context.newPage()
    await page.goto(url)
    expect(new URL(page.url()).pathname).toBe(editPath)
    await page.fill('input[name="Name"]', 'Frontdoor Edited')
    await page.click('button[name="save"]')
    await page.waitForURL(`**/lightning/r/Account/${id}/view`)
    expect(await page.textContent('[data-field="Name"]')).toBe('Frontdoor Edited')
    await page.close()

    const read = await broker.fetch(`callout:Target${V}/sobjects/Account/${id}?fields=Name`)
    expect(((await read.json()) as { Name: string }).Name).toBe('Frontdoor Edited')

    const fresh = await browser.newContext()
    const again = await fresh.newPage()
    await again.goto(url)
    expect(new URL(again.url()).pathname).toBe('/')
    expect(await again.title()).toBe('Login | Salesforce')
    await fresh.close()

    const otp = new URL(url).searchParams.get('otp') ?? ''
    expect(otp.length).toBeGreaterThan(20)
    expect(logged.join('\n')).not.toContain(otp)
  })

  it('refreshes a rejected token once and retries', async () => {
    await broker.frontdoorUrl('Target', { path: '/' })
    const before = emulator.requestLog.tokenRequests()
    org.faults.expireSessions()
    const url = await broker.frontdoorUrl('Target', { path: '/home/home.jsp' })
    expect(new URL(url).searchParams.get('startURL')).toBe('/home/home.jsp')
    expect(emulator.requestLog.tokenRequests() - before).toBe(1)
  })
  it("asks the org's origin when the Named Credential's URL has a path", async () => {
    const url = await broker.frontdoorUrl('TargetWithPath', { path: '/lightning/page/home' })
    expect(new URL(url).origin).toBe(org.instanceUrl)
    expect(new URL(url).pathname).toBe('/secur/frontdoor.jsp')
    expect(new URL(url).searchParams.get('startURL')).toBe('/lightning/page/home')
  })
})

describe('broker.frontdoorUrl refusals', () => {
  it('FRONTDOOR_NOT_SALESFORCE for a credential without a Salesforce AuthProvider', async () => {
    expect(await code(broker.frontdoorUrl('Plain', { path: '/' }))).toBe('FRONTDOOR_NOT_SALESFORCE')
    expect(await code(broker.frontdoorUrl('Generic', { path: '/' }))).toBe(
      'FRONTDOOR_NOT_SALESFORCE',
    )
  })

  it('FRONTDOOR_SCOPE_MISSING names the web scope, from the configuration or the org', async () => {
    const before = emulator.requestLog.tokenRequests()
    const configured = await broker
      .frontdoorUrl('TargetApiScope', { path: '/' })
      .catch((e: unknown) => e)
    expect(isCalloutError(configured, 'FRONTDOOR_SCOPE_MISSING')).toBe(true)
    expect((configured as Error).message).toMatch(/\bweb\b/)
    expect(emulator.requestLog.tokenRequests()).toBe(before)
    const answered = await broker
      .frontdoorUrl('TargetAppApiOnly', { path: '/' })
      .catch((e: unknown) => e)
    expect(isCalloutError(answered, 'FRONTDOOR_SCOPE_MISSING')).toBe(true)
    expect((answered as Error).message).toMatch(/\bweb\b/)
  })

  it.each([
    ['https://evil.example/x', 'not-relative'],
    ['//evil.example/x', 'scheme-relative'],
    ['javascript:alert(1)', 'not-relative'],
    ['/a\r\nLocation: https://evil.example', 'control-chars'],
    ['/a\nb', 'control-chars'],
    ['/\\evil.example', 'backslash'],
    ['', 'empty'],
    ['lightning/r/Account', 'not-relative'],
  ])('FRONTDOOR_PATH_INVALID for %j', async (path, rule) => {
    const err = await broker.frontdoorUrl('Target', { path }).catch((e: unknown) => e)
    expect(isCalloutError(err, 'FRONTDOOR_PATH_INVALID')).toBe(true)
    expect((err as { details?: { rule?: string } }).details?.rule).toBe(rule)
  })

  it('FRONTDOOR_FAILED with the status and error when the org answers without a URL', async () => {
    // A path the library lets through and the org refuses (a colon in its first segment).
    const err = await broker.frontdoorUrl('Target', { path: '/x:y' }).catch((e: unknown) => e)
    expect(isCalloutError(err, 'FRONTDOOR_FAILED')).toBe(true)
    expect((err as { details?: { status?: number } }).details?.status).toBe(400)
    expect((err as { details?: { error?: string } }).details?.error).toBe('invalid_request')
  })

  it('USER_REQUIRED for a per-user principal without user', async () => {
    expect(await code(broker.frontdoorUrl('TargetEachUser', { path: '/' }))).toBe('USER_REQUIRED')
  })
})
