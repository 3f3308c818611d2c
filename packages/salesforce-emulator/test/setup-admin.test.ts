/**
 * Run-time Setup: connected apps, users, custom objects and custom fields created after start,
 * programmatically and over `/_emulator`, then used through the public OAuth and REST endpoints.
 */
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SeedError, startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'
import { postForm } from './helpers/oauth.ts'

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

interface Answer {
  status: number
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any
}

describe('run-time Setup of an org', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let token: string
  let privateKey: CryptoKey
  let publicPem: string

  const admin = async (path: string, body?: unknown, raw?: string): Promise<Answer> => {
    const res = await fetch(`${org.instanceUrl}/_emulator${path}`, {
      method: body === undefined && raw === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      ...(raw !== undefined
        ? { body: raw }
        : body !== undefined
          ? { body: JSON.stringify(body) }
          : {}),
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) }
  }
  const rest = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(`${org.instanceUrl}/services/data/v61.0${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) }
  }
  const passwordGrant = (
    app: { consumerKey: string; consumerSecret: string },
    u: string,
    p: string,
  ) =>
    postForm(`${org.instanceUrl}/services/oauth2/token`, {
      grant_type: 'password',
      client_id: app.consumerKey,
      client_secret: app.consumerSecret,
      username: u,
      password: p,
    })

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true })
    privateKey = pair.privateKey
    publicPem = await exportSPKI(pair.publicKey)
    emulator = await startEmulator({
      orgs: [
        {
          name: 'setup',
          customFields: {
            Contact: [{ name: 'External_Id__c', type: 'string', externalId: true, unique: true }],
          },
        },
      ],
    })
    org = emulator.org('setup')
    token = org.issueTokens().accessToken
  })
  afterAll(async () => {
    await emulator.close()
  })

  describe('programmatically', () => {
    it('adds a connected app with a certificate that the JWT bearer flow then accepts', async () => {
      const app = org.addConnectedApp({
        name: 'Jwt Sync',
        callbackUrls: ['https://sync.example/cb'],
        scopes: ['api', 'refresh_token'],
        certificate: publicPem,
        refreshTokenPolicy: { kind: 'expire-after', seconds: 60 },
      })
      expect(app.consumerKey).toMatch(/^3MVG9/)
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(app.consumerKey)
        .setSubject(org.user().username)
        .setAudience('https://login.salesforce.com')
        .setExpirationTime('3m')
        .sign(privateKey)
      const res = await postForm(`${org.instanceUrl}/services/oauth2/token`, {
        grant_type: JWT_GRANT,
        assertion,
      })
      expect(res.status).toBe(200)
      expect(res.body.scope).toBe('api')
      expect(res.body.id).toBe(`${org.loginUrl}/id/${org.orgId}/${org.user().userId}`)
    })

    it('adds a user who can then log in, and refuses a second user of the same name', async () => {
      const user = org.addUser({ username: 'ops@setup.example', password: 'Ops-Pass-1' })
      expect(user.userId).toMatch(/^005/)
      const res = await passwordGrant(org.connectedApp(), 'ops@setup.example', 'Ops-Pass-1')
      expect(res.status).toBe(200)
      expect(res.body.id).toContain(user.userId)
      const record = await rest('GET', `/sobjects/User/${user.userId}`)
      expect(record.body.Username).toBe('ops@setup.example')
      expect(() => org.addUser({ username: 'OPS@setup.example' })).toThrow(
        expect.objectContaining({ code: 'DUPLICATE_DEFINITION', path: 'user.username' }),
      )
    })

    it('validates definitions like the seed and names the bad property', () => {
      const bad = [
        () => org.addConnectedApp({ name: 'NoCallbacks', callbackUrls: [] }),
        () => org.addConnectedApp({ name: 'Cert', callbackUrls: ['x:/'], certificate: 'nope' }),
        () =>
          org.addConnectedApp({
            name: 'Cc',
            callbackUrls: ['x:/'],
            clientCredentialsUser: 'ghost@setup.example',
          }),
        () => org.addUser({ username: 'not-an-email' }),
        () => org.addCustomField('Account', { name: 'NoSuffix', type: 'string' }),
        () => org.addCustomField('Widget__c', { name: 'A__c', type: 'string' }),
      ]
      const paths = bad.map((f) => {
        try {
          f()
        } catch (err) {
          expect(err).toBeInstanceOf(SeedError)
          return (err as SeedError).path
        }
        return 'no error'
      })
      expect(paths).toEqual([
        'connectedApp.callbackUrls',
        'connectedApp.certificate',
        'connectedApp.clientCredentialsUser',
        'user.username',
        'customField.name',
        'customField',
      ])
      expect(org.connectedApps.map((a) => a.name)).not.toContain('NoCallbacks')
    })
  })

  describe('custom fields on standard objects', () => {
    it('upserts a Contact by a seeded external id: 201 created, then 200 updated', async () => {
      const first = await rest('PATCH', '/sobjects/Contact/External_Id__c/C-1', {
        LastName: 'Lovelace',
      })
      expect(first.status).toBe(201)
      expect(first.body).toMatchObject({ success: true, created: true })
      const second = await rest('PATCH', '/sobjects/Contact/External_Id__c/c-1', {
        FirstName: 'Ada',
      })
      expect(second.status).toBe(200)
      expect(second.body).toEqual({ id: first.body.id, success: true, errors: [], created: false })
      const got = await rest('GET', `/sobjects/Contact/${first.body.id as string}`)
      expect(got.body).toMatchObject({ Name: 'Ada Lovelace', External_Id__c: 'C-1' })
    })

    it('adds External_Id__c to Account over HTTP; describe, upsert and uniqueness follow', async () => {
      const created = await admin('/sobjects/Account/fields', {
        name: 'External_Id__c',
        type: 'string',
        externalId: true,
        unique: true,
        length: 40,
      })
      expect(created.status).toBe(201)
      expect(created.body).toMatchObject({
        name: 'External_Id__c',
        label: 'External Id',
        externalId: true,
        unique: true,
        idLookup: true,
        custom: true,
        length: 40,
      })
      const describe = await rest('GET', '/sobjects/Account/describe')
      const field = describe.body.fields.find((f: { name: string }) => f.name === 'External_Id__c')
      expect(field).toMatchObject({ externalId: true, unique: true, type: 'string' })

      const up = await rest('PATCH', '/sobjects/Account/External_Id__c/ACME-1', { Name: 'Acme' })
      expect(up.status).toBe(201)
      const again = await rest('PATCH', '/sobjects/Account/External_Id__c/ACME-1', {
        Name: 'Acme Corp',
      })
      expect(again.status).toBe(200)
      const dup = await rest('POST', '/sobjects/Account', {
        Name: 'Copy',
        External_Id__c: 'acme-1',
      })
      expect(dup.status).toBe(400)
      expect(dup.body).toEqual([
        {
          message: `duplicate value found: External_Id__c duplicates value on record with id: ${up.body.id as string}`,
          errorCode: 'DUPLICATE_VALUE',
          fields: [],
        },
      ])
      const other = await rest('POST', '/sobjects/Account', {
        Name: 'Other',
        External_Id__c: 'B-2',
      })
      expect(other.status).toBe(201)
      const clash = await rest('PATCH', `/sobjects/Account/${other.body.id as string}`, {
        External_Id__c: 'ACME-1',
      })
      expect(clash.status).toBe(400)
      expect(clash.body[0].errorCode).toBe('DUPLICATE_VALUE')
      const same = await rest('PATCH', `/sobjects/Account/${other.body.id as string}`, {
        External_Id__c: 'B-2',
      })
      expect(same.status).toBe(204)
      const query = await rest(
        'GET',
        `/query?q=${encodeURIComponent("SELECT Name FROM Account WHERE External_Id__c = 'ACME-1'")}`,
      )
      expect(query.body.records.map((r: { Name: string }) => r.Name)).toEqual(['Acme Corp'])
    })

    it('refuses bad custom fields with the property named, and duplicates with 409', async () => {
      const cases: [unknown, number, string, string][] = [
        [{ type: 'string' }, 400, 'INVALID_INPUT', 'body.name: is required'],
        [
          { name: 'Code', type: 'string' },
          400,
          'INVALID_INPUT',
          'body.name: expected a custom field API name',
        ],
        [{ name: 'A__c', type: 'blob' }, 400, 'INVALID_INPUT', 'body.type: expected one of'],
        [
          { name: 'A__c', type: 'boolean', externalId: true },
          400,
          'INVALID_INPUT',
          'body.externalId: only',
        ],
        [
          { name: 'A__c', type: 'reference' },
          400,
          'INVALID_INPUT',
          'body.referenceTo: is required',
        ],
        [
          { name: 'A__c', type: 'reference', referenceTo: 'Nope' },
          400,
          'INVALID_INPUT',
          'body.referenceTo: org setup has no sObject Nope',
        ],
        [
          { name: 'A__c', type: 'string', colour: 'red' },
          400,
          'INVALID_INPUT',
          'body.colour: unknown property',
        ],
        [
          { name: 'External_Id__c', type: 'string' },
          409,
          'DUPLICATE_VALUE',
          'body.name: Account already has a field External_Id__c',
        ],
        [{ name: 'Region__c', type: 'picklist', picklistValues: ['EMEA', 'APAC'] }, 201, '', ''],
      ]
      for (const [body, status, code, message] of cases) {
        const res = await admin('/sobjects/Account/fields', body)
        expect(res.status, JSON.stringify(body)).toBe(status)
        if (status === 201) continue
        expect(res.body[0].errorCode).toBe(code)
        expect(res.body[0].message).toContain(message)
      }
      const unknownObject = await admin('/sobjects/Widget__c/fields', {
        name: 'A__c',
        type: 'string',
      })
      expect(unknownObject.status).toBe(400)
      expect(unknownObject.body[0].message).toBe('body: org setup has no sObject Widget__c')
    })
  })

  describe('over HTTP', () => {
    it('creates a connected app that then authenticates; the secret only with showSecrets', async () => {
      const res = await admin('/connected-apps', {
        name: 'Demo',
        callbackUrls: ['http://127.0.0.1:9999/callback'],
        scopes: 'api refresh_token openid',
        refreshTokenPolicy: { kind: 'expire-if-unused', seconds: 600 },
        pkceRequired: true,
      })
      expect(res.status).toBe(201)
      expect(res.body).toMatchObject({
        name: 'Demo',
        callbackUrls: ['http://127.0.0.1:9999/callback'],
        scopes: ['api', 'refresh_token', 'openid'],
        refreshTokenPolicy: { kind: 'expire-if-unused', seconds: 600 },
        pkceRequired: true,
        hasCertificate: false,
      })
      expect(res.body.consumerSecret).toBeUndefined()
      const app = org.connectedApp('Demo')
      expect(JSON.stringify(res.body)).not.toContain(app.consumerSecret)
      const listed = await admin('/connected-apps?showSecrets=true')
      expect(
        listed.body.connectedApps.find((a: { name: string }) => a.name === 'Demo'),
      ).toMatchObject({
        consumerKey: app.consumerKey,
        consumerSecret: app.consumerSecret,
      })
      const login = await passwordGrant(app, org.user().username, org.user().password)
      expect(login.status).toBe(200)
      // The password flow never carries refresh_token.
      expect(login.body.scope).toBe('api openid')
    })

    it('creates a user with a password shown only when asked', async () => {
      const res = await admin('/users?showSecrets=true', {
        username: 'demo@setup.example',
        name: 'Demo User',
      })
      expect(res.status).toBe(201)
      expect(res.body).toMatchObject({
        username: 'demo@setup.example',
        name: 'Demo User',
        active: true,
      })
      expect(res.body.password).toMatch(/^Pw-/)
      const login = await passwordGrant(
        org.connectedApp(),
        'demo@setup.example',
        res.body.password as string,
      )
      expect(login.status).toBe(200)
      const listed = await admin('/users')
      expect(listed.body.users.map((u: { username: string }) => u.username)).toContain(
        'demo@setup.example',
      )
      expect(JSON.stringify(listed.body)).not.toContain(res.body.password as string)
    })

    it('creates a custom object whose records the REST API then serves', async () => {
      const res = await admin('/sobjects', {
        name: 'Shipment__c',
        fields: [
          { name: 'Tracking__c', type: 'string', externalId: true },
          { name: 'Account__c', type: 'reference', referenceTo: 'Account' },
        ],
      })
      expect(res.status).toBe(201)
      expect(res.body).toMatchObject({ name: 'Shipment__c', custom: true, keyPrefix: 'a00' })
      const rec = await rest('PATCH', '/sobjects/Shipment__c/Tracking__c/T-1', { Name: 'First' })
      expect(rec.status).toBe(201)
      expect(rec.body.id).toMatch(/^a00/)
      const dup = await admin('/sobjects', { name: 'shipment__c' })
      expect(dup.status).toBe(409)
    })

    it('answers malformed and hostile bodies with 400 and changes nothing', async () => {
      const before = org.connectedApps.length
      const cases: [string, string | undefined, unknown, string][] = [
        ['/connected-apps', '{"name":', undefined, 'body is not valid JSON'],
        ['/connected-apps', '[1,2]', undefined, 'body must be a JSON object'],
        ['/connected-apps', undefined, { name: 'X' }, 'body.callbackUrls: is required'],
        [
          '/connected-apps',
          undefined,
          { name: 'X', callbackUrls: 'a b', consumerKey: 7 },
          'body.consumerKey: expected a non-empty string',
        ],
        [
          '/connected-apps',
          undefined,
          { name: 'X', callbackUrls: ['x:/'], refreshTokenPolicy: { kind: 'sometimes' } },
          'body.refreshTokenPolicy.kind',
        ],
        [
          '/connected-apps',
          undefined,
          { name: 'X', callbackUrls: ['x:/'], certificateFile: '/etc/passwd' },
          'body.certificateFile: only allowed in seed files',
        ],
        [
          '/connected-apps',
          '{"name":"X","callbackUrls":["x:/"],"__proto__":{"polluted":true}}',
          undefined,
          'body.__proto__: unknown property',
        ],
        [
          '/users',
          undefined,
          { username: 'a@b.example', active: 'yes' },
          'body.active: expected true or false',
        ],
        ['/sobjects', undefined, { name: 'Bad' }, 'body.name: expected a custom object API name'],
      ]
      for (const [path, raw, body, message] of cases) {
        const res = await admin(path, body, raw)
        expect(res.status, message).toBe(400)
        expect(res.body[0].errorCode).toBe('INVALID_INPUT')
        expect(res.body[0].message).toContain(message)
      }
      expect(org.connectedApps.length).toBe(before)
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
      const dupApp = await admin('/connected-apps', { name: 'Demo', callbackUrls: ['x:/'] })
      expect(dupApp.status).toBe(409)
      expect(dupApp.body).toEqual([
        {
          message: 'body.name: org setup already has a connected app named Demo',
          errorCode: 'DUPLICATE_VALUE',
          fields: ['name'],
        },
      ])
      const huge = await admin(
        '/users',
        undefined,
        JSON.stringify({ username: 'x'.repeat(7_000_000) }),
      )
      expect(huge.status).toBe(413)
      expect((await admin('/connected-apps/nope')).status).toBe(404)
      const unknownVerb = await fetch(`${org.instanceUrl}/_emulator/users`, { method: 'DELETE' })
      expect(unknownVerb.status).toBe(404)
    })
  })
})
