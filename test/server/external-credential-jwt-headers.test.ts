/**
 * The External Credential form edits every field the config file's `externalCredentials` entry
 * has: the JWT settings (`jwt`), the formula headers (`authHeaders`) and a principal's PEM private
 * key (write-only) besides the rest. Over real sockets with a browser-like client: what the form
 * stores equals what the config file gives, an edit posted back unchanged changes nothing, and bad
 * or hostile input gets the config file's message under its field and stores nothing.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  exportDefinitions,
  parseConfig,
  type Definitions,
  type ExternalCredential,
} from '../../src/definitions/index.ts'
import { comparable } from '../../src/definitions/comparable.test-helper.ts'
import {
  Browser,
  csrfOf,
  formFields,
  unescape,
  type ConsoleInstance,
  type ConsoleRig,
  signedInConsole,
} from './console-helpers.ts'

const RSA_PEM = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString()
const EC_PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString()
/** A line of each key's base64 body: never in a page or an audit entry. */
const RSA_CANARY = RSA_PEM.split('\n')[3]!
const EC_CANARY = EC_PEM.split('\n')[2]!

let rig: ConsoleRig
let c: ConsoleInstance
let browser: Browser

const PROVIDER = {
  type: 'oauth2',
  consumerKey: 'client-7',
  consumerSecret: '${env:IDP_SECRET}',
  authorizeUrl: 'https://idp.example.com/authorize',
  tokenUrl: 'https://idp.example.com/token',
}

beforeAll(async () => {
  ;({ rig, c, browser } = await signedInConsole())
  // The Auth Provider and a credential with every field, applied as a config file is.
  await c.broker.apply(
    parseConfig(
      {
        authProviders: { Idp: PROVIDER },
        externalCredentials: {
          FromFile: {
            protocol: 'jwt',
            authHeaders: [
              {
                name: 'X-Tenant',
                formula: "'acme-' & {!$Credential.FromFile.tenant}",
                sequence: 20,
              },
              { name: 'X-Literal', formula: "'cost $${5}'", sequence: 10 },
            ],
            jwt: {
              issuer: 'callout-test',
              subject: 'svc@example.com',
              audience: ['https://a.example.com', 'https://b.example.com'],
              validitySeconds: 120,
              algorithm: 'ES256',
              keyId: 'kid-1',
              additionalClaims: { scope: 'api', nested: { n: 1, list: [true, null] } },
            },
            additionalRefreshStatusCodes: [403],
            principals: {
              Signer: {
                type: 'named',
                sequence: 5,
                parameters: { tenant: 'eu' },
                secrets: { privateKey: '${env:EC_KEY}' },
              },
            },
          },
        },
      },
      { env: { IDP_SECRET: 'idp-secret', EC_KEY: EC_PEM } },
    ),
  )
})
afterAll(async () => {
  await rig?.close()
})

/** Definitions holding one External Credential, for {@link comparable}. */
function only(ec: ExternalCredential): Definitions {
  return {
    authProviders: new Map(),
    externalCredentials: new Map([[ec.name, ec]]),
    namedCredentials: new Map(),
  }
}

/** Every stored definition as plain data, secrets revealed (for "nothing changed" checks). */
function snapshot(): string {
  return JSON.stringify(comparable(c.broker.definitions))
}

/** The message under the field with id `id` (`undefined` when there is none). */
function errorUnder(html: string, id: string): string | undefined {
  const match = new RegExp(`id="${id}-error">([^<]*)<`).exec(html)
  return match === null ? undefined : unescape(match[1]!)
}

/** A jwt-bearer credential's form: one named principal with the RSA key, one header. */
function jwtBearerForm(name: string): Record<string, string> {
  return {
    name,
    protocol: 'oauth2',
    flow: 'jwt-bearer',
    authProvider: 'Idp',
    scope: 'api',
    jwtIssuer: '',
    jwtSubject: '',
    jwtAudience: 'https://login.example.com',
    jwtValiditySeconds: '180',
    jwtAlgorithm: '',
    jwtKeyId: 'console-key',
    jwtAdditionalClaims: '',
    'h0.name': 'X-Org',
    'h0.formula': "'org-' & {!$Credential." + name + '.org}',
    'h0.sequence': '',
    'h1.name': '',
    'h1.formula': '',
    'h1.sequence': '',
    'p0.name': 'Service',
    'p0.type': 'named',
    'p0.sequence': '',
    'p0.parameters': 'username=svc@example.com\norg=acme',
    'p0.secrets': '',
    'p0.privateKey': RSA_PEM.replace(/\n/g, '\r\n'),
  }
}

describe('JWT settings and formula headers in the External Credential form', () => {
  it('shows every stored field of a credential the config file made, and never its key', async () => {
    const page = await browser.get('/external-credentials/FromFile')
    expect(page.status).toBe(200)
    const fields = formFields(page.body)
    expect(fields).toMatchObject({
      protocol: 'jwt',
      jwtIssuer: 'callout-test',
      jwtSubject: 'svc@example.com',
      jwtAudience: 'https://a.example.com\nhttps://b.example.com',
      jwtValiditySeconds: '120',
      jwtAlgorithm: 'ES256',
      jwtKeyId: 'kid-1',
      'h0.name': 'X-Literal',
      // The config file's $${ is a literal ${: the form shows the text itself.
      'h0.formula': "'cost ${5}'",
      'h0.sequence': '10',
      'h1.name': 'X-Tenant',
      'h1.formula': "'acme-' & {!$Credential.FromFile.tenant}",
      'h1.sequence': '20',
      'p0.name': 'Signer',
      'p0.privateKey': '',
    })
    expect(JSON.parse(fields.jwtAdditionalClaims!)).toEqual({
      scope: 'api',
      nested: { n: 1, list: [true, null] },
    })
    expect(page.body).toContain('Stored, never shown: privateKey.')
    expect(page.body).not.toContain(EC_CANARY)
  })

  it('posted back unchanged, changes nothing (every field survives an edit)', async () => {
    const before = snapshot()
    const page = await browser.get('/external-credentials/FromFile')
    const res = await browser.post('/external-credentials/FromFile', formFields(page.body))
    expect(res.status, res.body.slice(0, 3000)).toBe(303)
    expect(snapshot()).toBe(before)
  })

  it('keeps a one-audience list a list and a one-audience string a string, as the config file wrote them', async () => {
    const signer = { type: 'named', secrets: { privateKey: '${env:EC_KEY}' } }
    const one = (audience: string | string[]) => ({
      protocol: 'jwt',
      jwt: { audience, algorithm: 'ES256' },
      principals: { Signer: signer },
    })
    await c.broker.apply(
      parseConfig(
        {
          externalCredentials: {
            OneAudienceList: one(['https://only.example.com']),
            OneAudienceText: one('https://only.example.com'),
          },
        },
        { env: { EC_KEY: EC_PEM } },
      ),
    )
    const audience = (name: string) =>
      c.broker.definitions.externalCredentials.get(name)!.jwt?.audience
    expect(audience('OneAudienceList')).toEqual(['https://only.example.com'])
    for (const name of ['OneAudienceList', 'OneAudienceText']) {
      const page = await browser.get(`/external-credentials/${name}`)
      expect(formFields(page.body).jwtAudience).toBe('https://only.example.com')
      const before = snapshot()
      const res = await browser.post(`/external-credentials/${name}`, formFields(page.body))
      expect(res.status, res.body.slice(0, 3000)).toBe(303)
      expect(snapshot()).toBe(before)
    }
    // Another single audience keeps the stored shape too.
    for (const name of ['OneAudienceList', 'OneAudienceText']) {
      const page = await browser.get(`/external-credentials/${name}`)
      const fields = { ...formFields(page.body), jwtAudience: 'https://other.example.com' }
      expect((await browser.post(`/external-credentials/${name}`, fields)).status).toBe(303)
    }
    expect(audience('OneAudienceList')).toEqual(['https://other.example.com'])
    expect(audience('OneAudienceText')).toBe('https://other.example.com')
  })

  it('creates a jwt-bearer credential with a header equal to the config file’s, key write-only and audited', async () => {
    const res = await browser.submit(
      '/external-credentials/new',
      '/external-credentials',
      jwtBearerForm('SfJwt'),
    )
    expect(res.status, res.body.slice(0, 3000)).toBe(303)
    expect(res.location).toBe('/external-credentials/SfJwt?flash=saved')
    const fromFile = parseConfig(
      {
        authProviders: { Idp: PROVIDER },
        externalCredentials: {
          SfJwt: {
            protocol: 'oauth2',
            flow: 'jwt-bearer',
            authProvider: 'Idp',
            scope: 'api',
            jwt: {
              audience: 'https://login.example.com',
              validitySeconds: 180,
              keyId: 'console-key',
            },
            authHeaders: { 'X-Org': "'org-' & {!$Credential.SfJwt.org}" },
            principals: {
              Service: {
                type: 'named',
                parameters: { username: 'svc@example.com', org: 'acme' },
                secrets: { privateKey: '${env:SF_KEY}' },
              },
            },
          },
        },
      },
      { env: { IDP_SECRET: 'idp-secret', SF_KEY: RSA_PEM.trim() } },
    )
    const stored = c.broker.definitions.externalCredentials.get('SfJwt')
    expect(stored).toBeDefined()
    expect(comparable(only(stored!))).toEqual(
      comparable(only(fromFile.externalCredentials.get('SfJwt')!)),
    )
    expect(exportDefinitions(c.broker.definitions).externalCredentials.SfJwt).toEqual({
      ...exportDefinitions(fromFile).externalCredentials.SfJwt,
      // Typed in the form, the key has no reference: the export names one for it.
      principals: {
        Service: {
          type: 'named',
          parameters: { username: 'svc@example.com', org: 'acme' },
          secrets: { privateKey: '${env:CALLOUT_EXTERNAL_CREDENTIAL_SF_JWT_SERVICE_PRIVATE_KEY}' },
        },
      },
    })

    const edit = await browser.get(res.location!)
    expect(edit.body).toContain('Stored, never shown: privateKey.')
    expect(edit.body).not.toContain(RSA_CANARY)
    const audit = await c.store.admin.listAudit({ limit: 50 })
    const entry = audit.find(
      (e) => e.action === 'externalCredential.create' && e.target === 'ExternalCredential/SfJwt',
    )
    expect(entry?.actor).toBe('admin:alice')
    expect(entry?.details).toMatchObject({ fields: expect.arrayContaining(['authHeaders', 'jwt']) })
    expect(JSON.stringify(audit)).not.toContain(RSA_CANARY)
  })

  it('keeps the stored private key when the field is left empty, and replaces it when a new one is pasted', async () => {
    const key = () =>
      c.broker.definitions.externalCredentials
        .get('SfJwt')!
        .principals[0]!.secrets.privateKey!.reveal()
    const page = await browser.get('/external-credentials/SfJwt')
    const fields: Record<string, string> = { ...formFields(page.body), jwtValiditySeconds: '240' }
    expect(fields['p0.privateKey']).toBe('')
    expect((await browser.post('/external-credentials/SfJwt', fields)).status).toBe(303)
    expect(key()).toBe(RSA_PEM.trim())
    expect(c.broker.definitions.externalCredentials.get('SfJwt')!.jwt?.validitySeconds).toBe(240)
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString()
    const again = await browser.get('/external-credentials/SfJwt')
    const replaced = await browser.post('/external-credentials/SfJwt', {
      ...formFields(again.body),
      'p0.privateKey': other,
    })
    expect(replaced.status).toBe(303)
    expect(key()).toBe(other.trim())
  })

  it('stores a ${…} reference typed in a field as text: it never reads a file or a stored secret', async () => {
    const res = await browser.submit('/external-credentials/new', '/external-credentials', {
      ...jwtBearerForm('Literal'),
      jwtSubject: '${env:EC_KEY}',
      'h0.formula': "'${file:/etc/hostname}'",
      'p0.parameters': 'username=svc@example.com\norg=${env:EC_KEY}',
    })
    expect(res.status, res.body.slice(0, 3000)).toBe(303)
    const ec = c.broker.definitions.externalCredentials.get('Literal')!
    expect(ec.jwt?.subject).toBe('${env:EC_KEY}')
    expect(ec.authHeaders[0]?.formula).toBe("'${file:/etc/hostname}'")
    expect(ec.principals[0]?.parameters.org).toBe('${env:EC_KEY}')
    const page = await browser.get('/external-credentials/Literal')
    expect(formFields(page.body)).toMatchObject({
      jwtSubject: '${env:EC_KEY}',
      'h0.formula': "'${file:/etc/hostname}'",
      'p0.parameters': 'org=${env:EC_KEY}\nusername=svc@example.com',
    })
    expect(page.body).not.toContain(EC_CANARY)
    // Posted back unchanged, the text stays as it is.
    const before = snapshot()
    expect(
      (await browser.post('/external-credentials/Literal', formFields(page.body))).status,
    ).toBe(303)
    expect(snapshot()).toBe(before)
  })

  it('removes a stored secret marked for removal, keeps the others, and refuses removing one the protocol needs', async () => {
    const created = await browser.submit('/external-credentials/new', '/external-credentials', {
      name: 'Basic',
      protocol: 'basic',
      'p0.name': 'Service',
      'p0.parameters': 'username=svc',
      'p0.secrets': 'password=pw-5c1e\nextra=extra-9a7d',
    })
    expect(created.status).toBe(303)
    const secrets = () =>
      Object.fromEntries(
        Object.entries(
          c.broker.definitions.externalCredentials.get('Basic')!.principals[0]!.secrets,
        ).map(([k, v]) => [k, v.reveal()]),
      )
    const page = await browser.get('/external-credentials/Basic')
    expect(page.body).toContain('<label for="p0-remove-extra">Remove the stored extra</label>')
    const removed = await browser.post('/external-credentials/Basic', {
      ...formFields(page.body),
      'p0.remove.extra': 'on',
    })
    expect(removed.status).toBe(303)
    expect(secrets()).toEqual({ password: 'pw-5c1e' })

    const before = snapshot()
    const again = await browser.get('/external-credentials/Basic')
    const refused = await browser.post('/external-credentials/Basic', {
      ...formFields(again.body),
      'p0.remove.password': 'on',
    })
    expect(refused.status).toBe(400)
    // The fix names what the console offers: no ${env:…}, which the console does not resolve.
    expect(errorUnder(refused.body, 'p0-secrets')).toBe(
      'password is required for protocol basic — enter it in this form, or set it in the config file and run callout apply',
    )
    expect(refused.body).toMatch(/name="p0\.remove\.password" value="on" checked>/)
    expect(refused.body).not.toContain('pw-5c1e')
    expect(snapshot()).toBe(before)
  })

  it('clears the JWT settings and headers an edit empties', async () => {
    const page = await browser.get('/external-credentials/SfJwt')
    const fields = formFields(page.body)
    for (const key of ['jwtAudience', 'jwtValiditySeconds', 'jwtKeyId', 'h0.name', 'h0.formula'])
      fields[key] = ''
    expect((await browser.post('/external-credentials/SfJwt', fields)).status).toBe(303)
    const ec = c.broker.definitions.externalCredentials.get('SfJwt')!
    expect(ec.authHeaders).toEqual([])
    expect(ec.jwt).toEqual({ validitySeconds: 300, algorithm: 'RS256' })
  })

  const base = (): Record<string, string> => jwtBearerForm('Hostile')
  it.each<[string, Record<string, string>, string, RegExp]>([
    [
      'a header name with CR/LF',
      { 'h0.name': 'X-A\r\nX-Evil: 1' },
      'h0-name',
      /is not a valid HTTP header name/,
    ],
    [
      'a header formula with CR/LF',
      { 'h0.formula': "'a'\r\nX-Evil: 1" },
      'h0-formula',
      /contains CR, LF or NUL/,
    ],
    [
      'a header formula with NUL',
      { 'h0.formula': "'a\u0000b'" },
      'h0-formula',
      /contains CR, LF or NUL/,
    ],
    [
      'a header formula that does not parse',
      { 'h0.formula': 'application/json' },
      'h0-formula',
      /quote/,
    ],
    [
      'the same header twice',
      { 'h1.name': 'x-org', 'h1.formula': "'b'" },
      'h1-name',
      /repeats the header/,
    ],
    ['a formula without a header name', { 'h1.formula': "'b'" }, 'h1-name', /needs a name/],
    ['an unknown protocol', { protocol: 'oauth3' }, 'protocol', /did you mean "oauth2"/],
    ['an unknown flow', { flow: 'jwt-barer' }, 'flow', /did you mean "jwt-bearer"/],
    ['an unknown algorithm', { jwtAlgorithm: 'RS265' }, 'jwtAlgorithm', /did you mean "RS256"/],
    [
      'HS256 on jwt-bearer',
      { jwtAlgorithm: 'HS256' },
      'jwtAlgorithm',
      /flow jwt-bearer signs with a private key/,
    ],
    [
      'a lifetime over a day',
      { jwtValiditySeconds: '86401' },
      'jwtValiditySeconds',
      /at most 86400/,
    ],
    [
      'a lifetime that is not a number',
      { jwtValiditySeconds: '5m' },
      'jwtValiditySeconds',
      /whole number of seconds/,
    ],
    [
      'an oversized lifetime',
      { jwtValiditySeconds: '9'.repeat(400) },
      'jwtValiditySeconds',
      /whole number of seconds/,
    ],
    [
      'a registered claim',
      { jwtAdditionalClaims: '{"exp": 1}' },
      'jwtAdditionalClaims',
      /^exp is a registered claim/,
    ],
    [
      'claims that are not a JSON object',
      { jwtAdditionalClaims: '[1, 2]' },
      'jwtAdditionalClaims',
      /A JSON object/,
    ],
    [
      'claims that are not JSON',
      { jwtAdditionalClaims: '{scope: api}' },
      'jwtAdditionalClaims',
      /A JSON object/,
    ],
    [
      'JWT settings on protocol basic',
      { protocol: 'basic', flow: '', authProvider: '', scope: '' },
      'jwt',
      /only applies to protocol jwt and flow jwt-bearer/,
    ],
    [
      'a key that is not PEM',
      { 'p0.privateKey': 'not a key' },
      'p0-privateKey',
      /^is not a PEM private key \(RS256\) — paste the whole PEM text \(-----BEGIN … KEY----- …\) into this form, or set it in the config file and run callout apply$/,
    ],
    ['a private key given twice', { 'p0.secrets': 'privateKey=x' }, 'p0-privateKey', /given twice/],
    [
      'no private key',
      { 'p0.privateKey': '' },
      'p0-privateKey',
      /^is required for flow jwt-bearer — paste the whole PEM text \(-----BEGIN … KEY----- …\) into this form, or set it in the config file and run callout apply$/,
    ],
    [
      'no subject',
      { 'p0.parameters': 'org=acme' },
      'p0-parameters',
      /^username is required for flow jwt-bearer/,
    ],
  ])(
    'refuses %s under its field, keeps the input and stores nothing',
    async (_what, change, id, message) => {
      const before = snapshot()
      const form = { ...base(), ...change }
      const res = await browser.submit('/external-credentials/new', '/external-credentials', form)
      expect(res.status).toBe(400)
      expect(res.body).toContain('Nothing was saved')
      expect(errorUnder(res.body, id), res.body.slice(0, 4000)).toMatch(message)
      if (id !== 'jwt') expect(res.body).toContain(`aria-describedby="${id}-error"`)
      // The admin's input is shown again; the private key never is.
      const shown = formFields(res.body)
      expect(shown.jwtKeyId).toBe('console-key')
      expect(shown['h0.name']).toBe(form['h0.name'])
      expect(shown['p0.privateKey']).toBe('')
      expect(res.body).not.toContain(RSA_CANARY)
      expect(snapshot()).toBe(before)
      expect(c.broker.definitions.externalCredentials.has('Hostile')).toBe(false)
    },
  )

  it('refuses more than 50 headers with the config file’s limit', async () => {
    const before = snapshot()
    const form = base()
    for (let i = 0; i < 51; i++) {
      form[`h${i}.name`] = `X-H${i}`
      form[`h${i}.formula`] = "'v'"
    }
    const res = await browser.submit('/external-credentials/new', '/external-credentials', form)
    expect(res.status).toBe(400)
    expect(errorUnder(res.body, 'authHeaders')).toMatch(/at most 50 entries/)
    expect(snapshot()).toBe(before)
  })

  it('refuses a form larger than the console accepts, and stores nothing', async () => {
    const before = snapshot()
    const res = await browser.submit('/external-credentials/new', '/external-credentials', {
      ...base(),
      'h0.formula': `'${'x'.repeat(70_000)}'`,
    })
    expect(res.status).toBe(413)
    expect(res.body).toContain('REQUEST_TOO_LARGE')
    expect(snapshot()).toBe(before)
  })

  it('refuses an edit without the CSRF token, and stores nothing', async () => {
    const before = snapshot()
    const page = await browser.get('/external-credentials/FromFile')
    const { _csrf, ...fields } = formFields(page.body)
    expect(_csrf).toBe(csrfOf(page.body))
    const res = await browser.post('/external-credentials/FromFile', {
      ...fields,
      jwtKeyId: 'forged',
    })
    expect(res.status).toBe(403)
    expect(res.body).toContain('CSRF_INVALID')
    expect(snapshot()).toBe(before)
  })
})
