/**
 * The setup console in real headless Chromium (playwright-core driving /usr/bin/chromium) against
 * the Salesforce emulator: log in, create the Auth Provider and a Named Credential with "Start
 * Authentication Flow on Save", log in and approve on the emulator's pages, see "Authenticated as
 * <username>", list the REST resources from the test panel, survive expired sessions, run the
 * doctor panel's online checks, edit the Named Credential on its Edit page, open the org and the Account a test call created through "Open in
 * target org" without a login prompt, see "Needs re-auth" after the refresh token is revoked and
 * re-authenticate in one click, revoke the tokens from the detail page, create an External
 * Credential with principals. Then the error paths: a tampered or missing CSRF token, a login
 * lockout, redirect_uri_mismatch, SAME_ORG_SSO and an SSO-only org whose flow times out. axe-core checks every page; screenshots go to
 * test-artifacts/console/ (git-ignored).
 */
import type { EmulatedOrg, Emulator } from '@callout/salesforce-emulator'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PENDING_AUTHORIZATION_TTL_MS } from '../../src/callout/browser-authorization.ts'
import { AdminAuth } from '../../src/server/admin/admin-auth.ts'
import {
  ADMIN,
  PASSWORD,
  TEST_SCRYPT_COST,
  type ConsoleInstance,
} from '../server/console-helpers.ts'
import {
  CONSOLE_ARTIFACTS as ARTIFACTS,
  expectAccessible,
  finishOnEmulator,
  startConsoleInChromium,
  type ConsoleInChromium,
} from './helpers/chromium.ts'

const USER = 'admin@target.example'
const USER_PASSWORD = 'Adm1n-Pa55!'

let started: ConsoleInChromium
let emulator: Emulator
let org: EmulatedOrg
let c: ConsoleInstance
let browser: Browser
let page: Page
const dialogs: string[] = []
/** How far the console's clock runs ahead of the real one. */
let skew = 0

beforeAll(async () => {
  started = await startConsoleInChromium(
    { orgs: [{ name: 'target', users: [{ username: USER, password: USER_PASSWORD }] }] },
    { clock: { now: () => Date.now() + skew } },
  )
  ;({ emulator, console: c, browser, page } = started)
  org = emulator.org('target')
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.accept()
  })
}, 60_000)
afterAll(async () => {
  await started?.close()
})

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })
}

/** Runs axe-core on the current page and expects no violation. */
async function accessible(): Promise<void> {
  await expectAccessible(page)
}

/** Follows the emulator's login and approval pages until the browser is back on the console. */
async function loginOnEmulator(): Promise<void> {
  await finishOnEmulator(page, c.origin, { username: USER, password: USER_PASSWORD })
  expect(page.url().startsWith(`${c.origin}/named-credentials/Target`)).toBe(true)
}

async function listResources(): Promise<string> {
  await Promise.all([page.waitForNavigation(), page.click('button[name="preset"]')])
  return (await page.locator('#test-body, .alert.error').first().textContent()) ?? ''
}

describe('the console in Chromium', () => {
  it('logs in', async () => {
    await page.goto(`${c.origin}/`)
    expect(new URL(page.url()).pathname).toBe('/login')
    await accessible()
    await shot('01-login')
    await page.fill('#username', ADMIN)
    await page.fill('#password', PASSWORD)
    await Promise.all([page.waitForNavigation(), page.click('main button[type="submit"]')])
    expect(new URL(page.url()).pathname).toBe('/')
    await accessible()
  })

  it('creates the Auth Provider and shows the callback URL to copy', async () => {
    const app = org.addConnectedApp({
      name: 'CalloutConsole',
      callbackUrls: [`${c.origin}/services/authcallback/SfTarget`],
      scopes: ['api', 'refresh_token', 'web'],
    })
    await page.goto(`${c.origin}/auth-providers/new`)
    await accessible()
    await page.fill('#name', 'SfTarget')
    await page.selectOption('#type', 'salesforce')
    await page.fill('#consumerKey', app.consumerKey)
    await page.fill('#consumerSecret', app.consumerSecret)
    await page.fill('#loginUrl', org.loginUrl)
    await Promise.all([page.waitForNavigation(), page.click('form.card button[type="submit"]')])
    expect(await page.inputValue('#callback-url')).toBe(
      `${c.origin}/services/authcallback/SfTarget`,
    )
    expect(await page.content()).not.toContain(app.consumerSecret)
    await accessible()
    await shot('02-auth-provider')
  })

  it('creates a Named Credential with Start Authentication Flow on Save and is "Authenticated as <username>"', async () => {
    await page.goto(`${c.origin}/named-credentials/new`)
    await accessible()
    await page.fill('#label', 'Target org <img src=x onerror=alert(1)>')
    await page.fill('#name', 'Target')
    await page.fill('#url', org.instanceUrl)
    await page.selectOption('#authProvider', 'SfTarget')
    await page.fill('#scope', 'api refresh_token web')
    expect(await page.isChecked('#startAuth')).toBe(true)
    await shot('03-new-named-credential')
    await Promise.all([page.waitForNavigation(), page.click('form.card button[type="submit"]')])
    expect(page.url().startsWith(org.loginUrl)).toBe(true)
    await loginOnEmulator()
    await expect.poll(() => page.textContent('main')).toContain(`Authenticated as ${USER}`)
    expect(dialogs).toEqual([])
    await accessible()
    await shot('04-authenticated')
  })

  it('lists the REST resources, and again after the org expires its sessions', async () => {
    expect(await listResources()).toContain('"sobjects"')
    await shot('05-test-panel')
    org.faults.expireSessions()
    expect(await listResources()).toContain('"sobjects"')
    await accessible()
  })

  it('shows the doctor panel and runs the online checks', async () => {
    await page.goto(`${c.origin}/named-credentials/Target`)
    expect(await page.textContent('#doctor-findings')).toContain(`Authenticated as ${USER}`)
    await Promise.all([page.waitForNavigation(), page.click('form[action$="/doctor"] button')])
    expect(await page.textContent('#doctor-findings')).toContain(
      'GET /services/data/v61.0/ answered 200',
    )
    expect(await page.locator('#doctor-findings .badge.fail').count()).toBe(0)
    await accessible()
    await shot('05a-doctor')
  })

  it('edits the Named Credential on its Edit page: an error next to its field, then saved', async () => {
    await page.goto(`${c.origin}/named-credentials/Target`)
    await Promise.all([page.waitForNavigation(), page.click('a[href$="/Target/edit"]')])
    expect(new URL(page.url()).pathname).toBe('/named-credentials/Target/edit')
    await accessible()
    await page.fill('#timeoutMs', '0')
    await Promise.all([page.waitForNavigation(), page.click('form.card button[type="submit"]')])
    expect(await page.textContent('#timeoutMs-error')).toBe('must be at least 1 ms')
    await accessible()
    await page.fill('#timeoutMs', '20000')
    await Promise.all([page.waitForNavigation(), page.click('form.card button[type="submit"]')])
    expect(new URL(page.url()).pathname).toBe('/named-credentials/Target')
    expect(await page.textContent('#nc-timeout')).toBe('20000 ms')
    expect(c.broker.definitions.namedCredentials.get('Target')?.timeoutMs).toBe(20_000)
    await shot('05b-named-credential-edited')
  })

  it('opens the org, and the Account a test call created, logged in without a login prompt', async () => {
    await Promise.all([
      page.waitForURL(`${org.instanceUrl}/lightning/page/home`),
      page.click('form[action$="/open"] button'),
    ])
    expect(await page.textContent('#home-user')).toBe(`Logged in as ${USER}`)
    await page.goto(`${c.origin}/named-credentials/Target`)
    await page.selectOption('#method', 'POST')
    await page.fill('#path', '/services/data/v61.0/sobjects/Account')
    await page.fill('#headers', 'Content-Type: application/json')
    await page.fill('#body', JSON.stringify({ Name: 'Opened From The Test Panel' }))
    await Promise.all([
      page.waitForNavigation(),
      page.click('form[action$="/test"] button:not([name])'),
    ])
    expect(await page.textContent('#test-status')).toContain('201')
    await accessible()
    await shot('05b-open-record')
    await Promise.all([
      page.waitForURL(/\/lightning\/r\/Account\/\w{18}\/view$/),
      page.click('#open-record button'),
    ])
    expect(await page.textContent('[data-field="Name"]')).toBe('Opened From The Test Panel')
    await page.goto(`${c.origin}/named-credentials/Target`)
  })

  it('shows "Needs re-auth" after the refresh token is revoked, and re-authenticates in one click', async () => {
    org.faults.revokeRefreshTokens()
    org.faults.expireSessions()
    expect(await listResources()).toContain('NEEDS_REAUTH')
    await page.goto(`${c.origin}/`)
    expect(await page.textContent('main')).toContain('Needs re-auth')
    await shot('06-needs-reauth')
    await page.goto(`${c.origin}/named-credentials/Target`)
    await Promise.all([
      page.waitForNavigation(),
      page.click('form[action$="/authenticate"] button'),
    ])
    await loginOnEmulator()
    await expect.poll(() => page.textContent('main')).toContain(`Authenticated as ${USER}`)
    expect(await listResources()).toContain('"sobjects"')
  })

  it('revokes the tokens after a confirmation page, and the badge turns to "Needs re-auth"', async () => {
    await page.goto(`${c.origin}/named-credentials/Target`)
    await Promise.all([page.waitForNavigation(), page.click('a[href$="/Target/revoke"]')])
    expect(await page.textContent('h1')).toBe('Revoke the tokens of Target?')
    await accessible()
    await shot('07-revoke-confirm')
    await Promise.all([page.waitForNavigation(), page.click('#revoke-confirm')])
    expect(new URL(page.url()).search).toBe('?flash=revoked')
    expect(await page.textContent('.badge.needs-reauth')).toBe('Needs re-auth')
    expect(await page.locator('a[href$="/Target/revoke"]').count()).toBe(0)
    await accessible()
    await shot('08-revoked')
    expect(await listResources()).toContain('NEEDS_REAUTH')
  })

  it('creates an External Credential with principals through the form', async () => {
    await page.goto(`${c.origin}/external-credentials/new`)
    await accessible()
    await page.fill('#name', 'Partner')
    await page.selectOption('#protocol', 'custom')
    await page.selectOption('#flow', '')
    await page.fill('#p0-name', 'Service')
    await page.fill('#p0-sequence', '1')
    await page.fill('#p0-parameters', 'tenant=acme')
    await page.fill('#p0-secrets', 'apiKey=partner-key-3b9e')
    await page.fill('#p1-name', 'Agent')
    await page.selectOption('#p1-type', 'per-user')
    await Promise.all([page.waitForNavigation(), page.click('form.card button[type="submit"]')])
    expect(new URL(page.url()).pathname).toBe('/external-credentials/Partner')
    expect(await page.textContent('main')).toContain('Stored, never shown: apiKey.')
    expect(await page.content()).not.toContain('partner-key-3b9e')
    expect(await page.inputValue('#p1-name')).toBe('Agent')
    await accessible()
    await shot('09-external-credential')
  })

  it('renders injected markup inert and checks the audit page', async () => {
    await page.goto(`${c.origin}/`)
    expect(dialogs).toEqual([])
    expect(await page.locator('main img').count()).toBe(0)
    await page.goto(`${c.origin}/audit`)
    await accessible()
    await page.goto(`${c.origin}/client-keys`)
    await accessible()
  })
})

/** Submits the page's first `form.card` and waits for the answer. */
async function submitCard(): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.click('form.card button[type="submit"]')])
}

/** Fills the classic New Named Credential screen (Start Authentication Flow on Save is on). */
async function newNamedCredential(name: string, provider: string): Promise<void> {
  await page.goto(`${c.origin}/named-credentials/new`)
  await page.fill('#label', name)
  await page.fill('#name', name)
  await page.fill('#url', org.instanceUrl)
  await page.selectOption('#authProvider', provider)
  await page.fill('#scope', 'api refresh_token')
}

describe('error paths in Chromium', () => {
  it('refuses a form whose CSRF token was tampered with or removed, and changes nothing', async () => {
    for (const tamper of ['change', 'remove'] as const) {
      await page.goto(`${c.origin}/auth-providers/new`)
      await page.fill('#name', 'Forged')
      await page.fill('#consumerKey', 'forged-key')
      await page.fill('#loginUrl', org.loginUrl)
      const input = page.locator('form.card input[name="_csrf"]')
      if (tamper === 'remove') await input.evaluate((element) => element.remove())
      else await input.evaluate((element, value) => element.setAttribute('value', value), 'AAAA')
      const [response] = await Promise.all([
        page.waitForNavigation(),
        page.click('form.card button[type="submit"]'),
      ])
      expect(response?.status()).toBe(403)
      expect(await page.textContent('main')).toContain('CSRF_INVALID')
    }
    await accessible()
    await shot('07-csrf-refused')
    await page.goto(`${c.origin}/auth-providers`)
    expect(await page.textContent('main')).not.toContain('Forged')
    expect(c.broker.definitions.authProviders.has('Forged')).toBe(false)
  })

  it('locks an account after 5 wrong passwords and says so, even for the right password', async () => {
    await new AdminAuth({
      store: c.store.admin,
      clock: { now: () => Date.now() + skew },
      scryptCost: TEST_SCRYPT_COST,
    }).createAdmin('bob', 'bob-password-long-enough', 'test')
    const context = await browser.newContext({ bypassCSP: true })
    const other = await context.newPage()
    const attempt = async (password: string): Promise<string> => {
      await other.goto(`${c.origin}/login`)
      await other.fill('#username', 'bob')
      await other.fill('#password', password)
      await Promise.all([other.waitForNavigation(), other.click('main button[type="submit"]')])
      return (await other.textContent('main')) ?? ''
    }
    for (let i = 1; i <= 4; i++) {
      expect(await attempt(`wrong-${i}`)).toContain('Wrong username or password.')
    }
    expect(await attempt('wrong-5')).toContain('this account is locked until')
    expect(await attempt('bob-password-long-enough')).toContain('locked until')
    expect(new URL(other.url()).pathname).toBe('/login')
    await other.screenshot({ path: `${ARTIFACTS}08-locked-out.png`, fullPage: true })
    await context.close()
  })

  it('shows the callback URL to register when the login page stops at redirect_uri_mismatch', async () => {
    const app = org.addConnectedApp({
      name: 'ElsewhereApp',
      callbackUrls: ['https://elsewhere.example/callback'],
      scopes: ['api', 'refresh_token'],
    })
    await page.goto(`${c.origin}/auth-providers/new`)
    await page.fill('#name', 'SfElsewhere')
    await page.fill('#consumerKey', app.consumerKey)
    await page.fill('#consumerSecret', app.consumerSecret)
    await page.fill('#loginUrl', org.loginUrl)
    await submitCard()
    await newNamedCredential('Mismatch', 'SfElsewhere')
    await submitCard()
    // Like Salesforce, the emulator stops on its own error page: nothing comes back.
    expect(page.url().startsWith(org.loginUrl)).toBe(true)
    expect(await page.textContent('body')).toContain('redirect_uri_mismatch')
    await page.goto(`${c.origin}/named-credentials/Mismatch`)
    expect(await page.textContent('main')).toContain('Pending')
    expect(await page.inputValue('#callback-url')).toBe(
      `${c.origin}/services/authcallback/SfElsewhere`,
    )
    await accessible()
    await shot('09-redirect-uri-mismatch')
  })

  it('shows SAME_ORG_SSO verbatim with advice, and stores nothing', async () => {
    const before = JSON.stringify(await c.store.listCredentials())
    org.faults.setSameOrgSso(true)
    try {
      await page.goto(`${c.origin}/named-credentials/Target`)
      await Promise.all([
        page.waitForNavigation({
          url: (url) => url.pathname.startsWith('/services/authcallback/'),
        }),
        page.click('form[action$="/authenticate"] button'),
      ])
      const main = (await page.textContent('main')) ?? ''
      expect(main).toContain('SAME_ORG_SSO')
      expect(main).toContain('Cannot sign on into same org')
      expect(main).toContain("the target org's My Domain")
      await accessible()
      await shot('10-same-org-sso')
    } finally {
      org.faults.setSameOrgSso(false)
    }
    expect(JSON.stringify(await c.store.listCredentials())).toBe(before)
  })

  it('turns an SSO-only flow from Pending into Timed out with advice, and refuses the late callback', async () => {
    org.faults.setSsoOnly(true)
    const authorizeUrls: string[] = []
    const onRequest = (request: { url(): string }): void => {
      if (request.url().includes('/services/oauth2/authorize?')) authorizeUrls.push(request.url())
    }
    page.on('request', onRequest)
    // A browser not logged in to the org meets its login page (which offers only SSO).
    await page.context().clearCookies({ name: /^emu_sid_/ })
    try {
      await newNamedCredential('SsoOnly', 'SfTarget')
      await submitCard()
      expect(await page.textContent('body')).toContain('single sign-on')
      await page.goto(`${c.origin}/named-credentials/SsoOnly`)
      expect(await page.textContent('main')).toContain('Authentication in progress')
      expect(await page.locator('.badge.pending').count()).toBe(1)

      skew += PENDING_AUTHORIZATION_TTL_MS
      await page.reload()
      expect(await page.locator('.badge.timed-out').textContent()).toBe('Timed out')
      const main = (await page.textContent('main')) ?? ''
      expect(main).toContain('use the JWT bearer flow')
      expect(main).toContain("the target org's My Domain")
      await accessible()
      await shot('11-sso-timed-out')
      await page.goto(`${c.origin}/`)
      expect(await page.locator('tr', { hasText: 'SsoOnly' }).locator('.badge').textContent()).toBe(
        'Timed out',
      )

      const state = new URL(authorizeUrls[0]!).searchParams.get('state')!
      const late = await page.goto(
        `${c.origin}/services/authcallback/SfTarget?code=late-code&state=${encodeURIComponent(state)}`,
      )
      expect(late?.status()).toBe(400)
      expect(await page.textContent('main')).toContain('AUTHORIZATION_TIMEOUT')
      await page.goto(`${c.origin}/named-credentials/SsoOnly`)
      expect(await page.locator('.badge.timed-out').count()).toBe(1)
    } finally {
      page.off('request', onRequest)
      org.faults.setSsoOnly(false)
    }
  })
})
