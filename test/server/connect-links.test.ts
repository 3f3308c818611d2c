/**
 * Per-user connect links over real sockets against the Salesforce emulator: minting through the
 * admin API, the console form, the library and its validation (unknown credential, a named
 * principal, no user, a bad lifetime, no console URL); opening a link without an admin login;
 * single use, expiry and unknown links (404/410, nothing changed); the callback completing only
 * in the browser that opened the link, for that link's user; and no link token in the store,
 * the audit log or the access log.
 */
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { CONNECT_LINK_DEFAULTS } from '../../src/index.ts'
import { buildServer } from '../../src/server/build-server.ts'
import { memoryLogger, salesforceAuthorize } from '../e2e/helpers/e2e.ts'
import { runCli } from '../cli/helpers.ts'
import { rawSqlite } from '../helpers/raw-sql.ts'
import { ALICE, BOB, connectFixture, type ConnectFixture } from './connect-fixture.ts'
import { Browser, adminToken, csrfOf } from './console-helpers.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the assertions check the shapes
type Json = any

let f: ConnectFixture
let origin: string
let token: string

beforeAll(async () => {
  f = await connectFixture()
  origin = f.console.origin
  token = await adminToken(f.console.store)
})
afterAll(async () => f?.close())

async function api(path: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await request(`${origin}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await res.body.text()
  return { status: res.statusCode, json: text === '' ? undefined : JSON.parse(text) }
}

const mint = (name: string, body: unknown) =>
  api(`/admin/api/namedCredentials/${encodeURIComponent(name)}/connectLinks`, body)

function linkRows(): Record<string, unknown>[] {
  return rawSqlite(join(f.rig.home, 'callout.db'), 'select * from connect_links')
}

function pathOf(url: string): string {
  const u = new URL(url)
  return `${u.pathname}${u.search}`
}

const credentialOf = (userId: string) =>
  f.console.store.getCredential({ externalCredential: 'Users', principal: 'EachUser', userId })

describe('minting connect links', () => {
  it('refuses an unknown credential, a named principal, no user and a bad lifetime; stores nothing', async () => {
    const cases: [string, unknown, number, string][] = [
      ['Nope', { user: 'alice' }, 404, 'DEFINITION_NOT_FOUND'],
      ['Shared', { user: 'alice' }, 400, 'INVALID_ARGUMENT'],
      ['Open', { user: 'alice' }, 400, 'INVALID_ARGUMENT'],
      ['Crm', {}, 400, 'USER_REQUIRED'],
      ['Crm', { user: '  ' }, 400, 'USER_REQUIRED'],
      ['Crm', { user: 'alice', expiresIn: '2x' }, 400, 'INVALID_ARGUMENT'],
      ['Crm', { user: 'alice', expiresIn: 30 }, 400, 'INVALID_ARGUMENT'],
      ['Crm', { user: 'alice', expiresIn: '25h' }, 400, 'INVALID_ARGUMENT'],
      ['Crm', { user: 'alice', expiresIn: true }, 400, 'INVALID_ARGUMENT'],
    ]
    for (const [name, body, status, code] of cases) {
      const res = await mint(name, body)
      expect([name, body, res.status, res.json.error.code]).toEqual([name, body, status, code])
    }
    expect((await mint('Shared', { user: 'alice' })).json.error.message).toContain('per-user')
    expect(linkRows()).toEqual([])
  })

  it('mints a link on the console origin; only its SHA-256 is stored; the audit has no token', async () => {
    const res = await mint('Crm', { user: 'alice', expiresIn: '30m' })
    expect(res.status).toBe(201)
    expect(res.json.url).toMatch(new RegExp(`^${origin}/connect/cl_[A-Za-z0-9_-]{43}$`))
    expect(res.json).toMatchObject({ namedCredential: 'Crm', user: 'alice' })
    expect(Date.parse(res.json.expiresAt) - Date.now()).toBeGreaterThan(29 * 60_000)
    const linkToken = res.json.url.split('/').pop() as string
    const rows = linkRows()
    expect(rows).toHaveLength(1)
    expect(JSON.stringify(rows)).not.toContain(linkToken)
    expect(rows[0]).toMatchObject({ named_credential: 'Crm', user_id: 'alice', used_at: null })
    const audit = await f.console.store.admin.listAudit()
    expect(audit.find((e) => e.action === 'connectLink.create')).toMatchObject({
      target: 'NamedCredential/Crm',
      details: { user: 'alice' },
    })
    expect(JSON.stringify(audit)).not.toContain(linkToken)
  })

  it('the library: broker.connectUrl with the console URL, and a clear error without one', async () => {
    const { broker } = f.console
    await expect(broker.connectUrl('Crm', { user: 'carol' })).rejects.toMatchObject({
      code: 'CONSOLE_URL_MISSING',
    })
    await expect(
      broker.connectUrl('Crm', { user: 'carol', consoleUrl: 'https://x.example/path' }),
    ).rejects.toMatchObject({ code: 'CONSOLE_URL_MISSING' })
    const url = await broker.connectUrl('Crm', { user: 'carol', consoleUrl: origin })
    expect(url.startsWith(`${origin}/connect/cl_`)).toBe(true)
    expect(CONNECT_LINK_DEFAULTS.expiresInSeconds).toBe(900)
    const page = await new Browser(origin).get(pathOf(url))
    expect(page.status).toBe(200)
    expect(page.body).toContain('carol')
  })

  it('the console form: admin only, CSRF-checked, shown once on a per-user credential only', async () => {
    const admin = new Browser(origin)
    await admin.login()
    const detail = await admin.get('/named-credentials/Crm')
    expect(detail.body).toContain('Create connect link')
    expect((await admin.get('/named-credentials/Shared')).body).not.toContain('Create connect link')
    const before = linkRows().length
    const forged = await admin.post('/named-credentials/Crm/connect-link', { user: 'dave' })
    expect(forged.status).toBe(403)
    const anonymous = new Browser(origin)
    const noLogin = await anonymous.post('/named-credentials/Crm/connect-link', {
      _csrf: csrfOf(detail.body),
      user: 'dave',
    })
    expect(noLogin.status).not.toBe(200)
    expect(linkRows()).toHaveLength(before)
    const created = await admin.post('/named-credentials/Crm/connect-link', {
      _csrf: csrfOf(detail.body),
      user: 'dave',
      expiresIn: '1h',
    })
    expect(created.status).toBe(200)
    const url = /id="connect-url" readonly value="([^"]+)"/.exec(created.body)?.[1]
    expect(url).toMatch(new RegExp(`^${origin}/connect/cl_`))
    expect(linkRows()).toHaveLength(before + 1)
    const bad = await admin.post('/named-credentials/Crm/connect-link', {
      _csrf: csrfOf(detail.body),
      user: '',
    })
    expect(bad.status).toBe(400)
    expect(bad.body).toContain('USER_REQUIRED')
    expect(bad.body).toContain('href="/named-credentials/Crm"')
    expect(linkRows()).toHaveLength(before + 1)
  })
  it('callout connect-link prints a link that opens; its refusals name the CLI flags', async () => {
    const env = { ...f.rig.env, CALLOUT_CONSOLE_URL: undefined }
    const run = await runCli(
      ['connect-link', 'Crm', '--user', 'ivy', '--expires', '2h', '--console-url', origin],
      env,
    )
    expect(run.code).toBe(0)
    const url = run.stdout.trim()
    expect(url).toMatch(new RegExp(`^${origin}/connect/cl_[A-Za-z0-9_-]{43}$`))
    expect(run.stderr).toContain('Send this link to ivy only')
    expect((await new Browser(origin).get(pathOf(url))).body).toContain('ivy')
    const before = linkRows().length
    const missing = await runCli(['connect-link', 'Crm', '--user', 'ivy'], env)
    expect(missing.stderr).toMatch(/^error CONSOLE_URL_MISSING: .*--console-url/m)
    const badExpiry = await runCli(
      ['connect-link', 'Crm', '--user', 'ivy', '--expires', '2x', '--console-url', origin],
      env,
    )
    expect(badExpiry.stderr).toMatch(/^error INVALID_ARGUMENT: --expires "2x"/m)
    const named = await runCli(
      ['connect-link', 'Shared', '--user', 'ivy', '--console-url', origin],
      env,
    )
    expect(named.stderr).toMatch(/^error INVALID_ARGUMENT: .*per-user/m)
    for (const r of [missing, badExpiry, named]) expect(r.code).toBe(1)
    expect(linkRows()).toHaveLength(before)
  })
})

describe('opening connect links', () => {
  it('unknown and malformed links: 404 with advice', async () => {
    const browser = new Browser(origin)
    for (const path of [`/connect/cl_${'A'.repeat(43)}`, '/connect/nope']) {
      const page = await browser.get(path)
      expect(page.status).toBe(404)
      expect(page.body).toContain('CONNECT_LINK_NOT_FOUND')
      expect(page.body).toContain('Ask the administrator')
    }
  })

  it('works once: the second opening is 410 and changes nothing', async () => {
    const { json } = await mint('Crm', { user: 'erin' })
    const path = pathOf(json.url)
    const browser = new Browser(origin)
    const landing = await browser.get(path)
    expect(landing.status).toBe(200)
    expect((await browser.get(path)).status).toBe(200) // looking does not use it up
    const opened = await browser.post(path, { _csrf: csrfOf(landing.body) })
    expect(opened.status).toBe(303)
    expect(opened.location?.startsWith(f.org.loginUrl)).toBe(true)
    expect([...browser.cookies.keys()].sort()).toEqual(
      ['callout_connect', 'callout_csrf', 'callout_oauth_state'].sort(),
    )
    const again = new Browser(origin)
    const second = await again.get(path)
    expect(second.status).toBe(410)
    expect(second.body).toContain('CONNECT_LINK_USED')
    const repost = await again.post(path, { _csrf: csrfOf((await again.get('/login')).body) })
    expect(repost.status).toBe(410)
    expect(again.cookies.has('callout_connect')).toBe(false)
  })

  it('expires: 410 after its lifetime, and it stays unused', async () => {
    const { json } = await mint('Crm', { user: 'frank', expiresIn: 60 })
    const path = pathOf(json.url)
    const browser = new Browser(origin)
    const landing = await browser.get(path)
    f.advance(61_000)
    const late = await browser.get(path)
    expect(late.status).toBe(410)
    expect(late.body).toContain('CONNECT_LINK_EXPIRED')
    const post = await browser.post(path, { _csrf: csrfOf(landing.body) })
    expect(post.status).toBe(410)
    expect(linkRows().find((r) => r.user_id === 'frank')?.used_at).toBeNull()
  })

  it("completes for the link's user in the browser that opened it; a forwarded authorize URL fails", async () => {
    const { json } = await mint('Crm', { user: 'alice' })
    const browser = new Browser(origin)
    const landing = await browser.get(pathOf(json.url))
    const opened = await browser.post(pathOf(json.url), { _csrf: csrfOf(landing.body) })
    // Someone else finishes the authorize URL in their own browser: refused, nothing stored.
    const foreign = await salesforceAuthorize(opened.location!, f.org.user(BOB.username))
    const other = new Browser(origin)
    const refused = await other.get(pathOf(foreign))
    expect(refused.status).toBe(400)
    expect(refused.body).toContain('AUTHORIZATION_FAILED')
    expect(refused.body).toContain('open it in this browser')
    expect(await credentialOf('alice')).toBeUndefined()
    // The opener finishes: Connected as the Salesforce user who logged in.
    const callback = await salesforceAuthorize(opened.location!, f.org.user(ALICE.username))
    const done = await browser.get(pathOf(callback))
    expect(done.status).toBe(200)
    expect(done.body).toContain(`Connected as <strong id="connected-as">${ALICE.username}</strong>`)
    expect(browser.cookies.has('callout_connect')).toBe(false)
    expect((await credentialOf('alice'))?.identity?.username).toBe(ALICE.username)
    const res = await f.console.broker.fetch('callout:Crm/services/oauth2/userinfo', {
      user: 'alice',
    })
    expect(((await res.json()) as Json).preferred_username).toBe(ALICE.username)
  })

  it("an admin's own flow in a browser that opened a connect link stays the admin's", async () => {
    const { json } = await mint('Crm', { user: 'gina' })
    const browser = new Browser(origin)
    const landing = await browser.get(pathOf(json.url))
    await browser.post(pathOf(json.url), { _csrf: csrfOf(landing.body) })
    expect(browser.cookies.has('callout_connect')).toBe(true)
    await browser.login()
    const started = await browser.submit(
      '/named-credentials/Shared',
      '/named-credentials/Shared/authenticate',
      {},
    )
    expect(started.status).toBe(303)
    const callback = await salesforceAuthorize(started.location!, f.org.user(ALICE.username))
    const done = await browser.get(pathOf(callback))
    expect(done.status).toBe(303)
    expect(done.location).toBe('/named-credentials/Shared?flash=authenticated')
    expect(await credentialOf('gina')).toBeUndefined()
  })

  it('the access log names /connect/[redacted], never the link', async () => {
    const { lines, logger } = memoryLogger()
    const server = buildServer({
      broker: f.console.broker,
      processMetrics: false,
      logger,
      keys: f.console.store.clientKeys,
      console: { admin: f.console.store.admin, publicUrl: origin },
    })
    try {
      await server.app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = server.app.server.address() as import('node:net').AddressInfo
      const { json } = await mint('Crm', { user: 'hana' })
      const res = await request(`http://127.0.0.1:${port}${pathOf(json.url)}`)
      await res.body.dump()
      expect(res.statusCode).toBe(200)
      const token = json.url.split('/').pop() as string
      expect(lines.some((l) => l.includes('/connect/[redacted]'))).toBe(true)
      expect(lines.join('\n')).not.toContain(token)
    } finally {
      await server.app.close()
    }
  })
})
