/**
 * Shared steps of the console's Chromium tests: the console, an emulated Salesforce org and
 * headless Chromium started together, an axe-core check of the current page, and the emulator's
 * login and approval pages followed until the browser is back on the console.
 */
import { mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { startEmulator, type Emulator, type EmulatorSeed } from '@callout/salesforce-emulator'
import { chromium, type Browser, type Page } from 'playwright-core'
import { expect } from 'vitest'
import {
  TEST_SCRYPT_COST,
  consoleRig,
  type ConsoleInstance,
  type ConsoleRig,
} from '../../server/console-helpers.ts'

const require = createRequire(import.meta.url)

/** Runs axe-core on the page (its context needs `bypassCSP`) and expects no violation. */
export async function expectAccessible(page: Page): Promise<void> {
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

/** Logs in and approves on the emulator's pages until the page is back on `origin`. */
export async function finishOnEmulator(
  page: Page,
  origin: string,
  user: { readonly username: string; readonly password: string },
): Promise<void> {
  for (let step = 0; step < 4 && !page.url().startsWith(origin); step++) {
    if (await page.locator('#pw').count()) {
      await page.fill('#username', user.username)
      await page.fill('#pw', user.password)
      await Promise.all([page.waitForNavigation(), page.click('#Login')])
    } else if (await page.locator('#oaapprove').count()) {
      await Promise.all([page.waitForNavigation(), page.click('#oaapprove')])
    } else {
      await page.waitForLoadState()
    }
  }
}

/**
 * Headless Chromium (/usr/bin/chromium) and one page in a fresh context; `bypassCSP` lets
 * axe-core be injected (the pages themselves never need it).
 */
export async function launchChromium(): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  const context = await browser.newContext({
    bypassCSP: true,
    viewport: { width: 1100, height: 800 },
  })
  return { browser, page: await context.newPage() }
}

/** Logs in to the console at `origin` with the username and password given. */
export async function logInToConsole(
  page: Page,
  origin: string,
  admin: { readonly username: string; readonly password: string },
): Promise<void> {
  await page.goto(`${origin}/login`)
  await page.fill('#username', admin.username)
  await page.fill('#password', admin.password)
  await Promise.all([page.waitForNavigation(), page.click('main button[type="submit"]')])
}

/** Where the console's Chromium tests put their screenshots (git-ignored). */
export const CONSOLE_ARTIFACTS = new URL('../../../test-artifacts/console/', import.meta.url)
  .pathname

/** A console, its emulated Salesforce org(s) and a Chromium page, started for one test file. */
export interface ConsoleInChromium {
  readonly emulator: Emulator
  readonly rig: ConsoleRig
  readonly console: ConsoleInstance
  readonly browser: Browser
  readonly page: Page
  /** Closes the browser, the console and the emulator. */
  close(): Promise<void>
}

/**
 * Starts the Salesforce emulator with `seed`, a console on a fresh store (test scrypt cost,
 * `start` options such as a clock) and headless Chromium; creates {@link CONSOLE_ARTIFACTS}.
 */
export async function startConsoleInChromium(
  seed: EmulatorSeed,
  start: Parameters<ConsoleRig['start']>[0] = {},
): Promise<ConsoleInChromium> {
  await mkdir(CONSOLE_ARTIFACTS, { recursive: true })
  const emulator = await startEmulator(seed)
  const rig = await consoleRig({ scryptCost: TEST_SCRYPT_COST })
  const instance = await rig.start(start)
  const { browser, page } = await launchChromium()
  return {
    emulator,
    rig,
    console: instance,
    browser,
    page,
    async close() {
      await browser.close()
      await rig.close()
      await emulator.close()
    },
  }
}
