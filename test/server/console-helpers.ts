/**
 * Real parts for the console tests: a Callout home on SQLite, `callout serve`'s app with the
 * console listening on 127.0.0.1 port 0, and a small browser-like client (a cookie jar, forms
 * with their CSRF token) over undici.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { openBroker, type Broker } from '../../src/index.ts'
import type { Definitions } from '../../src/definitions/index.ts'
import { buildServer, type CalloutServer } from '../../src/server/build-server.ts'
import type { ConsoleOptions } from '../../src/server/console/console-plugin.ts'
import { AdminAuth } from '../../src/server/admin/admin-auth.ts'
import type { ScryptCost } from '../../src/server/admin/passwords.ts'
import type { KyselyStore } from '../../src/store/kysely-store.ts'

export const ADMIN = 'alice'
export const PASSWORD = 'correct horse battery staple'

/**
 * A cheap scrypt cost (1 MiB, about a millisecond) for tests that log in but are not about the
 * hash; `console-security.test.ts` keeps the production cost and checks it.
 */
export const TEST_SCRYPT_COST: ScryptCost = Object.freeze({ N: 1024, r: 8, p: 1 })

/** One `callout serve` with the console. */
export interface ConsoleInstance {
  readonly broker: Broker
  readonly store: KyselyStore
  readonly server: CalloutServer
  readonly origin: string
  close(): Promise<void>
}

/** A Callout home with an admin, and instances of `callout serve` on it. */
export interface ConsoleRig {
  readonly home: string
  readonly env: Record<string, string>
  /** Starts an instance; `sharedRateLimit` counts logins in the store (every instance shares). */
  start(
    options?: Partial<Omit<ConsoleOptions, 'admin'>> & { sharedRateLimit?: boolean },
  ): Promise<ConsoleInstance>
  close(): Promise<void>
}

/**
 * Creates a home (SQLite file unless `storeUrl` names another store, fresh master key) with the
 * admin {@link ADMIN}, whose password is hashed at `scryptCost` (the production cost unless given).
 */
export async function consoleRig(
  options: { scryptCost?: ScryptCost; storeUrl?: string } = {},
): Promise<ConsoleRig> {
  const home = await mkdtemp(join(tmpdir(), 'callout-console-'))
  const env: Record<string, string> = {
    CALLOUT_HOME: home,
    CALLOUT_MASTER_KEY: randomBytes(32).toString('base64'),
    ...(options.storeUrl === undefined ? {} : { CALLOUT_STORE: options.storeUrl }),
  }
  const instances: ConsoleInstance[] = []
  const first = await openBroker({ home, env })
  await new AdminAuth({
    store: (first.store as KyselyStore).admin,
    clock: { now: () => Date.now() },
    ...(options.scryptCost === undefined ? {} : { scryptCost: options.scryptCost }),
  }).createAdmin(ADMIN, PASSWORD, 'cli')
  await first.close()
  return {
    home,
    env,
    start: async ({ sharedRateLimit, ...options } = {}) => {
      // The console's clock is the broker's too (flow lifetimes, token expiry).
      const broker = await openBroker({
        home,
        env,
        ...(options.clock === undefined ? {} : { clock: options.clock }),
      })
      const store = broker.store as KyselyStore
      let origin = 'http://127.0.0.1'
      const server = buildServer({
        broker,
        keys: store.clientKeys,
        processMetrics: false,
        console: {
          admin: store.admin,
          keys: store.clientKeys,
          publicUrl: () => origin,
          ...(sharedRateLimit === true ? { rateLimits: store.rateLimits } : {}),
          ...options,
        },
      })
      await server.app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = server.app.server.address() as AddressInfo
      origin = `http://127.0.0.1:${port}`
      const instance: ConsoleInstance = {
        broker,
        store,
        server,
        origin: `http://127.0.0.1:${port}`,
        close: async () => {
          await server.app.close()
          await broker.close()
        },
      }
      instances.push(instance)
      return instance
    },
    close: async () => {
      for (const instance of instances) await instance.close().catch(() => undefined)
      await rm(home, { recursive: true, force: true })
    },
  }
}

/** A response as a browser sees it. */
export interface Page {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  readonly location?: string
}

/** A browser-like client: keeps cookies, never follows redirects, reads CSRF tokens off pages. */
export class Browser {
  readonly cookies = new Map<string, string>()
  /** Raw Set-Cookie headers seen, for attribute checks. */
  readonly setCookies: string[] = []

  constructor(public origin: string) {}

  async get(path: string): Promise<Page> {
    return this.#send('GET', path)
  }

  /** Posts a urlencoded form; pass `_csrf` yourself (or use {@link submit}). */
  async post(
    path: string,
    form: Record<string, string> | string,
    headers: Record<string, string> = {},
  ): Promise<Page> {
    const body = typeof form === 'string' ? form : new URLSearchParams(form).toString()
    return this.#send('POST', path, body, {
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    })
  }

  /** Loads `pagePath`, takes the CSRF token of its first form, and posts `form` to `action`. */
  async submit(pagePath: string, action: string, form: Record<string, string>): Promise<Page> {
    const page = await this.get(pagePath)
    return this.post(action, { _csrf: csrfOf(page.body), ...form })
  }

  /** Logs in as `username`. */
  async login(username = ADMIN, password = PASSWORD): Promise<Page> {
    return this.submit('/login', '/login', { username, password, next: '/' })
  }

  async #send(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<Page> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await request(`${this.origin}${path}`, {
      method: method as 'GET',
      headers: { ...(cookie === '' ? {} : { cookie }), ...headers },
      ...(body === undefined ? {} : { body }),
    })
    const setCookie = res.headers['set-cookie']
    for (const line of setCookie === undefined ? [] : [setCookie].flat()) {
      this.setCookies.push(line)
      const [pair] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    const text = await res.body.text()
    const location = res.headers.location
    return {
      status: res.statusCode,
      headers: res.headers as Page['headers'],
      body: text,
      ...(typeof location === 'string' ? { location } : {}),
    }
  }
}

/** The CSRF token of the first form on a page. */
export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html)
  if (match === null) throw new Error('the page has no CSRF token')
  return match[1]!
}

/** Creates an admin API token in the store and returns it. */
export async function adminToken(store: KyselyStore, name = 'test-bot'): Promise<string> {
  const { generateAdminToken } = await import('../../src/server/admin/admin-tokens.ts')
  const { id, token, hash } = generateAdminToken()
  await store.admin.createAdminToken({
    id,
    name,
    tokenHash: hash,
    createdBy: 'cli',
    createdAt: Date.now(),
  })
  return token
}

/** `html` with eta's escapes turned back into the characters they stand for. */
export const unescape = (text: string): string =>
  text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&')

/**
 * The fields of a page's `form.card` as a browser would post them unchanged: text, URL, hidden
 * and password inputs (a password field is always empty), textareas, each select's selected
 * option (else its first) and ticked checkboxes.
 */
export function formFields(html: string): Record<string, string> {
  const form = /<form method="post" action="[^"]*" class="card"[^>]*>([\s\S]*?)<\/form>/.exec(html)
  if (form === null) throw new Error('the page has no form')
  const body = form[1]!
  const fields: Record<string, string> = {}
  for (const m of body.matchAll(
    /<input type="(?:text|hidden|url|password)"[^>]* name="([^"]+)"[^>]* value="([^"]*)"/g,
  ))
    fields[unescape(m[1]!)] = unescape(m[2]!)
  for (const m of body.matchAll(
    /<input type="checkbox"[^>]* name="([^"]+)" value="([^"]*)" checked/g,
  ))
    fields[unescape(m[1]!)] = unescape(m[2]!)
  for (const m of body.matchAll(/<textarea[^>]* name="([^"]+)"[^>]*>([\s\S]*?)<\/textarea>/g))
    fields[unescape(m[1]!)] = unescape(m[2]!)
  for (const m of body.matchAll(/<select[^>]* name="([^"]+)"[^>]*>([\s\S]*?)<\/select>/g)) {
    const selected = /<option value="([^"]*)" selected>/.exec(m[2]!)
    const first = /<option value="([^"]*)"/.exec(m[2]!)
    fields[unescape(m[1]!)] = unescape((selected ?? first)?.[1] ?? '')
  }
  return fields
}

/**
 * A Callout home with one console instance (a login limit no test reaches) and a browser signed
 * in as {@link ADMIN}; `definitions`, when given, are applied first.
 */
export async function signedInConsole(definitions?: Definitions): Promise<{
  rig: ConsoleRig
  c: ConsoleInstance
  browser: Browser
}> {
  const rig = await consoleRig()
  const c = await rig.start({ loginRateLimit: { max: 1_000, timeWindowMs: 60_000 } })
  if (definitions !== undefined) await c.broker.apply(definitions)
  const browser = new Browser(c.origin)
  await browser.login()
  return { rig, c, browser }
}
