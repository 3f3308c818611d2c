import { generateKeyPairSync } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { decodeJwt, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthProvider, ExternalCredential, Principal } from '../definitions/model.ts'
import { isCalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import { fetchIdentity } from './identity.ts'
import {
  buildJwtBearerAssertion,
  defaultJwtBearerAudience,
  jwtBearerGrant,
} from './oauth2-grants.ts'
import type { TokenSet } from './types.ts'

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
const clock = { now: () => 1_700_000_000_999 }
let server: Server
let base = ''
const forms: URLSearchParams[] = []
let identityAuth: string | undefined

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', async () => {
      if (req.url?.startsWith('/id/')) {
        identityAuth = req.headers.authorization
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({
            username: 'int@acme.test',
            user_id: '005000000000001AAA',
            organization_id: '00D000000000001AAA',
          }),
        )
        return
      }
      if (req.url === '/me') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ sub: 'u1', email: 'u1@example.test' }))
        return
      }
      const form = new URLSearchParams(body)
      forms.push(form)
      try {
        await jwtVerify(form.get('assertion') ?? '', publicKey, {
          audience: 'https://login.salesforce.com',
          issuer: 'ck',
          currentDate: new Date(clock.now()),
        })
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({
            access_token: 'AT',
            scope: 'api',
            instance_url: 'https://acme.my.salesforce.com',
            id: `${base}/id/00D000000000001AAA/005000000000001AAA`,
            token_type: 'Bearer',
          }),
        )
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end('{"error":"invalid_grant","error_description":"Audience validation failed"}')
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

const provider = (over: Partial<AuthProvider> = {}): AuthProvider => ({
  name: 'SF',
  type: 'salesforce',
  consumerKey: 'ck',
  usePkce: true,
  clientAuth: 'client_secret_post',
  allowInsecureHttp: false,
  ...over,
})
const ec = (over: Partial<ExternalCredential> = {}): ExternalCredential => ({
  name: 'SfJwt',
  protocol: 'oauth2',
  flow: 'jwt-bearer',
  additionalRefreshStatusCodes: [],
  authHeaders: [],
  principals: [],
  ...over,
})
const principal: Principal = {
  name: 'Int',
  type: 'named',
  sequence: 1,
  parameters: { username: 'int@acme.test' },
  secrets: { privateKey: new Secret(pkcs1) },
}

describe('jwtBearerGrant', () => {
  it('posts an RS256 assertion (PKCS#1 key) and reads the Salesforce response; no client secret → no client auth', async () => {
    forms.length = 0
    const tokens = await jwtBearerGrant(
      provider(),
      { tokenUrl: `${base}/token` },
      ec(),
      principal,
      { clock },
    )
    expect(tokens.accessToken.reveal()).toBe('AT')
    expect(tokens.instanceUrl).toBe('https://acme.my.salesforce.com')
    expect(tokens.expiresAt).toBeUndefined()
    const form = forms[0]!
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer')
    expect(form.get('client_secret')).toBeNull()
    const claims = decodeJwt(form.get('assertion')!)
    expect(claims).toMatchObject({
      iss: 'ck',
      sub: 'int@acme.test',
      aud: 'https://login.salesforce.com',
      iat: 1_700_000_000,
    })
    // seconds, not ms, and capped at 3 minutes for Salesforce
    expect(claims.exp).toBe(1_700_000_000 + 180)
    expect(typeof claims.jti).toBe('string')
  })

  it('a wrong audience comes back as OAUTH_ERROR with advice (not NEEDS_REAUTH)', async () => {
    const err = await jwtBearerGrant(
      provider(),
      { tokenUrl: `${base}/token` },
      ec({ jwt: { audience: 'https://wrong.test', validitySeconds: 60, algorithm: 'RS256' } }),
      principal,
      { clock },
    ).catch((e: unknown) => e)
    expect(isCalloutError(err, 'OAUTH_ERROR')).toBe(true)
    expect((err as Error).message).toMatch(/audience/i)
  })

  it('audience rules: login host origin for Salesforce, issuer/token URL otherwise', () => {
    expect(defaultJwtBearerAudience(provider(), { tokenUrl: 'x' })).toBe(
      'https://login.salesforce.com',
    )
    expect(
      defaultJwtBearerAudience(provider({ loginUrl: 'https://test.salesforce.com/' }), {
        tokenUrl: 'x',
      }),
    ).toBe('https://test.salesforce.com')
    expect(
      defaultJwtBearerAudience(provider({ loginUrl: 'https://acme.my.site.com/partners' }), {
        tokenUrl: 'x',
      }),
    ).toBe('https://acme.my.site.com/partners')
    expect(
      defaultJwtBearerAudience(provider({ type: 'oidc' }), {
        issuer: 'https://i',
        tokenUrl: 'https://i/t',
      }),
    ).toBe('https://i')
    expect(
      defaultJwtBearerAudience(provider({ type: 'oauth2' }), { tokenUrl: 'https://i/t' }),
    ).toBe('https://i/t')
  })

  it('uses jwt.subject when there is no username, and refuses missing keys or subjects', async () => {
    const p2: Principal = { ...principal, parameters: {} }
    const a = await buildJwtBearerAssertion(
      provider(),
      { tokenUrl: 't' },
      ec({ jwt: { subject: 'sub@x', validitySeconds: 100, algorithm: 'RS256' } }),
      p2,
      { clock },
    )
    expect(decodeJwt(a)).toMatchObject({ sub: 'sub@x', exp: 1_700_000_100 })
    const codes = await Promise.all([
      buildJwtBearerAssertion(provider(), { tokenUrl: 't' }, ec(), p2, { clock }).catch(
        (e: { code: string }) => e.code,
      ),
      buildJwtBearerAssertion(
        provider(),
        { tokenUrl: 't' },
        ec(),
        { ...principal, secrets: {} },
        { clock },
      ).catch((e: { code: string }) => e.code),
      buildJwtBearerAssertion(
        provider(),
        { tokenUrl: 't' },
        ec({ jwt: { validitySeconds: 60, algorithm: 'HS256' } }),
        principal,
        { clock },
      ).catch((e: { code: string }) => e.code),
      buildJwtBearerAssertion(
        provider(),
        { tokenUrl: 't' },
        ec(),
        { ...principal, secrets: { privateKey: new Secret('garbage') } },
        { clock },
      ).catch((e: { code: string }) => e.code),
    ])
    expect(codes).toEqual(['CONFIG_INVALID', 'CONFIG_INVALID', 'CONFIG_INVALID', 'CONFIG_INVALID'])
  })
})

describe('fetchIdentity', () => {
  const tokens = (over: Partial<TokenSet> = {}): TokenSet => ({
    accessToken: new Secret('AT'),
    tokenType: 'Bearer',
    issuedAt: 0,
    ...over,
  })

  it('Salesforce: GETs the id URL with Bearer and merges username, user and org', async () => {
    const idUrl = `${base}/id/00D000000000001AAA/005000000000001AAA`
    const identity = await fetchIdentity(
      provider(),
      { tokenUrl: 't' },
      tokens({ identity: { idUrl } }),
    )
    expect(identity).toEqual({
      idUrl,
      username: 'int@acme.test',
      userId: '005000000000001AAA',
      orgId: '00D000000000001AAA',
    })
    expect(identityAuth).toBe('Bearer AT')
  })

  it('OIDC: userinfo preferred_username, else email, else sub', async () => {
    const identity = await fetchIdentity(
      provider({ type: 'oidc' }),
      { tokenUrl: 't', userInfoUrl: `${base}/me` },
      tokens(),
    )
    expect(identity).toEqual({ username: 'u1@example.test', userId: 'u1' })
  })

  it('is non-fatal: failures return what is known', async () => {
    const known = { idUrl: `${base}/nope` }
    expect(await fetchIdentity(provider(), { tokenUrl: 't' }, tokens({ identity: known }))).toEqual(
      known,
    )
    expect(await fetchIdentity(provider(), { tokenUrl: 't' }, tokens())).toEqual({})
    // never sends the token to a non-https, non-loopback URL
    const insecure = { idUrl: 'http://evil.test/id/x/y' }
    expect(
      await fetchIdentity(provider(), { tokenUrl: 't' }, tokens({ identity: insecure })),
    ).toEqual(insecure)
    expect(
      await fetchIdentity(
        provider({ type: 'oidc' }),
        { tokenUrl: 't', userInfoUrl: 'http://127.0.0.1:1/me' },
        tokens(),
      ),
    ).toEqual({})
  })
})
