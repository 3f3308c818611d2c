/**
 * The admin API over real sockets: admin API tokens, Auth Providers, External and Named
 * Credentials created, read, replaced and deleted with the config file's validation (and "did you
 * mean"), secrets write-only, nothing stored on bad input, client keys, the audit log and the
 * OpenAPI document generated from the route table.
 */
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_OPERATIONS } from '../../src/server/console/admin-api.ts'
import { rawSqlite } from '../helpers/raw-sql.ts'
import {
  TEST_SCRYPT_COST,
  adminToken,
  consoleRig,
  type ConsoleInstance,
  type ConsoleRig,
} from './console-helpers.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the assertions check the shapes
type Json = any

const CANARY = 'canary-consumer-secret-7f3a'
let rig: ConsoleRig
let c: ConsoleInstance
let token: string

beforeAll(async () => {
  rig = await consoleRig({ scryptCost: TEST_SCRYPT_COST })
  c = await rig.start()
  token = await adminToken(c.store)
})
afterAll(async () => rig?.close())

const seen: string[] = []

async function api(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Json; text: string; headers: Record<string, unknown> }> {
  const res = await request(`${c.origin}${path}`, {
    method: method as 'GET',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  const text = await res.body.text()
  seen.push(text)
  return {
    status: res.statusCode,
    text,
    json: text === '' ? undefined : JSON.parse(text),
    headers: res.headers,
  }
}

const provider = {
  name: 'Idp',
  type: 'oauth2',
  consumerKey: 'client-id',
  consumerSecret: CANARY,
  authorizeUrl: 'https://idp.example.com/authorize',
  tokenUrl: 'https://idp.example.com/token',
}

describe('admin API', () => {
  it('needs an admin API token', async () => {
    for (const authorization of [
      undefined,
      'Bearer nope',
      `Bearer ${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`,
      token,
    ]) {
      const res = await request(`${c.origin}/admin/api/authProviders`, {
        headers: authorization === undefined ? {} : { authorization },
      })
      expect(res.statusCode).toBe(401)
      expect(((await res.body.json()) as Json).error.code).toBe('ADMIN_AUTH_REQUIRED')
    }
  })

  it('creates an Auth Provider; the secret is write-only', async () => {
    const created = await api('POST', '/admin/api/authProviders', provider)
    expect(created.status).toBe(201)
    expect(created.json).toMatchObject({
      type: 'oauth2',
      consumerKey: 'client-id',
      consumerSecret: '[write-only: set]',
    })
    expect(created.text).not.toContain(CANARY)
    const stored = c.broker.definitions.authProviders.get('Idp')
    expect(stored?.consumerSecret?.reveal()).toBe(CANARY)
    const list = await api('GET', '/admin/api/authProviders')
    expect(Object.keys(list.json)).toEqual(['Idp'])
    expect(list.text).not.toContain(CANARY)
  })

  it('refuses a duplicate (409) and an unknown name with a suggestion (404)', async () => {
    const dup = await api('POST', '/admin/api/authProviders', provider)
    expect(dup.status).toBe(409)
    expect(dup.json.error.code).toBe('DEFINITION_EXISTS')
    const missing = await api('GET', '/admin/api/authProviders/Idq')
    expect(missing.status).toBe(404)
    expect(missing.json.error.message).toContain('did you mean Idp?')
  })

  it('validates like the config file, names the field, and stores nothing', async () => {
    const before = JSON.stringify(c.broker.definitions.authProviders.get('Idp'))
    const typo = await api('POST', '/admin/api/authProviders', {
      ...provider,
      name: 'Other',
      consumerKy: 'x',
    })
    expect(typo.status).toBe(400)
    expect(typo.json.error.code).toBe('CONFIG_INVALID')
    expect(JSON.stringify(typo.json.error.details.issues)).toContain('authProviders.Other')
    const badUrl = await api('POST', '/admin/api/namedCredentials', {
      name: 'Api',
      url: 'http://api.example.com/v1',
      externalCredential: 'Nope',
    })
    expect(badUrl.status).toBe(400)
    const paths = badUrl.json.error.details.issues.map((i: { path: string }) => i.path)
    expect(paths).toEqual(expect.arrayContaining(['namedCredentials.Api.url']))
    const badName = await api('POST', '/admin/api/authProviders', {
      ...provider,
      name: '1<script>',
    })
    expect(badName.status).toBe(400)
    expect(c.broker.definitions.authProviders.has('Other')).toBe(false)
    expect(c.broker.definitions.namedCredentials.has('Api')).toBe(false)
    expect(JSON.stringify(c.broker.definitions.authProviders.get('Idp'))).toBe(before)
  })

  it('words the fix of a missing or unusable secret as the API takes it, never as a ${env:…} reference', async () => {
    const missing = await api('POST', '/admin/api/externalCredentials', {
      name: 'NoPassword',
      protocol: 'basic',
      principals: { Service: { type: 'named', parameters: { username: 'svc' } } },
    })
    const notPem = await api('POST', '/admin/api/externalCredentials', {
      name: 'NotPem',
      protocol: 'jwt',
      principals: { Signer: { type: 'named', secrets: { privateKey: 'not a key' } } },
    })
    const empty = await api('POST', '/admin/api/authProviders', {
      ...provider,
      name: 'EmptySecret',
      consumerSecret: '',
    })
    const messages = (res: { json: Json }) =>
      res.json.error.details.issues.map((i: { path: string; message: string }) => [
        i.path,
        i.message,
      ])
    const apply = ', or set it in the config file and run callout apply'
    expect(messages(missing)).toEqual([
      [
        'externalCredentials.NoPassword.principals.Service.secrets.password',
        `is required for protocol basic — give it in the request body${apply}`,
      ],
    ])
    expect(messages(notPem)).toEqual([
      [
        'externalCredentials.NotPem.principals.Signer.secrets.privateKey',
        `is not a PEM private key (RS256) — give the whole PEM text (-----BEGIN … KEY----- …) in the request body${apply}`,
      ],
    ])
    expect(messages(empty)).toEqual([
      [
        'authProviders.EmptySecret.consumerSecret',
        `is empty — give it in the request body${apply}`,
      ],
    ])
    for (const res of [missing, notPem, empty]) {
      expect(res.status).toBe(400)
      expect(res.json.error.message).toContain(apply)
      expect(res.text).not.toMatch(/\$\{(env|file):/)
    }
  })

  it('creates External and Named Credentials with "did you mean" on a wrong reference', async () => {
    const ec = await api('POST', '/admin/api/externalCredentials', {
      name: 'IdpCred',
      protocol: 'oauth2',
      flow: 'browser',
      authProvider: 'Ipd',
      principals: { Default: { type: 'named' } },
    })
    expect(ec.status).toBe(400)
    expect(ec.text).toMatch(/Idp/)
    const fixed = await api('POST', '/admin/api/externalCredentials', {
      name: 'IdpCred',
      protocol: 'oauth2',
      flow: 'browser',
      authProvider: 'Idp',
      principals: { Default: { type: 'named' } },
    })
    expect(fixed.status).toBe(201)
    const nc = await api('POST', '/admin/api/namedCredentials', {
      name: 'Api',
      label: '<script>alert(1)</script>',
      url: 'https://api.example.com/v1',
      externalCredential: 'IdpCred',
    })
    expect(nc.status).toBe(201)
    expect(nc.json.label).toBe('<script>alert(1)</script>')
    const status = await api('GET', '/admin/api/namedCredentials/Api/status')
    expect(status.json).toMatchObject({
      name: 'Api',
      principals: [{ principal: 'Default', status: 'not-configured' }],
    })
  })

  it('replaces an entry keeping the stored secret when it is left out, and replaces it when given', async () => {
    const { name: _name, consumerSecret: _secret, ...rest } = provider
    const kept = await api('PUT', '/admin/api/authProviders/Idp', {
      ...rest,
      consumerKey: 'client-2',
    })
    expect(kept.status).toBe(200)
    expect(c.broker.definitions.authProviders.get('Idp')?.consumerKey).toBe('client-2')
    expect(c.broker.definitions.authProviders.get('Idp')?.consumerSecret?.reveal()).toBe(CANARY)
    const replaced = await api('PUT', '/admin/api/authProviders/Idp', {
      ...rest,
      consumerSecret: `${CANARY}-2`,
    })
    expect(replaced.status).toBe(200)
    expect(c.broker.definitions.authProviders.get('Idp')?.consumerSecret?.reveal()).toBe(
      `${CANARY}-2`,
    )
  })

  it('refuses to delete a referenced definition, then deletes in order', async () => {
    const refused = await api('DELETE', '/admin/api/authProviders/Idp')
    expect(refused.status).toBe(400)
    expect(c.broker.definitions.authProviders.has('Idp')).toBe(true)
    expect((await api('DELETE', '/admin/api/namedCredentials/Api')).status).toBe(204)
    expect((await api('DELETE', '/admin/api/externalCredentials/IdpCred')).status).toBe(204)
    expect((await api('DELETE', '/admin/api/authProviders/Idp')).status).toBe(204)
    expect((await api('DELETE', '/admin/api/authProviders/Idp')).status).toBe(404)
  })

  it('refuses hostile bodies: not JSON, prototype keys, arrays, oversized', async () => {
    expect((await api('POST', '/admin/api/authProviders', '{"name":')).status).toBe(400)
    const proto = await api('POST', '/admin/api/authProviders', '{"name":"P","__proto__":{"x":1}}')
    expect(proto.status).toBe(400)
    expect((await api('POST', '/admin/api/authProviders', '[1,2]')).status).toBe(400)
    const big = await api('POST', '/admin/api/authProviders', {
      ...provider,
      name: 'Big',
      consumerKey: 'x'.repeat(200_000),
    })
    expect(big.status).toBe(413)
    const form = await api('POST', '/admin/api/authProviders', 'name=x', {
      'content-type': 'text/plain',
    })
    expect(form.status).toBe(400)
    expect(form.json.error.message).toMatch(/media type|content-type/i)
    expect(c.broker.definitions.authProviders.size).toBe(0)
  })

  it('creates a client key shown once, lists it without the key, and revokes it', async () => {
    await api('POST', '/admin/api/authProviders', provider)
    await api('POST', '/admin/api/externalCredentials', {
      name: 'IdpCred',
      protocol: 'oauth2',
      flow: 'browser',
      authProvider: 'Idp',
      principals: { Default: { type: 'named' } },
    })
    await api('POST', '/admin/api/namedCredentials', {
      name: 'Api',
      url: 'https://api.example.com',
      externalCredential: 'IdpCred',
    })
    const bad = await api('POST', '/admin/api/clientKeys', { name: 'ci', allow: ['Apx:GET'] })
    expect(bad.status).toBe(404)
    expect(bad.json.error.message).toContain('did you mean Api?')
    const created = await api('POST', '/admin/api/clientKeys', {
      name: 'ci',
      allow: ['Api:GET:/v1/*'],
    })
    expect(created.status).toBe(201)
    expect(created.json.key).toMatch(/^ck_[0-9a-f]{12}_/)
    const list = await api('GET', '/admin/api/clientKeys')
    expect(list.json).toMatchObject([
      { id: created.json.id, rules: ['Api:GET:/v1/*'], state: 'active' },
    ])
    expect(list.text).not.toContain(created.json.key)
    expect((await api('DELETE', `/admin/api/clientKeys/${created.json.id}`)).status).toBe(204)
    expect((await api('DELETE', `/admin/api/clientKeys/${created.json.id}`)).status).toBe(404)
    expect((await api('GET', '/admin/api/clientKeys')).json[0].state).toBe('revoked')
  })

  it('audits every change as the token, never with a secret', async () => {
    const entries = await c.store.admin.listAudit({ limit: 1000 })
    const actions = entries.map((e) => e.action)
    expect(actions).toEqual(
      expect.arrayContaining([
        'authProvider.create',
        'authProvider.update',
        'authProvider.delete',
        'externalCredential.create',
        'namedCredential.create',
        'namedCredential.delete',
        'clientKey.create',
        'clientKey.revoke',
      ]),
    )
    expect(entries.find((e) => e.action === 'authProvider.create')?.actor).toMatch(
      /^token:[0-9a-f]{12}$/,
    )
    expect(JSON.stringify(entries)).not.toContain(CANARY)
  })

  it('never answered with a secret', () => {
    for (const text of seen) expect(text).not.toContain(CANARY)
  })
})

describe('OpenAPI', () => {
  it('describes every operation, with the config schemas and write-only secrets', async () => {
    const res = await request(`${c.origin}/admin/openapi.json`)
    const doc = (await res.body.json()) as Json
    expect(doc.openapi).toBe('3.1.0')
    for (const op of ADMIN_OPERATIONS) {
      expect(doc.paths[op.path]?.[op.method.toLowerCase()]?.summary).toBe(op.summary)
    }
    const body =
      doc.paths['/admin/api/authProviders'].post.requestBody.content['application/json'].schema
    const schema = body.allOf[1]
    expect(schema.properties.type.enum).toEqual(['salesforce', 'oidc', 'oauth2'])
    expect(schema.properties.consumerSecret).toMatchObject({
      type: ['string', 'null'],
      writeOnly: true,
    })
    expect(schema.additionalProperties).toBe(false)
    // Every documented operation is served (a 401, not a 404, without a token).
    for (const op of ADMIN_OPERATIONS) {
      const path = op.path.replace(/\{\w+\}/g, 'x')
      const r = await request(`${c.origin}${path}`, { method: op.method as 'GET' })
      await r.body.text()
      expect(r.statusCode, `${op.method} ${path}`).toBe(401)
    }
  })
})

describe('OpenAPI: secret fields', () => {
  /** Every node of `schema` marked writeOnly, with its path. */
  function writeOnlyNodes(schema: Json, path = ''): [string, Json][] {
    if (schema === null || typeof schema !== 'object') return []
    if (schema.writeOnly === true) return [[path, schema]]
    return Object.entries(schema).flatMap(([k, v]) => writeOnlyNodes(v, `${path}/${k}`))
  }

  it('says that a secret left out keeps the stored one and null removes it, as PUT does', async () => {
    const doc = (await (await request(`${c.origin}/admin/openapi.json`)).body.json()) as Json
    const bodies = ['authProviders', 'externalCredentials', 'namedCredentials'].map(
      (section) =>
        doc.paths[`/admin/api/${section}/{name}`].put.requestBody.content['application/json']
          .schema,
    )
    const secrets = bodies.flatMap((body) => writeOnlyNodes(body))
    expect(secrets.map(([path]) => path)).toEqual(
      expect.arrayContaining([
        '/properties/consumerSecret',
        '/properties/clientPrivateKey',
        '/properties/principals/additionalProperties/properties/secrets/additionalProperties',
      ]),
    )
    for (const [path, node] of secrets) {
      expect(node.type, path).toEqual(['string', 'null'])
      expect(node.description, path).toMatch(/left out.*keeps the stored secret/)
      expect(node.description, path).toMatch(/null removes the stored secret/)
    }

    // On create, null is no secret.
    const created = await api('POST', '/admin/api/authProviders', {
      ...provider,
      name: 'Nullable',
      consumerSecret: null,
      clientAuth: 'none',
    })
    expect(created.status, created.text).toBe(201)
    expect(c.broker.definitions.authProviders.get('Nullable')?.consumerSecret).toBeUndefined()
    // What the document says is what PUT does.
    const { name: _name, consumerSecret: _secret, ...rest } = { ...provider, clientAuth: 'none' }
    const secret = () => c.broker.definitions.authProviders.get('Nullable')?.consumerSecret
    const given = await api('PUT', '/admin/api/authProviders/Nullable', {
      ...rest,
      consumerSecret: CANARY,
    })
    expect(given.status, given.text).toBe(200)
    expect((await api('PUT', '/admin/api/authProviders/Nullable', rest)).status).toBe(200)
    expect(secret()?.reveal()).toBe(CANARY)
    const removed = await api('PUT', '/admin/api/authProviders/Nullable', {
      ...rest,
      consumerSecret: null,
    })
    expect(removed.status, removed.text).toBe(200)
    expect(removed.json.consumerSecret).toBeUndefined()
    expect(secret()).toBeUndefined()
  })
})

describe('audit entries in the change’s transaction', () => {
  it('stores neither the change nor its entry when the audit write fails', async () => {
    // A real trigger in the store refuses the audit entry of one change.
    rawSqlite(
      join(rig.home, 'callout.db'),
      `create trigger refuse_audit before insert on admin_audit
       when new.target = 'AuthProvider/Refused'
       begin select raise(abort, 'audit refused'); end`,
    )
    const refused = await api('POST', '/admin/api/authProviders', { ...provider, name: 'Refused' })
    expect(refused.status).toBe(500)
    expect((await api('GET', '/admin/api/authProviders/Refused')).status).toBe(404)
    await c.broker.reload()
    expect(c.broker.definitions.authProviders.has('Refused')).toBe(false)
    const targets = (await c.store.admin.listAudit({ limit: 1000 })).map((e) => e.target)
    expect(targets).not.toContain('AuthProvider/Refused')
    expect(targets).toContain('AuthProvider/Idp')
  })
})
