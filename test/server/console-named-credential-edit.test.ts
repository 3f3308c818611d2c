/**
 * The console's Named Credential Edit page, over real sockets with a browser-like client: it
 * shows every field of the config file's `namedCredentials` entry (a Named Credential applied from
 * a config file with every field set, opened and saved unchanged, equals the config file's; the
 * client certificate's key and passphrase are never shown and survive the edit); a change stores
 * exactly that change, audited, and the detail page shows it; bad input gets the config file's
 * message next to its field and stores nothing; a typed `${` is stored as typed; every post needs
 * the form's CSRF token.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig, type Definitions } from '../../src/definitions/index.ts'
import { comparable } from '../../src/definitions/comparable.test-helper.ts'
import {
  Browser,
  formFields,
  unescape,
  type ConsoleInstance,
  type ConsoleRig,
  signedInConsole,
} from './console-helpers.ts'

/** A fresh P-256 private key, PEM. */
const ecKeyPem = (): string =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString()
const KEY_PEM = ecKeyPem()
const NEW_KEY_PEM = ecKeyPem()
/** A line of the key's base64 body, and the passphrase: never on a page. */
const KEY_CANARY = KEY_PEM.split('\n')[2]!
const PASS_CANARY = 'nc-passphrase-canary-5d1c08'
const ENV = { CLIENT_KEY: KEY_PEM, CLIENT_PASS: PASS_CANARY }
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBclientcertificatebody\n-----END CERTIFICATE-----'
const CA = '-----BEGIN CERTIFICATE-----\nMIIBcabundlebody\n-----END CERTIFICATE-----'

/** Every field of a Named Credential, each away from its default (as a config file writes it). */
const EVERY = {
  // `$${` is the config file's literal `${`.
  label: 'Every field $${kept}',
  url: 'http://api.example.com/v2',
  externalCredential: 'Other',
  generateAuthorizationHeader: false,
  allowMergeFieldsInHeader: true,
  allowMergeFieldsInBody: true,
  headers: [
    { name: 'X-Tenant', formula: "'acme'" },
    { name: 'X-Cost', formula: "'cost $${5}'", sequence: 7 },
  ],
  clientCertificate: {
    cert: CERT,
    key: '${env:CLIENT_KEY}',
    passphrase: '${env:CLIENT_PASS}',
    ca: CA,
  },
  timeoutMs: 30_000,
  deadlineMs: 90_000,
  redirects: 'manual',
  allowedHosts: ['files.example.com', 'cdn.example.com:8443'],
  allowRedirectsOutsideBasePath: true,
  enabled: false,
  allowInsecureHttp: true,
  checkPath: '/me',
}

const CONFIG = {
  externalCredentials: {
    Plain: { protocol: 'none', principals: { Anyone: { type: 'named' } } },
    Other: { protocol: 'none', principals: { Anyone: { type: 'named' } } },
  },
  namedCredentials: {
    Every: EVERY,
    Simple: { url: 'https://simple.example.com', externalCredential: 'Plain' },
    Typed: { url: 'https://typed.example.com', externalCredential: 'Plain' },
    Certified: {
      url: 'https://mtls.example.com',
      externalCredential: 'Plain',
      clientCertificate: { cert: CERT, key: '${env:CLIENT_KEY}', passphrase: '${env:CLIENT_PASS}' },
    },
  },
}

let rig: ConsoleRig
let c: ConsoleInstance
let browser: Browser

beforeAll(async () => {
  ;({ rig, c, browser } = await signedInConsole(
    parseConfig(CONFIG, { env: ENV, onWarning: () => undefined }),
  ))
})
afterAll(async () => rig?.close())

/** One Named Credential of `defs` as plain data, secrets revealed. */
function nc(defs: Definitions, name: string): Record<string, unknown> {
  return (
    comparable({
      authProviders: new Map(),
      externalCredentials: new Map(),
      namedCredentials: new Map([[name, defs.namedCredentials.get(name)!]]),
    }) as { namedCredentials: Record<string, Record<string, unknown>> }
  ).namedCredentials[name]!
}

const editOf = (name: string) => `/named-credentials/${name}/edit`

/** The edit page's own fields for `name`, with `changes` over them, posted. */
async function save(name: string, changes: Record<string, string | undefined> = {}) {
  const fields: Record<string, string> = formFields((await browser.get(editOf(name))).body)
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete fields[key]
    else fields[key] = value
  }
  return browser.post(editOf(name), fields)
}

describe('the Named Credential Edit page', () => {
  it('shows every stored field of a Named Credential the config file made, never a secret', async () => {
    const page = await browser.get(editOf('Every'))
    expect(page.status).toBe(200)
    expect(formFields(page.body)).toEqual({
      _csrf: expect.any(String),
      // The config file's $${ is a literal ${: the form shows the text itself.
      label: 'Every field ${kept}',
      url: EVERY.url,
      externalCredential: 'Other',
      allowMergeFieldsInHeader: 'on',
      allowMergeFieldsInBody: 'on',
      checkPath: '/me',
      timeoutMs: '30000',
      deadlineMs: '90000',
      redirects: 'manual',
      allowedHosts: 'files.example.com\ncdn.example.com:8443',
      allowRedirectsOutsideBasePath: 'on',
      allowInsecureHttp: 'on',
      'h0.name': 'X-Tenant',
      'h0.formula': "'acme'",
      'h0.sequence': '',
      'h1.name': 'X-Cost',
      'h1.formula': "'cost ${5}'",
      'h1.sequence': '7',
      'h2.name': '',
      'h2.formula': '',
      'h2.sequence': '',
      'h3.name': '',
      'h3.formula': '',
      'h3.sequence': '',
      certificate: CERT,
      certificateKey: '',
      certificatePassphrase: '',
      certificateCa: CA,
    })
    expect(page.body).toContain('Stored and never shown; leave empty to keep it.')
    expect(page.body).not.toContain(KEY_CANARY)
    expect(page.body).not.toContain(PASS_CANARY)
    expect(page.body).toContain('<a href="/named-credentials/Every">Cancel</a>')
    const detail = await browser.get('/named-credentials/Every')
    expect(detail.body).toContain('href="/named-credentials/Every/edit">Edit</a>')
  })

  it('saved unchanged, stores what the config file gives (every field, both secrets)', async () => {
    const fromFile = parseConfig(CONFIG, { env: ENV, onWarning: () => undefined })
    for (const name of ['Every', 'Simple', 'Certified']) {
      const res = await save(name)
      expect(res.status, res.body.slice(0, 3000)).toBe(303)
      expect(res.location).toBe(`/named-credentials/${name}?flash=saved`)
      expect(nc(c.broker.definitions, name)).toEqual(nc(fromFile, name))
    }
    const every = c.broker.definitions.namedCredentials.get('Every')!
    expect(every.label).toBe('Every field ${kept}')
    expect(every.clientCertificate?.key.reveal()).toBe(KEY_PEM)
    expect(every.clientCertificate?.passphrase?.reveal()).toBe(PASS_CANARY)
  })

  it('stores exactly the one field changed, audited, and the detail page shows it', async () => {
    const audited = async () =>
      (await c.store.admin.listAudit({ limit: 1000 })).filter(
        (e) => e.action === 'namedCredential.update' && e.target === 'NamedCredential/Simple',
      )
    const before = nc(c.broker.definitions, 'Simple')
    const entries = (await audited()).length
    const res = await save('Simple', { timeoutMs: '45000' })
    expect(res.status, res.body.slice(0, 3000)).toBe(303)
    expect(nc(c.broker.definitions, 'Simple')).toEqual({ ...before, timeoutMs: 45_000 })
    const shown = await browser.get(res.location!)
    expect(shown.body).toContain('Saved.')
    expect(shown.body).toContain('<dd id="nc-timeout">45000 ms</dd>')
    expect(shown.body).toContain('<dd id="nc-enabled">Yes</dd>')

    const off = await save('Simple', { enabled: undefined })
    expect(off.status, off.body.slice(0, 3000)).toBe(303)
    expect(nc(c.broker.definitions, 'Simple')).toEqual({
      ...before,
      timeoutMs: 45_000,
      enabled: false,
    })
    expect((await browser.get('/named-credentials/Simple')).body).toContain(
      '<dd id="nc-enabled">No</dd>',
    )
    const audit = await audited()
    expect(audit.length).toBe(entries + 2)
    expect(audit.every((e) => e.actor.includes('alice'))).toBe(true)
  })

  it('refuses bad input with the config file\u2019s message next to the field, storing nothing', async () => {
    const before = nc(c.broker.definitions, 'Simple')
    const cases: [Record<string, string>, string, string][] = [
      [{ url: 'not a url' }, 'url', 'write a plain absolute URL'],
      [{ externalCredential: 'Othr' }, 'externalCredential', 'did you mean Other'],
      [{ timeoutMs: '999999' }, 'timeoutMs', 'must be at most 120000 ms (2 minutes)'],
      [{ timeoutMs: '0' }, 'timeoutMs', 'must be at least 1 ms'],
      [{ timeoutMs: 'soon' }, 'timeoutMs', 'A whole number of milliseconds'],
      [{ checkPath: 'me' }, 'checkPath', 'is not a path'],
      [
        { 'h0.name': 'X-Evil', 'h0.formula': "'a'\r\nSet-Cookie: x=1" },
        'h0-formula',
        'contains CR, LF or NUL',
      ],
      [{ 'h0.name': 'Bad Name', 'h0.formula': "'a'" }, 'h0-name', 'header name'],
      [{ certificate: 'not pem', certificateKey: KEY_PEM }, 'certificate', 'is not PEM'],
    ]
    for (const [changes, fieldId, message] of cases) {
      const res = await save('Simple', changes)
      expect(res.status, JSON.stringify(changes)).toBe(400)
      const error = new RegExp(`<p class="field-error" id="${fieldId}-error">([^<]*)</p>`).exec(
        res.body,
      )
      expect(error, `${JSON.stringify(changes)}: ${res.body.slice(0, 3000)}`).not.toBeNull()
      expect(unescape(error![1]!)).toContain(message)
      expect(res.body).toContain('Nothing was saved')
      // What was typed is shown again (but the key, write-only, and a name the select lacks).
      const shown = formFields(res.body)
      for (const [key, value] of Object.entries(changes)) {
        if (key !== 'certificateKey' && key !== 'externalCredential') expect(shown[key]).toBe(value)
      }
      expect(nc(c.broker.definitions, 'Simple')).toEqual(before)
    }
  })

  it('stores a typed ${ as typed (never a reference), shows it back, and shows no secret', async () => {
    const reference = '${env:CLIENT_PASS}'
    const res = await save('Typed', {
      label: `Label ${reference}`,
      checkPath: `/me/${reference}`,
      'h0.name': 'X-Ref',
      'h0.formula': `'${reference}'`,
    })
    expect(res.status, res.body.slice(0, 3000)).toBe(303)
    const typed = c.broker.definitions.namedCredentials.get('Typed')!
    expect(typed.label).toBe(`Label ${reference}`)
    expect(typed.checkPath).toBe(`/me/${reference}`)
    expect(typed.headers.map((h) => h.formula)).toEqual([`'${reference}'`])
    const page = await browser.get(editOf('Typed'))
    const fields = formFields(page.body)
    expect(fields.label).toBe(`Label ${reference}`)
    expect(fields['h0.formula']).toBe(`'${reference}'`)
    const again = await browser.post(editOf('Typed'), fields)
    expect(again.status, again.body.slice(0, 3000)).toBe(303)
    expect(c.broker.definitions.namedCredentials.get('Typed')?.label).toBe(`Label ${reference}`)
    for (const path of ['/named-credentials/Typed', editOf('Typed'), '/named-credentials/Every'])
      expect((await browser.get(path)).body).not.toContain(PASS_CANARY)
  })

  it('keeps the write-only key and passphrase unless replaced or removed', async () => {
    const replaced = await save('Certified', { certificateKey: NEW_KEY_PEM })
    expect(replaced.status, replaced.body.slice(0, 3000)).toBe(303)
    let cert = c.broker.definitions.namedCredentials.get('Certified')!.clientCertificate!
    expect(cert.key.reveal()).toBe(NEW_KEY_PEM.trim())
    expect(cert.passphrase?.reveal()).toBe(PASS_CANARY)
    const page = await browser.get(editOf('Certified'))
    expect(page.body).not.toContain(NEW_KEY_PEM.split('\n')[2]!)
    const noPass = await save('Certified', { removeCertificatePassphrase: 'on' })
    expect(noPass.status, noPass.body.slice(0, 3000)).toBe(303)
    cert = c.broker.definitions.namedCredentials.get('Certified')!.clientCertificate!
    expect(cert.passphrase).toBeUndefined()
    expect(cert.key.reveal()).toBe(NEW_KEY_PEM.trim())
    const none = await save('Certified', { removeCertificate: 'on' })
    expect(none.status, none.body.slice(0, 3000)).toBe(303)
    expect(
      c.broker.definitions.namedCredentials.get('Certified')?.clientCertificate,
    ).toBeUndefined()
  })

  it('refuses a post without the form\u2019s CSRF token, storing nothing', async () => {
    const before = nc(c.broker.definitions, 'Simple')
    const fields = formFields((await browser.get(editOf('Simple'))).body)
    const { _csrf: _token, ...rest } = fields
    const forged = await browser.post(editOf('Simple'), { ...rest, timeoutMs: '1234' })
    expect(forged.status).toBe(403)
    const wrong = await browser.post(editOf('Simple'), {
      ...rest,
      _csrf: 'forged',
      timeoutMs: '1234',
    })
    expect(wrong.status).toBe(403)
    expect(nc(c.broker.definitions, 'Simple')).toEqual(before)
  })

  it('answers an unknown name with not found, suggesting the closest', async () => {
    const res = await browser.get(editOf('Simpel'))
    expect(res.status).toBe(404)
    expect(res.body).toContain('Simple')
  })
})
