/**
 * The console's definition forms and what its pages tell the admin to do. Over real sockets with a
 * browser-like client: the Auth Provider form edits every field of the config file's
 * `authProviders` entry (an Auth Provider applied from a config file with every field set, opened
 * and saved unchanged, equals the config file's; the consumer secret and the client private key
 * are never shown and survive the edit); every form shows a literal `${` (`$${` in the config
 * file) as `${` and stores what is typed as typed, as the External Credential form does; the
 * doctor panel's advice names what the console offers (the Edit page for `enabled` and
 * `checkPath`), never the config file or an admin API call.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig, type Definitions } from '../../src/definitions/index.ts'
import { comparable } from '../../src/definitions/comparable.test-helper.ts'
import {
  Browser,
  csrfOf,
  formFields,
  type ConsoleInstance,
  type ConsoleRig,
  signedInConsole,
} from './console-helpers.ts'

const KEY_PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString()
/** A line of the key's base64 body, and the consumer secret: never on a page. */
const KEY_CANARY = KEY_PEM.split('\n')[2]!
const SECRET_CANARY = 'ap-secret-canary-3b9e71'
const ENV = { SF_SECRET: SECRET_CANARY, SF_KEY: KEY_PEM, OIDC_SECRET: `${SECRET_CANARY}-oidc` }

/** Every field of an Auth Provider, each away from its default (as a config file writes it). */
const CONFIG = {
  authProviders: {
    SfEvery: {
      type: 'salesforce',
      // `$${` is the config file's literal `${`.
      consumerKey: 'ck-$${not-a-reference}-7',
      consumerSecret: '${env:SF_SECRET}',
      clientPrivateKey: '${env:SF_KEY}',
      loginUrl: 'https://acme.my.salesforce.com',
      authorizeUrl: 'https://sso.acme.example.com/authorize',
      tokenUrl: 'https://sso.acme.example.com/token',
      userInfoUrl: 'https://sso.acme.example.com/userinfo',
      revokeUrl: 'https://sso.acme.example.com/revoke',
      introspectUrl: 'http://introspect.acme.example.com/introspect',
      defaultScopes: 'api refresh_token web',
      usePkce: false,
      clientAuth: 'client_secret_basic',
      allowInsecureHttp: true,
      trustedInstanceHosts: ['*.acme.example.com', 'eu1.acme.example.org'],
    },
    OidcEvery: {
      type: 'oidc',
      consumerKey: 'oidc-client',
      consumerSecret: '${env:OIDC_SECRET}',
      issuer: 'https://idp.example.com/tenant-1',
      revokeUrl: 'https://idp.example.com/tenant-1/revoke',
      defaultScopes: 'openid offline_access cost$${5}',
      clientAuth: 'client_secret_post',
    },
  },
  externalCredentials: {
    Plain: { protocol: 'none', principals: { Anyone: { type: 'named' } } },
  },
  namedCredentials: {
    Paused: { url: 'https://api.example.com', externalCredential: 'Plain', enabled: false },
    NoPath: { url: 'https://api.example.com', externalCredential: 'Plain' },
  },
}

let rig: ConsoleRig
let c: ConsoleInstance
let browser: Browser

beforeAll(async () => {
  ;({ rig, c, browser } = await signedInConsole())
  await c.broker.apply(parseConfig(CONFIG, { env: ENV, onWarning: () => undefined }))
})
afterAll(async () => {
  await rig?.close()
})

/** One Auth Provider of `defs` as plain data, secrets revealed. */
function provider(defs: Definitions, name: string): unknown {
  return comparable({
    authProviders: new Map([[name, defs.authProviders.get(name)!]]),
    externalCredentials: new Map(),
    namedCredentials: new Map(),
  })
}

describe('the Auth Provider form', () => {
  it('shows every stored field of a provider the config file made, never a secret', async () => {
    const page = await browser.get('/auth-providers/SfEvery')
    expect(page.status).toBe(200)
    const sf = CONFIG.authProviders.SfEvery
    expect(formFields(page.body)).toEqual({
      _csrf: expect.any(String),
      // Every URL as the config file gives it.
      ...Object.fromEntries(Object.entries(sf).filter(([key]) => key.endsWith('Url'))),
      type: 'salesforce',
      // The config file's $${ is a literal ${: the form shows the text itself.
      consumerKey: 'ck-${not-a-reference}-7',
      consumerSecret: '',
      clientPrivateKey: '',
      clientAuth: sf.clientAuth,
      usePkce: 'false',
      issuer: '',
      defaultScopes: sf.defaultScopes,
      trustedInstanceHosts: sf.trustedInstanceHosts.join('\n'),
      allowInsecureHttp: 'on',
    })
    expect(page.body).toContain('A secret is stored and never shown')
    expect(page.body).toContain('A key is stored and never shown')
    expect(page.body).not.toContain(SECRET_CANARY)
    expect(page.body).not.toContain(KEY_CANARY)
  })

  it('saved unchanged, stores what the config file gives (every field, both secrets)', async () => {
    const fromFile = parseConfig(CONFIG, { env: ENV, onWarning: () => undefined })
    for (const name of ['SfEvery', 'OidcEvery']) {
      const page = await browser.get(`/auth-providers/${name}`)
      const res = await browser.post(`/auth-providers/${name}`, formFields(page.body))
      expect(res.status, res.body.slice(0, 3000)).toBe(303)
      expect(provider(c.broker.definitions, name)).toEqual(provider(fromFile, name))
    }
    expect(c.broker.definitions.authProviders.get('OidcEvery')?.defaultScopes).toBe(
      'openid offline_access cost${5}',
    )
  })

  it('stores a typed ${ as typed (never a reference), and shows it back unchanged', async () => {
    const typed = 'client-${env:SF_SECRET}'
    const res = await browser.submit('/auth-providers/new', '/auth-providers', {
      name: 'Typed',
      type: 'oauth2',
      consumerKey: typed,
      consumerSecret: 'typed-secret',
      tokenUrl: 'https://idp.example.com/token',
      usePkce: 'true',
    })
    expect(res.status, res.body.slice(0, 3000)).toBe(303)
    expect(c.broker.definitions.authProviders.get('Typed')?.consumerKey).toBe(typed)
    const page = await browser.get('/auth-providers/Typed')
    expect(formFields(page.body).consumerKey).toBe(typed)
    const again = await browser.post('/auth-providers/Typed', formFields(page.body))
    expect(again.status, again.body.slice(0, 3000)).toBe(303)
    expect(c.broker.definitions.authProviders.get('Typed')?.consumerKey).toBe(typed)
  })

  it('removes a stored secret only when its box is ticked', async () => {
    const page = await browser.get('/auth-providers/Typed')
    const fields = { ...formFields(page.body), clientAuth: 'none' }
    expect((await browser.post('/auth-providers/Typed', fields)).status).toBe(303)
    expect(c.broker.definitions.authProviders.get('Typed')?.consumerSecret?.reveal()).toBe(
      'typed-secret',
    )
    const removed = { ...fields, removeConsumerSecret: 'on' }
    expect((await browser.post('/auth-providers/Typed', removed)).status).toBe(303)
    expect(c.broker.definitions.authProviders.get('Typed')?.consumerSecret).toBeUndefined()
    expect(c.broker.definitions.authProviders.get('Typed')?.clientAuth).toBe('none')
  })
})

describe('the Named Credential forms', () => {
  it('store a typed ${ as typed (never a reference), as the other forms do', async () => {
    const label = 'Costs ${5} a call'
    const forms = [
      ['/named-credentials/new-full', 'Full', { externalCredential: 'Plain' }],
      ['/named-credentials/new', 'Classic', { identityType: 'anonymous', protocol: 'none' }],
    ] as const
    for (const [path, name, rest] of forms) {
      const res = await browser.submit(path, path.replace(/\/new$/, ''), {
        label,
        name,
        url: 'https://api.example.com',
        ...rest,
      })
      expect(res.status, res.body.slice(0, 3000)).toBe(303)
      expect(c.broker.definitions.namedCredentials.get(name)?.label).toBe(label)
      expect((await browser.get(`/named-credentials/${name}`)).body).toContain(`<h1>${label}</h1>`)
    }
  })
})

describe('the doctor panel', () => {
  it('names the Edit page for enabled and checkPath, never the config file or the admin API', async () => {
    const page = await browser.get('/named-credentials/Paused')
    expect(page.status).toBe(200)
    expect(page.body).toContain(
      'tick Enabled on this Named Credential\u2019s Edit page (Edit on this page), if it should be used',
    )
    const online = await browser.post('/named-credentials/NoPath/doctor', {
      _csrf: csrfOf(page.body),
    })
    expect(online.status).toBe(200)
    expect(online.body).toContain('the Named Credential has no checkPath')
    expect(online.body).toContain(
      'set Check path (a path that needs the credential, e.g. /me) on this Named Credential\u2019s Edit page (Edit on this page), to have Run online checks call it',
    )
    for (const body of [page.body, online.body]) {
      expect(body).not.toContain('/admin/api')
      expect(body).not.toContain('callout apply -f &lt;file&gt;')
      expect(body).toContain(
        'href="/named-credentials/' +
          (body === page.body ? 'Paused' : 'NoPath') +
          '/edit">Edit</a>',
      )
    }
  })
})
