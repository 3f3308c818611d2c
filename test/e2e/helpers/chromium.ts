/**
 * Shared steps of the console's Chromium tests: an axe-core check of the current page, and the
 * emulator's login and approval pages followed until the browser is back on the console.
 */
import { createRequire } from 'node:module'
import type { Page } from 'playwright-core'
import { expect } from 'vitest'

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
