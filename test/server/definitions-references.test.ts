/**
 * Values changed through the console's forms and the admin API are never resolved as references:
 * a `${env:…}` or `${file:…}` reference in an admin API body is refused (`CONFIG_INVALID`,
 * nothing stored), and one typed into a console form is stored as the text typed, so an admin can
 * neither read a file of the server nor copy a write-only secret into a field the pages and
 * answers show. `$${` stays a literal `${`, as in the config file.
 */
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportSecrets } from '../../src/definitions/index.ts'
import {
  Browser,
  TEST_SCRYPT_COST,
  adminToken,
  consoleRig,
  type ConsoleInstance,
  type ConsoleRig,
} from './console-helpers.ts'

const CANARY = 'canary-consumer-secret-51d0'
const PROVIDER = {
  type: 'oauth2',
  consumerKey: 'client-1',
  authorizeUrl: 'https://idp.example.com/authorize',
  tokenUrl: 'https://idp.example.com/token',
}

let rig: ConsoleRig
let c: ConsoleInstance
let browser: Browser
let token: string
/** The name under which the stored consumer secret is passed to the validation. */
let secretEnv: string

beforeAll(async () => {
  rig = await consoleRig({ scryptCost: TEST_SCRYPT_COST })
  c = await rig.start({ loginRateLimit: { max: 1_000, timeWindowMs: 60_000 } })
  browser = new Browser(c.origin)
  await browser.login()
  token = await adminToken(c.store)
  const created = await browser.submit('/auth-providers/new', '/auth-providers', {
    name: 'Idp',
    ...PROVIDER,
    consumerSecret: CANARY,
  })
  expect(created.status).toBe(303)
  secretEnv = exportSecrets(c.broker.definitions)[0]!.env!
})
afterAll(async () => rig?.close())

async function api(method: string, path: string, body: unknown) {
  const res = await request(`${c.origin}${path}`, {
    method: method as 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await res.body.text()
  return { status: res.statusCode, text, json: JSON.parse(text) as Record<string, unknown> }
}

const stored = () => {
  const p = c.broker.definitions.authProviders.get('Idp')!
  return { consumerKey: p.consumerKey, consumerSecret: p.consumerSecret?.reveal() }
}

describe('references in values given to the console and the admin API', () => {
  it('stores a reference to a stored secret typed in a form as text, never the secret, and shows no secret', async () => {
    expect(secretEnv).toMatch(/^[A-Z_]+$/)
    const typed = `\${env:${secretEnv}}`
    const res = await browser.submit('/auth-providers/Idp', '/auth-providers/Idp', {
      ...PROVIDER,
      consumerKey: typed,
      consumerSecret: '',
    })
    expect(res.status, res.body.slice(0, 3000)).toBe(303)
    expect(stored()).toEqual({ consumerKey: typed, consumerSecret: CANARY })
    const page = await browser.get('/auth-providers/Idp')
    expect(page.body).toContain(`value="${typed}"`)
    expect(page.body).not.toContain(CANARY)
    const restored = await browser.submit('/auth-providers/Idp', '/auth-providers/Idp', {
      ...PROVIDER,
      consumerSecret: '',
    })
    expect(restored.status).toBe(303)
  })

  it('refuses a file reference in a secret field over the admin API, without echoing it', async () => {
    const before = stored()
    const res = await api('PUT', '/admin/api/authProviders/Idp', {
      ...PROVIDER,
      consumerSecret: '${file:/etc/hostname}',
    })
    expect(res.status).toBe(400)
    expect((res.json.error as { code?: string }).code).toBe('CONFIG_INVALID')
    expect(res.text).toContain('authProviders.Idp.consumerSecret')
    expect(res.text).not.toContain('/etc/hostname')
    expect(stored()).toEqual(before)
  })

  it('keeps $${ a literal ${', async () => {
    const res = await api('PUT', '/admin/api/authProviders/Idp', {
      ...PROVIDER,
      consumerKey: 'client-$${1}',
    })
    expect(res.status, res.text).toBe(200)
    expect(stored()).toEqual({ consumerKey: 'client-${1}', consumerSecret: CANARY })
  })
})
