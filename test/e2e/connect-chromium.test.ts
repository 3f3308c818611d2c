/**
 * Per-user connect links in real headless Chromium against the Salesforce emulator: the admin
 * creates a link on the console, the library mints others; two users open theirs in two browser
 * contexts, log in to the emulator as two different users and approve, and see "Connected as
 * <username>"; each user's callout then carries that user's identity. An authorize URL started
 * from a link in one context and finished in the other is refused and stores nothing; a link
 * opened twice is refused. axe-core checks the pages; screenshots go to test-artifacts/connect/.
 */
import { mkdir } from 'node:fs/promises'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALICE, BOB, connectFixture, type ConnectFixture } from '../server/connect-fixture.ts'
import { ADMIN, PASSWORD } from '../server/console-helpers.ts'
import { expectAccessible, finishOnEmulator } from './helpers/chromium.ts'

const ARTIFACTS = new URL('../../test-artifacts/connect/', import.meta.url).pathname

let f: ConnectFixture
let origin: string
let browser: Browser
let admin: Page
let pageA: Page
let pageB: Page

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true })
  f = await connectFixture()
  origin = f.console.origin
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  // bypassCSP lets axe-core be injected; the pages themselves never need it.
  const page = async (): Promise<Page> => {
    const context = await browser.newContext({
      bypassCSP: true,
      viewport: { width: 1000, height: 750 },
    })
    return context.newPage()
  }
  admin = await page()
  pageA = await page()
  pageB = await page()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await f?.close()
})

const accessible = expectAccessible
const finish = (page: Page, user: { username: string; password: string }) =>
  finishOnEmulator(page, origin, user)

/** Opens a connect link and presses Continue: the browser is then at the emulator. */
async function openLink(page: Page, url: string): Promise<void> {
  const landing = await page.goto(url)
  expect(landing?.status()).toBe(200)
  await Promise.all([page.waitForNavigation(), page.click('main button[type="submit"]')])
  expect(page.url().startsWith(f.org.loginUrl)).toBe(true)
}

async function identityOf(user: string): Promise<unknown> {
  const res = await f.console.broker.fetch('callout:Crm/services/oauth2/userinfo', { user })
  expect(res.status).toBe(200)
  return ((await res.json()) as { preferred_username: unknown }).preferred_username
}

describe('connect links in Chromium', () => {
  let aliceLink: string

  it('the admin creates a connect link on the detail page and sees it once with a copy button', async () => {
    await admin.goto(`${origin}/login?next=/named-credentials/Crm`)
    await admin.fill('#username', ADMIN)
    await admin.fill('#password', PASSWORD)
    await Promise.all([admin.waitForNavigation(), admin.click('main button[type="submit"]')])
    await admin.fill('#connect-user', 'alice')
    await admin.selectOption('#connect-expires', '1h')
    await Promise.all([
      admin.waitForNavigation(),
      admin.click('form[action$="/connect-link"] button'),
    ])
    aliceLink = await admin.inputValue('#connect-url')
    expect(aliceLink.startsWith(`${origin}/connect/cl_`)).toBe(true)
    expect(await admin.locator('button[data-copy="connect-url"]').count()).toBe(1)
    await accessible(admin)
    await admin.screenshot({ path: `${ARTIFACTS}01-connect-link-created.png`, fullPage: true })
  })

  it('two users connect in two browser contexts; each callout carries that user', async () => {
    const bobLink = await f.console.broker.connectUrl('Crm', { user: 'bob', consoleUrl: origin })
    await pageA.goto(aliceLink)
    expect(await pageA.textContent('main')).toContain('alice')
    await accessible(pageA)
    await pageA.screenshot({ path: `${ARTIFACTS}02-connect-landing.png`, fullPage: true })
    await Promise.all([pageA.waitForNavigation(), pageA.click('main button[type="submit"]')])
    await openLink(pageB, bobLink)
    await finish(pageA, ALICE)
    await finish(pageB, BOB)
    expect(await pageA.textContent('#connected-as')).toBe(ALICE.username)
    expect(await pageB.textContent('#connected-as')).toBe(BOB.username)
    await accessible(pageA)
    await pageA.screenshot({ path: `${ARTIFACTS}03-connected.png`, fullPage: true })
    expect(await identityOf('alice')).toBe(ALICE.username)
    expect(await identityOf('bob')).toBe(BOB.username)
  })

  it('an authorize URL from a link opened in one context fails in the other; a reused link fails', async () => {
    const carolLink = await f.console.broker.connectUrl('Crm', {
      user: 'carol',
      consoleUrl: origin,
    })
    // Opened in a context with no emulator session, so that it stops at the login page.
    const authorize = admin.waitForRequest((r) => r.url().includes('/services/oauth2/authorize'))
    await openLink(admin, carolLink)
    const forwarded = (await authorize).url()
    await pageB.goto(forwarded)
    await finish(pageB, BOB)
    expect(pageB.url().startsWith(`${origin}/services/authcallback/Target`)).toBe(true)
    expect(await pageB.textContent('main')).toContain('AUTHORIZATION_FAILED')
    await pageB.screenshot({ path: `${ARTIFACTS}04-forwarded-refused.png`, fullPage: true })
    expect(
      await f.console.store.getCredential({
        externalCredential: 'Users',
        principal: 'EachUser',
        userId: 'carol',
      }),
    ).toBeUndefined()
    const reused = await pageB.goto(carolLink)
    expect(reused?.status()).toBe(410)
    expect(await pageB.textContent('main')).toContain('CONNECT_LINK_USED')
    await accessible(pageB)
    await pageB.screenshot({ path: `${ARTIFACTS}05-link-used.png`, fullPage: true })
    // Bob's own connection is untouched by the refused callback.
    expect(await identityOf('bob')).toBe(BOB.username)
  })
})
