import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exportSPKI, generateKeyPair, importPKCS8, SignJWT, type CryptoKey } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'
import { Browser } from './helpers/browser.ts'
import { getJson, postForm } from './helpers/oauth.ts'

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** A real self-signed X.509 certificate and its private key, made with openssl. */
function selfSignedCertificate(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sfemu-jwt-'))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=callout-test',
    ],
    { stdio: 'ignore' },
  )
  return {
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
  }
}

describe('JWT bearer flow', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let privateKey: CryptoKey
  let otherKey: CryptoKey
  let x509: { cert: string; key: string } | undefined
  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true })
    privateKey = pair.privateKey
    otherKey = (await generateKeyPair('RS256')).privateKey
    x509 = hasOpenssl() ? selfSignedCertificate() : undefined
    emulator = await startEmulator({
      orgs: [
        {
          name: 'jwt',
          users: [{ username: 'svc@jwt.example' }, { username: 'off@jwt.example', active: false }],
          connectedApps: [
            {
              name: 'Jwt',
              callbackUrls: ['http://localhost/cb'],
              certificate: await exportSPKI(pair.publicKey),
            },
            {
              name: 'NotPre',
              callbackUrls: ['http://localhost/cb'],
              certificate: await exportSPKI(pair.publicKey),
              adminPreAuthorized: false,
            },
            { name: 'NoCert', callbackUrls: ['http://localhost/cb'] },
            ...(x509 === undefined
              ? []
              : [{ name: 'X509', callbackUrls: ['http://localhost/cb'], certificate: x509.cert }]),
          ],
        },
      ],
    })
    org = emulator.org('jwt')
  })
  afterAll(async () => {
    await emulator.close()
  })

  const assertion = async (
    claims: { iss?: string; sub?: string; aud?: string; exp?: number },
    key: CryptoKey = privateKey,
  ): Promise<string> => {
    const jwt = new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(claims.iss ?? org.connectedApp('Jwt').consumerKey)
      .setSubject(claims.sub ?? 'svc@jwt.example')
      .setAudience(claims.aud ?? 'https://login.salesforce.com')
    jwt.setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 180)
    return jwt.sign(key)
  }
  const grant = async (a: string) =>
    postForm(`${org.instanceUrl}/services/oauth2/token`, { grant_type: JWT_GRANT, assertion: a })

  it('issues a token without refresh token, signature or issued_at', async () => {
    const res = await grant(await assertion({}))
    expect(res.status).toBe(200)
    expect(Object.keys(res.body).sort()).toEqual([
      'access_token',
      'id',
      'instance_url',
      'scope',
      'token_type',
    ])
    expect(res.body.access_token).toMatch(/^00D[0-9A-Za-z]{12}!/)
    expect(
      (await getJson(`${org.instanceUrl}/services/data/v61.0/`, res.body.access_token)).status,
    ).toBe(200)
  })

  it('accepts test.salesforce.com and the org origin as audience, and exp in milliseconds', async () => {
    expect((await grant(await assertion({ aud: 'https://test.salesforce.com' }))).status).toBe(200)
    expect((await grant(await assertion({ aud: org.instanceUrl }))).status).toBe(200)
    expect((await grant(await assertion({ exp: Date.now() + 180_000 }))).status).toBe(200)
  })

  it.skipIf(!hasOpenssl())('verifies against an uploaded X.509 certificate', async () => {
    const key = await importPKCS8(x509?.key ?? '', 'RS256')
    const res = await grant(await assertion({ iss: org.connectedApp('X509').consumerKey }, key))
    expect(res.status).toBe(200)
  })

  const failures: [string, () => Promise<string>, string, string][] = [
    [
      'a bad signature',
      () => assertion({}, otherKey),
      'invalid_client',
      'invalid client credentials',
    ],
    [
      'a wrong audience',
      () => assertion({ aud: 'https://evil.example' }),
      'invalid_grant',
      'audience is invalid',
    ],
    [
      'an expired assertion',
      () => assertion({ exp: Math.floor(Date.now() / 1000) - 10 }),
      'invalid_grant',
      'invalid assertion',
    ],
    [
      'an unknown issuer',
      () => assertion({ iss: 'nope' }),
      'invalid_client_id',
      'client identifier invalid',
    ],
    [
      'an app without certificate',
      () => assertion({ iss: org.connectedApp('NoCert').consumerKey }),
      'invalid_client',
      'invalid client credentials',
    ],
    [
      'an unknown user',
      () => assertion({ sub: 'who@jwt.example' }),
      'invalid_grant',
      "user hasn't approved this consumer",
    ],
    [
      'an inactive user',
      () => assertion({ sub: 'off@jwt.example' }),
      'inactive_user',
      'user is inactive',
    ],
    [
      'an app that is not pre-authorized',
      () => assertion({ iss: org.connectedApp('NotPre').consumerKey }),
      'invalid_grant',
      "user hasn't approved this consumer",
    ],
    ['a malformed assertion', async () => 'not-a-jwt', 'invalid_grant', 'invalid assertion'],
  ]
  for (const [name, make, error, description] of failures) {
    it(`answers ${error} for ${name}`, async () => {
      const res = await grant(await make())
      expect(res.status).toBe(400)
      expect(res.body).toEqual({ error, error_description: description })
    })
  }
})

describe('device flow', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  beforeAll(async () => {
    emulator = await startEmulator({ orgs: [{ name: 'dev', deviceFlowIntervalSeconds: 0 }] })
    org = emulator.org('dev')
  })
  afterAll(async () => {
    await emulator.close()
  })

  const start = () =>
    postForm(`${org.instanceUrl}/services/oauth2/token`, {
      response_type: 'device_code',
      client_id: org.connectedApp().consumerKey,
      scope: 'api refresh_token',
    })
  const poll = (code: string) =>
    postForm(`${org.instanceUrl}/services/oauth2/token`, {
      grant_type: 'device',
      client_id: org.connectedApp().consumerKey,
      code,
    })

  it('goes pending → approved on the verification page → tokens with a refresh token', async () => {
    const started = await start()
    expect(started.status).toBe(200)
    expect(started.body).toMatchObject({
      verification_uri: `${org.loginUrl}/setup/connect`,
      interval: 0,
    })
    expect(started.body.user_code).toMatch(/^[A-Z0-9]{8}$/)
    expect((await poll(started.body.device_code)).body).toEqual({
      error: 'authorization_pending',
      error_description: 'authorization pending',
    })
    const browser = new Browser()
    const page = await browser.get(`${org.loginUrl}/setup/connect`)
    expect(page.html).toContain('id="device"')
    const done = await browser.post(`${org.loginUrl}/setup/connect`, {
      user_code: started.body.user_code.toLowerCase(),
      username: org.user().username,
      pw: org.user().password,
      action: 'approve',
    })
    expect(done.html).toContain('Your device is connected.')
    const tokens = await poll(started.body.device_code)
    expect(tokens.status).toBe(200)
    expect(tokens.body.refresh_token).toMatch(/^5Aep861/)
    expect(tokens.body.scope).toBe('api refresh_token')
    expect((await poll(started.body.device_code)).body.error).toBe('invalid_grant')
    expect(emulator.requestLog.tokenRequests('device_code')).toBe(1)
    expect(emulator.requestLog.tokenRequests('device')).toBe(3)
  })

  it('answers access_denied after the user denies', async () => {
    const started = await start()
    const browser = new Browser()
    await browser.post(`${org.loginUrl}/setup/connect`, {
      user_code: started.body.user_code,
      username: org.user().username,
      pw: org.user().password,
      action: 'deny',
    })
    expect((await poll(started.body.device_code)).body).toEqual({
      error: 'access_denied',
      error_description: 'end-user denied authorization',
    })
  })

  it('answers slow_down when polled faster than the interval', async () => {
    const slow = await startEmulator({ orgs: [{ name: 'slow', deviceFlowIntervalSeconds: 5 }] })
    try {
      const o = slow.org()
      const s = await postForm(`${o.instanceUrl}/services/oauth2/token`, {
        response_type: 'device_code',
        client_id: o.connectedApp().consumerKey,
      })
      const p = () =>
        postForm(`${o.instanceUrl}/services/oauth2/token`, {
          grant_type: 'device',
          client_id: o.connectedApp().consumerKey,
          code: s.body.device_code,
        })
      expect((await p()).body.error).toBe('authorization_pending')
      expect((await p()).body.error).toBe('slow_down')
    } finally {
      await slow.close()
    }
  })

  it('refuses the device flow for apps without it', async () => {
    const app = org.addConnectedApp({ name: 'NoDevice', callbackUrls: ['http://localhost/cb'] })
    const res = await postForm(`${org.instanceUrl}/services/oauth2/token`, {
      response_type: 'device_code',
      client_id: app.consumerKey,
    })
    expect(res.body.error).toBe('oauth_flow_disabled')
  })
})
