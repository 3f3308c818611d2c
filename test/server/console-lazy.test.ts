/**
 * The setup console is built on its first request, not when `callout serve` starts: proxy and
 * operations requests never build it; the first console requests (several at once) all wait for
 * it; the routes keep their owners (API mode, operations and jsforce's `proxyUrl` stay the
 * proxy's, every other path is the console's).
 */
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isConsoleTarget } from '../../src/server/lazy-console.ts'
import { Browser, consoleRig, TEST_SCRYPT_COST, type ConsoleRig } from './console-helpers.ts'

let rig: ConsoleRig

beforeAll(async () => {
  rig = await consoleRig({ scryptCost: TEST_SCRYPT_COST })
})
afterAll(async () => {
  await rig.close()
})

describe('the setup console is built on its first request', () => {
  it('is not built by proxy and operations requests; concurrent first pages all wait for it', async () => {
    const c = await rig.start()
    try {
      for (const path of ['/healthz', '/readyz', '/metrics', '/callout/Nope/x', '/jsforce-proxy']) {
        const res = await request(`${c.origin}${path}`)
        await res.body.dump()
      }
      expect(c.server.consoleLoaded).toBe(false)

      // Five browsers ask for the login page before the console exists.
      const pages = await Promise.all(
        Array.from({ length: 5 }, () =>
          request(`${c.origin}/login`).then(async (res) => ({
            status: res.statusCode,
            body: await res.body.text(),
          })),
        ),
      )
      for (const page of pages) {
        expect(page.status).toBe(200)
        expect(page.body).toContain('name="password"')
      }
      expect(c.server.consoleLoaded).toBe(true)

      // A whole login through the built console.
      const browser = new Browser(c.origin)
      await browser.login()
      const home = await browser.get('/')
      expect(home.status).toBe(200)
    } finally {
      await c.close()
    }
  })

  it('keeps the proxy answering its own routes, and unknown paths get the console’s answer', async () => {
    const c = await rig.start()
    try {
      const missing = await request(`${c.origin}/callout/Nope/x`)
      expect(missing.statusCode).toBe(401) // no client key: the proxy's answer, not a page
      expect(((await missing.body.json()) as { error: { code: string } }).error.code).toBe(
        'CLIENT_KEY_MISSING',
      )
      const health = await request(`${c.origin}/healthz?probe=1`)
      expect(await health.body.json()).toEqual({ status: 'ok' })
      expect(c.server.consoleLoaded).toBe(false)

      // An unknown path goes to the console, which answers it as the proxy always did.
      const unknown = await request(`${c.origin}/no-such-page`)
      expect(unknown.statusCode).toBe(404)
      expect(((await unknown.body.json()) as { error: { code: string } }).error.code).toBe(
        'ROUTE_NOT_FOUND',
      )
      expect(c.server.consoleLoaded).toBe(true)
    } finally {
      await c.close()
    }
  })
})

describe('isConsoleTarget', () => {
  it.each([
    ['/', true],
    ['/login', true],
    ['/named-credentials/Api?x=1', true],
    ['/callout', true],
    ['/healthzz', true],
    ['/callout/Api/x', false],
    ['/healthz', false],
    ['/healthz?x', false],
    ['/readyz', false],
    ['/metrics', false],
    ['/jsforce-proxy', false],
    ['http://example.com/login', false],
    ['*', false],
    ['', false],
  ])('%s → %s', (url, expected) => {
    expect(isConsoleTarget(url)).toBe(expected)
  })
})
