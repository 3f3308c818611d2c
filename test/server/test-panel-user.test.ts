/**
 * The test panel's End user field on a per-user Named Credential, over real sockets against the
 * Salesforce emulator: each user's call carries that user's identity; no user is a field-level
 * message and nothing is sent; a user without a connection gets the console's advice (Create
 * connect link), never a CLI command or library call; markup in the field is inert; the record a
 * per-user call returned opens as the same user. A named principal's panel has no such field.
 */
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { salesforceAuthorize } from '../e2e/helpers/e2e.ts'
import { ALICE, BOB, connectFixture, type ConnectFixture } from './connect-fixture.ts'
import { Browser, adminToken, csrfOf } from './console-helpers.ts'

let f: ConnectFixture
let admin: Browser

/** Connects callout user `user` as the emulator's `username` through a connect link. */
async function connect(user: string, username: string, token: string): Promise<void> {
  const origin = f.console.origin
  const minted = await request(`${origin}/admin/api/namedCredentials/Crm/connectLinks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  })
  const url = new URL(((await minted.body.json()) as { url: string }).url)
  const browser = new Browser(origin)
  const landing = await browser.get(url.pathname)
  const opened = await browser.post(url.pathname, { _csrf: csrfOf(landing.body) })
  const callback = new URL(await salesforceAuthorize(opened.location!, f.org.user(username)))
  expect((await browser.get(`${callback.pathname}${callback.search}`)).status).toBe(200)
}

beforeAll(async () => {
  f = await connectFixture()
  const token = await adminToken(f.console.store)
  await connect('alice', ALICE.username, token)
  await connect('bob', BOB.username, token)
  admin = new Browser(f.console.origin)
  await admin.login()
})
afterAll(async () => f?.close())

async function testCall(
  name: string,
  form: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const page = await admin.get(`/named-credentials/${name}`)
  return admin.post(`/named-credentials/${name}/test`, {
    _csrf: csrfOf(page.body),
    method: 'GET',
    path: '/services/oauth2/userinfo',
    headers: '',
    body: '',
    ...form,
  })
}

/** The pretty-printed response body the panel shows, parsed. */
function shownBody(html: string): Record<string, unknown> {
  const body = /<pre tabindex="0" aria-label="Response body" id="test-body">([\s\S]*?)<\/pre>/.exec(
    html,
  )
  if (body === null) throw new Error('the page shows no response body')
  return JSON.parse(body[1]!.replaceAll('&quot;', '"').replaceAll('&amp;', '&')) as Record<
    string,
    unknown
  >
}

const userinfoCalls = () => f.emulator.requestLog.entries({ path: '/services/oauth2/userinfo' })

describe('the test panel on a per-user Named Credential', () => {
  it('offers an End user field only when the principal is per-user', async () => {
    const perUser = await admin.get('/named-credentials/Crm')
    expect(perUser.body).toContain('<label for="test-user">End user</label>')
    expect(perUser.body).toMatch(/<input type="text" id="test-user" name="user" value=""/)
    const named = await admin.get('/named-credentials/Shared')
    expect(named.body).not.toContain('id="test-user"')
  })

  it("sends each user's call with that user's connection", async () => {
    const a = await testCall('Crm', { user: 'alice' })
    expect(a.status).toBe(200)
    expect(a.body).toContain('<span id="test-status">200')
    expect(shownBody(a.body).preferred_username).toBe(ALICE.username)
    const b = await testCall('Crm', { user: ' bob ' })
    expect(shownBody(b.body).preferred_username).toBe(BOB.username)
    // The field keeps the user the call was made for.
    expect(b.body).toMatch(/id="test-user" name="user" value="bob"/)
  })

  it('without a user: a message at the field, and nothing is sent', async () => {
    const before = userinfoCalls().length
    const res = await testCall('Crm', { user: '  ' })
    expect(res.status).toBe(400)
    expect(res.body).toContain(
      '<p class="field-error" id="test-user-error">Enter the end user: this credential connects each user separately (per-user principal).</p>',
    )
    expect(res.body).toMatch(/id="test-user"[^>]*aria-invalid="true"/)
    expect(res.body).not.toContain('USER_REQUIRED')
    expect(res.body).not.toContain('id="test-status"')
    expect(userinfoCalls().length).toBe(before)
  })

  it('refuses a post without the CSRF token, and sends nothing', async () => {
    const before = userinfoCalls().length
    const forged = await admin.post('/named-credentials/Crm/test', {
      method: 'GET',
      path: '/services/oauth2/userinfo',
      user: 'alice',
    })
    expect(forged.status).toBe(403)
    expect(forged.body).not.toContain(ALICE.username)
    expect(userinfoCalls().length).toBe(before)
  })

  it("a user with no connection: the console's advice, never a CLI command or library call", async () => {
    const res = await testCall('Crm', { user: 'carol' })
    const alert = /<div class="alert error" role="alert">([^<]*)<\/div>/.exec(res.body)?.[1]
    expect(alert).toContain('NOT_AUTHENTICATED')
    expect(alert).toContain('carol')
    expect(alert).toContain('(Create connect link on this page)')
    expect(res.body).toContain('Create connect link</button>')
    expect(res.body).not.toContain('broker.authorizeUrl')
    expect(res.body).not.toContain('callout auth')
  })

  it('renders markup in the End user field inert', async () => {
    const evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    const res = await testCall('Crm', { user: evil })
    expect(res.body).not.toContain('<script>alert(1)')
    expect(res.body).not.toContain('<img src=x')
    expect(res.body).toContain(
      'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"',
    )
  })

  it('opens the record a per-user call created as the same user', async () => {
    const created = await testCall('Crm', {
      method: 'POST',
      path: '/services/data/v61.0/sobjects/Account',
      headers: 'Content-Type: application/json',
      body: JSON.stringify({ Name: 'Made By Bob' }),
      user: 'bob',
    })
    const form =
      /<form method="post" action="\/named-credentials\/Crm\/open" id="open-record">([\s\S]*?)<\/form>/.exec(
        created.body,
      )?.[1]
    expect(form).toBeDefined()
    const fields = Object.fromEntries(
      [...form!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [
        m[1]!,
        m[2]!,
      ]),
    )
    expect(fields.user).toBe('bob')
    const opened = await admin.post('/named-credentials/Crm/open', fields)
    expect(/role="alert">([^<]*)/.exec(opened.body)?.[1]).toBeUndefined()
    expect(opened.status).toBe(303)
    const door = await request(opened.location!)
    await door.body.dump()
    const cookie = String(door.headers['set-cookie']).split(';')[0]!
    const page = await request(new URL(String(door.headers.location), f.org.instanceUrl), {
      headers: { cookie },
    })
    expect(await page.body.text()).toContain('Made By Bob')
    // The UI session the link opened is Bob's.
    const home = await request(new URL('/lightning/page/home', f.org.instanceUrl), {
      headers: { cookie },
    })
    expect(await home.body.text()).toContain(`Logged in as ${BOB.username}`)
  })
})
