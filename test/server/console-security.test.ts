/**
 * The console's security foundation over real sockets: admin login with scrypt hashes, sessions
 * in the database shared by two instances, cookie attributes, CSRF on every form post, security
 * headers, login rate limiting and lockout, and audit entries without secrets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import {
  ADMIN,
  Browser,
  PASSWORD,
  consoleRig,
  csrfOf,
  type ConsoleInstance,
  type ConsoleRig,
} from './console-helpers.ts'

let rig: ConsoleRig
let a: ConsoleInstance
let b: ConsoleInstance

beforeAll(async () => {
  rig = await consoleRig()
  // Every test logs in from 127.0.0.1: the address limit has its own test below.
  const many = { loginRateLimit: { max: 1_000, timeWindowMs: 60_000 } }
  a = await rig.start({ lockout: { maxFailures: 3, lockMs: 60_000 }, ...many })
  b = await rig.start(many)
})
afterAll(async () => rig?.close())

describe('login and sessions', () => {
  it('redirects to the login page, logs in, and serves the console with the session', async () => {
    const browser = new Browser(a.origin)
    const first = await browser.get('/')
    expect(first.status).toBe(303)
    expect(first.location).toBe('/login?next=%2F')
    const login = await browser.get('/login?next=%2Faudit')
    expect(login.status).toBe(200)
    expect(login.body).toContain('name="next" value="/audit"')
    const res = await browser.post('/login', {
      _csrf: csrfOf(login.body),
      username: ADMIN,
      password: PASSWORD,
      next: '/audit',
    })
    expect(res.status).toBe(303)
    expect(res.location).toBe('/audit')
    const home = await browser.get('/')
    expect(home.status).toBe(200)
    expect(home.body).toContain(`Signed in as <strong>${ADMIN}</strong>`)
  })

  it('sets the session cookie HttpOnly and SameSite=Lax, without Secure on plain loopback http', async () => {
    const browser = new Browser(a.origin)
    await browser.login()
    const session = browser.setCookies.find((c) => c.startsWith('callout_session='))
    expect(session).toMatch(/HttpOnly/i)
    expect(session).toMatch(/SameSite=Lax/i)
    expect(session).not.toMatch(/Secure/i)
    expect(session).toMatch(/Path=\//)
  })

  it('marks every cookie Secure and __Host- when the public URL is https', async () => {
    const c = await rig.start({ publicUrl: 'https://callout.example.com' })
    const browser = new Browser(c.origin)
    const login = await browser.get('/login')
    await browser.post('/login', { _csrf: csrfOf(login.body), username: ADMIN, password: PASSWORD })
    expect(browser.setCookies.length).toBeGreaterThanOrEqual(2)
    for (const line of browser.setCookies) {
      expect(line).toMatch(/^__Host-/)
      expect(line).toMatch(/; Secure/i)
      expect(line).toMatch(/HttpOnly/i)
    }
    const page = await browser.get('/login')
    expect(page.headers['strict-transport-security']).toMatch(/max-age=31536000/)
  })

  it('shares sessions between two instances on one store, and logout ends them everywhere', async () => {
    const browser = new Browser(a.origin)
    await browser.login()
    browser.origin = b.origin
    const onB = await browser.get('/')
    expect(onB.status).toBe(200)
    expect(onB.body).toContain('Signed in as')
    const out = await browser.submit('/', '/logout', {})
    expect(out.status).toBe(303)
    expect(out.location).toBe('/login')
    // The cookie the browser had is worthless now, on either instance.
    const stolen = new Browser(a.origin)
    const sessionCookie = [...browser.setCookies]
      .reverse()
      .find((c) => /^callout_session=[^;]+/.test(c) && !/=;/.test(c))!
    const value = /^callout_session=([^;]+)/.exec(sessionCookie)![1]!
    stolen.cookies.set('callout_session', value)
    expect((await stolen.get('/')).status).toBe(303)
  })

  it('stores only the hash of the session cookie and an scrypt hash of the password', async () => {
    const browser = new Browser(a.origin)
    await browser.login()
    const cookie = browser.cookies.get('callout_session')!
    expect(cookie).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const user = await a.store.admin.getAdminUser(ADMIN)
    expect(user?.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/)
    expect(user?.passwordHash).not.toContain(PASSWORD)
    const { hashClientKey } = await import('../../src/server/client-key.ts')
    expect(await a.store.admin.getSession(cookie, Date.now())).toBeUndefined()
    expect(await a.store.admin.getSession(hashClientKey(cookie), Date.now())).toMatchObject({
      username: ADMIN,
    })
  })

  it('refuses a forged or malformed session cookie', async () => {
    for (const value of ['x'.repeat(43), 'short', "'; drop table admin_sessions; --", '%00']) {
      const browser = new Browser(a.origin)
      browser.cookies.set('callout_session', value)
      expect((await browser.get('/')).status).toBe(303)
    }
  })

  it('returns to same-origin paths only after login', async () => {
    for (const next of [
      '//evil.example/',
      '/\\evil.example',
      'https://evil.example/',
      '/%0d%0aSet-Cookie:x=1',
    ]) {
      const browser = new Browser(a.origin)
      const login = await browser.get('/login')
      const res = await browser.post('/login', {
        _csrf: csrfOf(login.body),
        username: ADMIN,
        password: PASSWORD,
        next,
      })
      expect(res.status).toBe(303)
      expect(res.location === '/' || res.location === next).toBe(true)
      expect(res.location).not.toMatch(/^\/\/|^\/\\|^https?:/)
    }
  })
})

describe('CSRF', () => {
  it('refuses a login post without a CSRF token (403 CSRF_INVALID) and stores no session', async () => {
    const browser = new Browser(a.origin)
    await browser.get('/login')
    const res = await browser.post('/login', { username: ADMIN, password: PASSWORD })
    expect(res.status).toBe(403)
    expect(res.body).toContain('CSRF_INVALID')
    expect(browser.cookies.has('callout_session')).toBe(false)
  })

  it('refuses a signed-in post whose token belongs to another browser', async () => {
    const victim = new Browser(a.origin)
    await victim.login()
    const attacker = new Browser(a.origin)
    const attackerToken = csrfOf((await attacker.get('/login')).body)
    const res = await victim.post('/logout', { _csrf: attackerToken })
    expect(res.status).toBe(403)
    expect(res.body).toContain('CSRF_INVALID')
    // Still signed in: the forged logout changed nothing.
    expect((await victim.get('/')).status).toBe(200)
  })

  it('refuses a signed-in post without a CSRF cookie', async () => {
    const browser = new Browser(a.origin)
    await browser.login()
    const token = csrfOf((await browser.get('/')).body)
    browser.cookies.delete('callout_csrf')
    const res = await browser.post('/logout', { _csrf: token })
    expect(res.status).toBe(403)
  })
})

describe('headers', () => {
  it('sends a CSP without inline scripts, frame-ancestors none, nosniff and no-store', async () => {
    const res = await request(`${a.origin}/login`)
    await res.body.text()
    const csp = String(res.headers['content-security-policy'])
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).toContain("default-src 'none'")
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN')
    expect(res.headers['cache-control']).toBe('no-store')
  })

  it('keeps the proxy routes free of console headers', async () => {
    const res = await request(`${a.origin}/healthz`)
    await res.body.text()
    expect(res.headers['content-security-policy']).toBeUndefined()
  })

  it('serves pages without inline scripts or styles', async () => {
    const browser = new Browser(a.origin)
    await browser.login()
    for (const path of ['/login', '/', '/audit']) {
      const { body } = await browser.get(path)
      expect(body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
      expect(body).not.toMatch(/\sstyle=|<style/)
      expect(body).not.toMatch(/\son[a-z]+=/)
    }
  })
})

describe('lockout and rate limiting', () => {
  it('locks the account after 3 failures in a row, even for the right password, on every instance', async () => {
    const { AdminAuth } = await import('../../src/server/admin/admin-auth.ts')
    await new AdminAuth({ store: a.store.admin, clock: { now: () => Date.now() } }).createAdmin(
      'bob',
      'bob has a long password',
      'cli',
    )
    const browser = new Browser(a.origin)
    for (let i = 0; i < 2; i++) {
      const res = await browser.submit('/login', '/login', {
        username: 'bob',
        password: 'wrong password!!',
      })
      expect(res.status).toBe(401)
      expect(res.body).toContain('Wrong username or password')
    }
    const third = await browser.submit('/login', '/login', {
      username: 'bob',
      password: 'wrong password!!',
    })
    expect(third.status).toBe(429)
    expect(third.body).toContain('locked until')
    const right = await browser.submit('/login', '/login', {
      username: 'bob',
      password: 'bob has a long password',
    })
    expect(right.status).toBe(429)
    expect(browser.cookies.has('callout_session')).toBe(false)
    browser.origin = b.origin
    const onB = await browser.submit('/login', '/login', {
      username: 'bob',
      password: 'bob has a long password',
    })
    expect(onB.status).toBe(429)
  })

  it('answers an unknown username like a wrong password', async () => {
    const browser = new Browser(a.origin)
    const res = await browser.submit('/login', '/login', {
      username: 'nobody',
      password: 'whatever it is',
    })
    expect(res.status).toBe(401)
    expect(res.body).toContain('Wrong username or password')
  })

  it('rate-limits login attempts per client address (429 RATE_LIMITED)', async () => {
    const c = await rig.start({ loginRateLimit: { max: 3, timeWindowMs: 60_000 } })
    const browser = new Browser(c.origin)
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const res = await browser.submit('/login', '/login', {
        username: 'nobody',
        password: 'x'.repeat(12),
      })
      statuses.push(res.status)
      if (i === 3) {
        expect(res.body).toContain('RATE_LIMITED')
        expect(res.headers['retry-after']).toBeDefined()
      }
    }
    expect(statuses).toEqual([401, 401, 401, 429])
  })
})

describe('audit', () => {
  it('records logins, failures and logouts with who and when, never a password or cookie', async () => {
    const browser = new Browser(a.origin)
    await browser.submit('/login', '/login', { username: ADMIN, password: 'not the password' })
    await browser.login()
    await browser.submit('/', '/logout', {})
    const entries = await a.store.admin.listAudit({ limit: 1000 })
    const actions = entries.map((e) => e.action)
    expect(actions).toContain('admin.create')
    expect(actions).toContain('admin.login')
    expect(actions).toContain('admin.login-failed')
    expect(actions).toContain('admin.logout')
    const dump = JSON.stringify(entries)
    expect(dump).not.toContain(PASSWORD)
    expect(dump).not.toContain('not the password')
    expect(dump).not.toContain('bob has a long password')
    for (const value of browser.setCookies.map((c) => /^[^=]+=([^;]*)/.exec(c)![1]!)) {
      if (value.length > 10) expect(dump).not.toContain(value)
    }
    const login = entries.find((e) => e.action === 'admin.login')!
    expect(login.actor).toBe(`admin:${ADMIN}`)
    expect(login.remote).toBe('127.0.0.1')
    expect(Math.abs(login.at - Date.now())).toBeLessThan(60_000)
  })

  it('shows the audit log to a signed-in admin, escaped', async () => {
    const browser = new Browser(a.origin)
    await browser.submit('/login', '/login', {
      username: '<script>x</script>',
      password: 'whatever it is',
    })
    await browser.login()
    const page = await browser.get('/audit')
    expect(page.status).toBe(200)
    expect(page.body).toContain('admin.login-failed')
    expect(page.body).not.toContain('<script>x</script>')
  })
})
