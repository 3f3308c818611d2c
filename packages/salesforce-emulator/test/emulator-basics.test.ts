import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isValidId } from '../src/data/ids.ts'
import { SeedError, startEmulator, validateSeed, type Emulator } from '../src/index.ts'
import { getJson } from './helpers/oauth.ts'

describe('emulator basics (default seed)', () => {
  let emulator: Emulator
  beforeAll(async () => {
    emulator = await startEmulator()
  })
  afterAll(async () => {
    await emulator.close()
  })

  it('starts one org named default with a user and a connected app', () => {
    const org = emulator.org()
    expect(org.name).toBe('default')
    expect(emulator.org('default')).toBe(org)
    expect(org.instanceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(org.loginUrl).toBe(org.instanceUrl)
    expect(org.orgId).toMatch(/^00D[0-9A-Za-z]{15}$/)
    expect(isValidId(org.orgId)).toBe(true)
    const user = org.user()
    expect(user.username).toBe('admin@callout.example')
    expect(user.userId).toMatch(/^005[0-9A-Za-z]{15}$/)
    expect(user.password.length).toBeGreaterThan(8)
    const app = org.connectedApp()
    expect(app.consumerKey).toMatch(/^3MVG9/)
    expect(app.callbackUrls).toEqual([
      'http://127.0.0.1/callback',
      'http://localhost:1717/OauthRedirect',
    ])
    expect(app.scopes).toEqual([
      'api',
      'refresh_token',
      'full',
      'openid',
      'web',
      'id',
      'offline_access',
    ])
    expect(() => emulator.org('nope')).toThrow(/no org named nope/)
  })

  it('lists API versions without authentication and without Sforce-Limit-Info', async () => {
    const res = await getJson(`${emulator.org().instanceUrl}/services/data/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8')
    expect(res.headers.get('sforce-limit-info')).toBeNull()
    const versions = res.body as { label: string; url: string; version: string }[]
    expect(versions[0]).toEqual({
      label: "Summer '14",
      url: '/services/data/v31.0',
      version: '31.0',
    })
    expect(versions).toContainEqual({
      label: "Winter '23",
      url: '/services/data/v56.0',
      version: '56.0',
    })
    expect(versions.map((v) => v.version)).toContain('50.0')
    expect(versions.map((v) => v.version)).toContain('51.0')
    expect(versions.every((v) => /^[1-9]\d\.0$/.test(v.version))).toBe(true)
  })

  it('serves the resource map with an absolute identity URL, collapsing repeated slashes', async () => {
    const org = emulator.org()
    const { accessToken } = org.issueTokens()
    const res = await getJson(`${org.instanceUrl}//services/data/v61.0/`, accessToken)
    expect(res.status).toBe(200)
    expect(res.body.sobjects).toBe('/services/data/v61.0/sobjects')
    expect(res.body.query).toBe('/services/data/v61.0/query')
    expect(res.body.limits).toBe('/services/data/v61.0/limits')
    expect(res.body.identity).toBe(`${org.instanceUrl}/id/${org.orgId}/${org.user().userId}`)
    expect(res.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/15000$/)
  })

  it('answers 404 NOT_FOUND for an unknown version', async () => {
    const org = emulator.org()
    const { accessToken } = org.issueTokens()
    for (const v of ['v99.0', 'v20.0', 'v61']) {
      const res = await getJson(`${org.instanceUrl}/services/data/${v}/sobjects`, accessToken)
      expect(res.status).toBe(404)
      expect(res.body).toEqual([
        { message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' },
      ])
    }
  })

  it('serves limits with DailyApiRequests counting real usage', async () => {
    const org = emulator.org()
    const { accessToken } = org.issueTokens()
    const res = await getJson(`${org.instanceUrl}/services/data/v61.0/limits`, accessToken)
    expect(res.status).toBe(200)
    const used = Number(/api-usage=(\d+)\//.exec(res.headers.get('sforce-limit-info') ?? '')?.[1])
    expect(res.body.DailyApiRequests).toEqual({ Max: 15000, Remaining: 15000 - used })
  })

  it('serves the OpenID discovery document', async () => {
    const org = emulator.org()
    const res = await getJson(`${org.instanceUrl}/.well-known/openid-configuration`)
    expect(res.status).toBe(200)
    expect(res.body.issuer).toBe(org.loginUrl)
    expect(res.body.token_endpoint).toBe(`${org.loginUrl}/services/oauth2/token`)
    expect(res.body.authorization_endpoint).toBe(`${org.loginUrl}/services/oauth2/authorize`)
  })

  it('answers unknown paths with a 404 error array', async () => {
    const res = await getJson(`${emulator.org().instanceUrl}/nope`)
    expect(res.status).toBe(404)
    expect(res.body).toEqual([
      { message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' },
    ])
  })
})

describe('several orgs, Lightning and login origins, seed files', () => {
  let emulator: Emulator
  beforeAll(async () => {
    emulator = await startEmulator({
      orgs: [
        { name: 'source', lightning: true },
        {
          name: 'target',
          separateLoginOrigin: true,
          users: [{ username: 'integration@target.example', password: 'Secret-1' }],
          connectedApps: [
            { name: 'NC', callbackUrls: ['http://127.0.0.1:9/services/authcallback/Target'] },
          ],
        },
      ],
    })
  })
  afterAll(async () => {
    await emulator.close()
  })

  it('gives each org its own origin and id', () => {
    const [source, target] = emulator.orgs
    expect(source?.instanceUrl).not.toBe(target?.instanceUrl)
    expect(source?.orgId).not.toBe(target?.orgId)
    expect(target?.loginUrl).not.toBe(target?.instanceUrl)
    expect(source?.user().username).toBe('admin@source.callout.example')
  })

  it('redirects every request on the Lightning origin to the instance origin', async () => {
    const source = emulator.org('source')
    expect(source.lightningUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const res = await fetch(
      `${source.lightningUrl}/services/data/v61.0/query?q=SELECT+Id+FROM+Account`,
      {
        redirect: 'manual',
      },
    )
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe(
      `${source.instanceUrl}/services/data/v61.0/query?q=SELECT+Id+FROM+Account`,
    )
  })

  it('puts the identity URL on the login origin when it is separate', async () => {
    const target = emulator.org('target')
    const res = await fetch(`${target.loginUrl}/services/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: target.connectedApp().consumerKey,
        client_secret: target.connectedApp().consumerSecret,
        username: 'integration@target.example',
        password: 'Secret-1',
      }),
    })
    const body = (await res.json()) as Record<string, string>
    expect(res.status).toBe(200)
    expect(body['instance_url']).toBe(target.instanceUrl)
    expect(body['id']).toBe(`${target.loginUrl}/id/${target.orgId}/${target.user().userId}`)
  })

  it('loads a YAML seed file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfemu-'))
    const file = join(dir, 'seed.yaml')
    writeFileSync(
      file,
      [
        'orgs:',
        '  - name: yamlorg',
        '    sessionTimeoutSeconds: 900',
        '    users:',
        '      - { username: a@yaml.example, password: pw-1 }',
        '    connectedApps:',
        '      - name: App',
        '        consumerKey: KEY123',
        '        consumerSecret: SECRET123',
        '        callbackUrls: [http://localhost/cb]',
        '        scopes: api refresh_token',
        '        refreshTokenPolicy: { kind: expire-after, seconds: 60 }',
      ].join('\n'),
    )
    const emu = await startEmulator(file)
    try {
      const org = emu.org('yamlorg')
      expect(org.connectedApp().consumerKey).toBe('KEY123')
      expect(org.connectedApp().scopes).toEqual(['api', 'refresh_token'])
      expect(org.user().password).toBe('pw-1')
    } finally {
      await emu.close()
    }
  })
})

describe('seed validation', () => {
  const cases: [string, unknown, RegExp][] = [
    ['non-object', 42, /seed: expected an object/],
    ['unknown key', { orgz: [] }, /seed\.orgz: unknown property/],
    ['org without name', { orgs: [{}] }, /seed\.orgs\[0\]\.name: is required/],
    [
      'bad username',
      { orgs: [{ name: 'a', users: [{ username: 'nope' }] }] },
      /users\[0\]\.username: expected an e-mail-shaped/,
    ],
    [
      'duplicate usernames across orgs',
      {
        orgs: [
          { name: 'a', users: [{ username: 'x@y.z' }] },
          { name: 'b', users: [{ username: 'X@y.z' }] },
        ],
      },
      /usernames are global/,
    ],
    [
      'app without callbacks',
      { orgs: [{ name: 'a', connectedApps: [{ name: 'x' }] }] },
      /callbackUrls: is required/,
    ],
    [
      'bad policy',
      {
        orgs: [
          {
            name: 'a',
            connectedApps: [
              { name: 'x', callbackUrls: ['c'], refreshTokenPolicy: { kind: 'never' } },
            ],
          },
        ],
      },
      /refreshTokenPolicy\.kind: expected 'until-revoked'/,
    ],
    [
      'bad certificate',
      {
        orgs: [
          { name: 'a', connectedApps: [{ name: 'x', callbackUrls: ['c'], certificate: 'hello' }] },
        ],
      },
      /certificate: expected a PEM/,
    ],
    [
      'unknown run-as user',
      {
        orgs: [
          {
            name: 'a',
            connectedApps: [{ name: 'x', callbackUrls: ['c'], clientCredentialsUser: 'who@x.y' }],
          },
        ],
      },
      /clientCredentialsUser: no user who@x\.y/,
    ],
    [
      'bad custom object name',
      { orgs: [{ name: 'a', customObjects: [{ name: 'Invoice', fields: [] }] }] },
      /ending in __c/,
    ],
    ['bad port', { orgs: [{ name: 'a', port: 70000 }] }, /port: expected an integer/],
  ]
  for (const [name, seed, message] of cases) {
    it(`rejects ${name}`, () => {
      expect(() => validateSeed(seed)).toThrow(message)
      try {
        validateSeed(seed)
      } catch (err) {
        expect(err).toBeInstanceOf(SeedError)
        expect((err as SeedError).code).toBe('INVALID_SEED')
      }
    })
  }

  it('rejects an invalid seed in startEmulator without leaving listeners', async () => {
    await expect(startEmulator({ orgs: [{ name: '' }] })).rejects.toThrow(SeedError)
  })
})
