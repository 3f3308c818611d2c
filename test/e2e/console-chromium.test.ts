/**
 * The setup console in real headless Chromium (playwright-core driving /usr/bin/chromium) against
 * the Salesforce emulator: log in, create the Auth Provider and a Named Credential with "Start
 * Authentication Flow on Save", log in and approve on the emulator's pages, see "Authenticated as
 * <username>", list the REST resources from the test panel, survive expired sessions, see "Needs
 * re-auth" after the refresh token is revoked and re-authenticate in one click, revoke the tokens
 * from the detail page. axe-core checks
 * every page; screenshots go to test-artifacts/console/ (git-ignored).
 */
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ADMIN,
  PASSWORD,
  TEST_SCRYPT_COST,
  consoleRig,
  type ConsoleInstance,
  type ConsoleRig,
} from '../server/console-helpers.ts'

const require = createRequire(import.meta.url)
const ARTIFACTS = new URL('../../test-artifacts/console/', import.meta.url).pathname
const USER = 'admin@target.example'
const USER_PASSWORD = 'Adm1n-Pa55!'

let emulator: Emulator
let org: EmulatedOrg
let rig: ConsoleRig
let c: ConsoleInstance
let browser: Browser
let page: Page
const dialogs: string[] = []

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true })
  emulator = await startEmulator({
    orgs: [{ name: 'target', users: [{ username: USER, password: USER_PASSWORD }] }],
  })
  org = emulator.org('target')
  rig = await consoleRig({ scryptCost: TEST_SCRYPT_COST })
  c = await rig.start()
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  // bypassCSP lets axe-core be injected; the pages themselves never need it.
  const context = await browser.newContext({
    bypassCSP: true,
    viewport: { width: 1100, height: 800 },
  })
  page = await context.newPage()
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.accept()
  })
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await rig?.close()
  await emulator?.close()
})

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })
}

/** Runs axe-core on the current page and expects no violation. */
async function accessible(): Promise<void> {
  await page.addScriptTag({ path: require.resolve('axe-core') })
  const violations = await page.evaluate(async () => {
    const result = await (
      globalThis as unknown as {
        axe: { run(): Promise<{ violations: { id: string; help: string; nodes: unknown[] }[] }> }
      }
    ).axe.run()
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`)
  })
  expect(violations, page.url()).toEqual([])
}

/** Follows the emulator's login and approval pages until the browser is back on the console. */
async function loginOnEmulator(): Promise<void> {
  for (let step = 0; step < 4 && !page.url().startsWith(c.origin); step++) {
    if (await page.locator('#pw').count()) {
      await page.fill('#username', USER)
      await page.fill('#pw', USER_PASSWORD)
      await Promise.all([page.waitForNavigation(), page.click('#Login')])
    } else if (await page.locator('#oaapprove').count()) {
      await Promise.all([page.waitForNavigation(), page.click('#oaapprove')])
    } else {
      await page.waitForLoadState()
    }
  }
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
      scopes: ['api', 'refresh_token'],
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
    await page.fill('#scope', 'api refresh_token')
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
