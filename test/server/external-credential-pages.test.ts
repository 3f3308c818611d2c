/**
 * The console's External Credential pages and the full Named Credential form, over real sockets
 * with a browser-like client: principals (named and per-user, sequence numbers, parameters,
 * write-only secrets) create the same records as the config file; bad input gets a message under
 * its field ("did you mean" included), injected markup is rendered inert, and nothing is stored
 * half-way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  Browser,
  csrfOf,
  type ConsoleInstance,
  type ConsoleRig,
  signedInConsole,
} from './console-helpers.ts'

const CANARY = 'pw-canary-5e1f0a7c'

let rig: ConsoleRig
let c: ConsoleInstance
let browser: Browser

beforeAll(async () => {
  ;({ rig, c, browser } = await signedInConsole())
  const provider = await browser.submit('/auth-providers/new', '/auth-providers', {
    name: 'Idp',
    type: 'oauth2',
    consumerKey: 'client',
    consumerSecret: 'client-secret',
    authorizeUrl: 'https://idp.example.com/authorize',
    tokenUrl: 'https://idp.example.com/token',
  })
  if (provider.status !== 303) throw new Error(provider.body.slice(0, 2000))
})
afterAll(async () => {
  await rig?.close()
})

/** Loads the form at `path` and posts `form` with its CSRF token to `action`. */
async function post(path: string, action: string, form: Record<string, string>) {
  return browser.submit(path, action, form)
}

/** A snapshot of every stored definition, for "nothing stored" checks. */
function snapshot(): string {
  const d = c.broker.definitions
  return JSON.stringify([
    [...d.authProviders.keys()],
    [...d.externalCredentials.values()].map((e) => [e.name, e.principals.map((p) => p.name)]),
    [...d.namedCredentials.keys()],
  ])
}

describe('External Credentials', () => {
  it('creates one with a named and a per-user principal, parameters and a write-only secret', async () => {
    const res = await post('/external-credentials/new', '/external-credentials', {
      name: 'Billing',
      protocol: 'custom',
      'p0.name': 'Service',
      'p0.type': 'named',
      'p0.sequence': '2',
      'p0.parameters': 'username=svc@billing.example\nregion=eu',
      'p0.secrets': `password=${CANARY}`,
      'p1.name': 'EndUser',
      'p1.type': 'per-user',
      'p1.sequence': '1',
      'p1.parameters': '',
      'p1.secrets': '',
      'p2.name': '',
      'p2.type': 'named',
    })
    expect(res.status).toBe(303)
    expect(res.location).toBe('/external-credentials/Billing?flash=saved')
    const ec = c.broker.definitions.externalCredentials.get('Billing')!
    expect(ec.protocol).toBe('custom')
    const byName = Object.fromEntries(ec.principals.map((p) => [p.name, p]))
    expect(byName.Service).toMatchObject({
      type: 'named',
      sequence: 2,
      parameters: { username: 'svc@billing.example', region: 'eu' },
    })
    expect(byName.Service?.secrets.password?.reveal()).toBe(CANARY)
    expect(byName.EndUser).toMatchObject({ type: 'per-user', sequence: 1 })

    const edit = await browser.get(res.location!)
    expect(edit.status).toBe(200)
    expect(edit.body).toContain('Saved.')
    expect(edit.body).toContain('Stored, never shown: password.')
    expect(edit.body).toContain('username=svc@billing.example')
    expect(edit.body).not.toContain(CANARY)
    expect((await browser.get('/external-credentials')).body).toMatch(
      /<td>(EndUser, Service|Service, EndUser)<\/td>/,
    )
    const audit = await c.store.admin.listAudit({ limit: 50 })
    expect(audit.find((e) => e.action === 'externalCredential.create')?.target).toBe(
      'ExternalCredential/Billing',
    )
    expect(JSON.stringify(audit)).not.toContain(CANARY)
  })

  it('keeps a stored secret the edit leaves empty, and replaces it when a new one is typed', async () => {
    const form = {
      protocol: 'custom',
      'p0.name': 'Service',
      'p0.type': 'named',
      'p0.sequence': '2',
      'p0.parameters': 'username=svc@billing.example',
      'p0.secrets': '',
    }
    const kept = await post('/external-credentials/Billing', '/external-credentials/Billing', form)
    expect(kept.status).toBe(303)
    const service = () =>
      c.broker.definitions.externalCredentials
        .get('Billing')!
        .principals.find((p) => p.name === 'Service')!
    expect(service().secrets.password?.reveal()).toBe(CANARY)
    expect(service().parameters).toEqual({ username: 'svc@billing.example' })
    // the per-user row was left out: that principal is gone
    expect(c.broker.definitions.externalCredentials.get('Billing')!.principals).toHaveLength(1)
    await post('/external-credentials/Billing', '/external-credentials/Billing', {
      ...form,
      'p0.secrets': 'password=new-password-2',
    })
    expect(service().secrets.password?.reveal()).toBe('new-password-2')
  })

  it.each([
    [
      'an unknown Auth Provider, with "did you mean"',
      { name: 'Orders', protocol: 'oauth2', flow: 'client-credentials', authProvider: 'Ipd' },
      'authProvider',
      /did you mean Idp/,
    ],
    ['a duplicate name', { name: 'Billing', protocol: 'basic' }, 'name', /already exists/],
    [
      'a duplicate principal name',
      { name: 'Orders', protocol: 'basic', 'p0.name': 'A', 'p1.name': 'A' },
      'p1-name',
      /given twice/,
    ],
    [
      'a parameter line without "="',
      { name: 'Orders', protocol: 'basic', 'p0.name': 'A', 'p0.parameters': 'just text' },
      'p0-parameters',
      /not a name=value line/,
    ],
    [
      'a principal name the config file refuses',
      { name: 'Orders', protocol: 'basic', 'p0.name': '9lives' },
      'p0-name',
      /./,
    ],
    ['an invalid External Credential name', { name: 'no spaces', protocol: 'basic' }, 'name', /./],
  ])('refuses %s under its field and stores nothing', async (_what, form, id, message) => {
    const before = snapshot()
    const res = await post('/external-credentials/new', '/external-credentials', form)
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.body).toContain('Nothing was saved')
    const error = new RegExp(`id="${id}-error">([^<]*)<`).exec(res.body)
    expect(error?.[1], res.body.slice(0, 3000)).toMatch(message)
    expect(res.body).toContain(`aria-describedby="${id}-error"`)
    expect(snapshot()).toBe(before)
  })

  it('renders injected markup inert', async () => {
    const res = await post('/external-credentials/new', '/external-credentials', {
      name: 'Markup',
      protocol: 'custom',
      'p0.name': 'A',
      'p0.parameters': 'note=<script>alert(1)</script>',
    })
    expect(res.status).toBe(303)
    const page = await browser.get('/external-credentials/Markup')
    expect(page.body).not.toContain('<script>alert(1)</script>')
    expect(page.body).toContain('note=&lt;script&gt;alert(1)&lt;/script&gt;')
    const bad = await post('/external-credentials/new', '/external-credentials', {
      name: '<img src=x onerror=alert(1)>',
      protocol: 'basic',
    })
    expect(bad.status).toBe(400)
    expect(bad.body).not.toContain('<img src=x')
    expect(bad.body).toContain('&lt;img src=x onerror=alert(1)&gt;')
  })

  it('refuses a post without the CSRF token', async () => {
    const before = snapshot()
    const res = await browser.post('/external-credentials', { name: 'Forged', protocol: 'none' })
    expect(res.status).toBe(403)
    expect(res.body).toContain('CSRF_INVALID')
    expect(snapshot()).toBe(before)
  })
})

describe('the full Named Credential form', () => {
  it('creates a Named Credential on an existing External Credential', async () => {
    const res = await post('/named-credentials/new-full', '/named-credentials/new-full', {
      label: 'Billing API',
      name: 'BillingApi',
      url: 'https://billing.example.com/v2',
      externalCredential: 'Billing',
      generateAuthorizationHeader: 'on',
    })
    expect(res.status).toBe(303)
    expect(res.location).toBe('/named-credentials/BillingApi?flash=saved')
    const nc = c.broker.definitions.namedCredentials.get('BillingApi')!
    expect(nc).toMatchObject({
      label: 'Billing API',
      url: 'https://billing.example.com/v2',
      externalCredential: 'Billing',
    })
    expect((await browser.get('/named-credentials/new-full')).body).toContain(
      '<option value="Billing">Billing</option>',
    )
  })

  it.each([
    ['a bad URL', { name: 'Bad', url: 'not a url', externalCredential: 'Billing' }, 'url'],
    [
      'an unknown External Credential',
      { name: 'Bad', url: 'https://x.example.com', externalCredential: 'Biling' },
      'externalCredential',
    ],
    [
      'a duplicate name',
      { name: 'BillingApi', url: 'https://x.example.com', externalCredential: 'Billing' },
      'name',
    ],
  ])('refuses %s under its field and stores nothing', async (_what, form, id) => {
    const before = snapshot()
    const res = await post('/named-credentials/new-full', '/named-credentials/new-full', form)
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.body).toContain(`id="${id}-error"`)
    expect(snapshot()).toBe(before)
    if (id === 'externalCredential') expect(res.body).toContain('did you mean Billing')
  })

  it('refuses to delete an External Credential a Named Credential uses, and deletes it otherwise', async () => {
    const page = await browser.get('/external-credentials/Billing')
    const refused = await browser.post('/external-credentials/Billing/delete', {
      _csrf: csrfOf(page.body),
    })
    expect(refused.status).toBe(400)
    expect(c.broker.definitions.externalCredentials.has('Billing')).toBe(true)
    // The edit page's own Delete form: its action and its confirmation.
    const markup = await browser.get('/external-credentials/Markup')
    const form =
      /<form method="post" action="([^"]+)" data-confirm="Delete this External Credential\?">/.exec(
        markup.body,
      )
    expect(form?.[1]).toBe('/external-credentials/Markup/delete')
    const done = await browser.post(form![1]!, { _csrf: csrfOf(markup.body) })
    expect(done.location).toBe('/external-credentials?flash=deleted')
    expect(c.broker.definitions.externalCredentials.has('Markup')).toBe(false)
    expect((await browser.get(done.location!)).body).toContain('Deleted.')
  })
})
