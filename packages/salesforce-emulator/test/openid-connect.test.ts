/**
 * OpenID Connect fidelity: the signed `id_token` (verified with jose against the org's JWKS found
 * through discovery), userinfo claims, and the JWT bearer `prn` claim.
 */
import { createHash } from 'node:crypto'
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  exportSPKI,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWTPayload,
} from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'
import { authorize, authorizeUrl, getJson, pkcePair, postForm } from './helpers/oauth.ts'

const CALLBACK = 'http://localhost:1717/OauthRedirect'
const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

describe('OpenID Connect and identity', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let other: EmulatedOrg
  let privateKey: CryptoKey

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256')
    privateKey = pair.privateKey
    emulator = await startEmulator({
      orgs: [
        {
          name: 'oidc',
          separateLoginOrigin: true,
          users: [
            { username: 'ada@oidc.example', password: 'Ada-Pass-1', name: 'Ada Lovelace' },
            { username: 'bob@oidc.example', name: 'Bob Byte' },
          ],
          connectedApps: [
            {
              name: 'Web',
              callbackUrls: [CALLBACK],
              certificate: await exportSPKI(pair.publicKey),
              clientCredentialsUser: 'bob@oidc.example',
            },
          ],
        },
        { name: 'elsewhere' },
      ],
    })
    org = emulator.org('oidc')
    other = emulator.org('elsewhere')
  })
  afterAll(async () => {
    await emulator.close()
  })

  const token = (fields: Record<string, string>) =>
    postForm(`${org.loginUrl}/services/oauth2/token`, fields)

  const codeFlow = async (scope: string, extra: Record<string, string> = {}) => {
    const app = org.connectedApp('Web')
    const pkce = pkcePair()
    const outcome = await authorize(
      authorizeUrl(org.loginUrl, {
        client_id: app.consumerKey,
        redirect_uri: CALLBACK,
        scope,
        code_challenge: pkce.challenge,
        ...extra,
      }),
      { username: 'ada@oidc.example', password: 'Ada-Pass-1' },
    )
    return token({
      grant_type: 'authorization_code',
      code: outcome.params.get('code') ?? '',
      client_id: app.consumerKey,
      client_secret: app.consumerSecret,
      redirect_uri: CALLBACK,
      code_verifier: pkce.verifier,
    })
  }

  /** Verifies an id_token the way an OIDC client does: discovery → jwks_uri → signature. */
  const verify = async (idToken: string, target = org): Promise<JWTPayload> => {
    const discovery = await getJson(`${target.loginUrl}/.well-known/openid-configuration`)
    const jwks = createRemoteJWKSet(new URL(discovery.body.jwks_uri as string))
    const { payload } = await jwtVerify(idToken, jwks, {
      issuer: discovery.body.issuer as string,
      audience: org.connectedApp('Web').consumerKey,
      algorithms: ['RS256'],
    })
    return payload
  }

  it('adds a signed id_token with kid, at_hash and nonce when openid is granted', async () => {
    const res = await codeFlow('api refresh_token openid', { nonce: 'n-0S6_WzA2Mj' })
    expect(res.status).toBe(200)
    const idToken = res.body.id_token as string
    expect(Object.keys(res.body)).toEqual([
      'access_token',
      'refresh_token',
      'signature',
      'scope',
      'id_token',
      'instance_url',
      'id',
      'token_type',
      'issued_at',
    ])
    const header = decodeProtectedHeader(idToken)
    expect(header.alg).toBe('RS256')
    const keys = await getJson(`${org.loginUrl}/id/keys`)
    expect(keys.status).toBe(200)
    expect(keys.body.keys).toHaveLength(1)
    expect(keys.body.keys[0]).toMatchObject({
      kty: 'RSA',
      alg: 'RS256',
      use: 'sig',
      kid: header.kid,
    })
    expect(keys.body.keys[0].d).toBeUndefined()

    const claims = await verify(idToken)
    const user = org.user('ada@oidc.example')
    expect(claims).toMatchObject({
      iss: org.loginUrl,
      sub: res.body.id,
      aud: org.connectedApp('Web').consumerKey,
      nonce: 'n-0S6_WzA2Mj',
      user_id: user.userId,
      organization_id: org.orgId,
      preferred_username: 'ada@oidc.example',
      name: 'Ada Lovelace',
      given_name: 'Ada',
      family_name: 'Lovelace',
    })
    const hash = createHash('sha256')
      .update(res.body.access_token as string)
      .digest()
    expect(claims.at_hash).toBe(hash.subarray(0, 16).toString('base64url'))
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(300)
  })

  it('signs with a key of its own: another org’s JWKS does not verify it', async () => {
    const res = await codeFlow('api openid')
    await expect(verify(res.body.id_token as string, other)).rejects.toThrow()
    const tampered = (res.body.id_token as string).replace(/\.([^.]+)\./, (_m, body: string) => {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<
        string,
        unknown
      >
      return `.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone else' })).toString('base64url')}.`
    })
    await expect(verify(tampered)).rejects.toThrow()
  })

  it('issues no id_token without openid, nor to JWT bearer or client credentials', async () => {
    const res = await codeFlow('api refresh_token')
    expect(res.status).toBe(200)
    expect(res.body.id_token).toBeUndefined()
    const app = org.connectedApp('Web')
    const cc = await token({
      grant_type: 'client_credentials',
      client_id: app.consumerKey,
      client_secret: app.consumerSecret,
    })
    expect(cc.status).toBe(200)
    expect(cc.body.scope).toContain('openid')
    expect(cc.body.id_token).toBeUndefined()
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(app.consumerKey)
      .setSubject('ada@oidc.example')
      .setAudience('https://login.salesforce.com')
      .setExpirationTime('3m')
      .sign(privateKey)
    const jwt = await token({ grant_type: JWT_GRANT, assertion })
    expect(jwt.status).toBe(200)
    expect(jwt.body.id_token).toBeUndefined()
  })

  it('adds a fresh id_token (no nonce) on refresh', async () => {
    const first = await codeFlow('api refresh_token openid', { nonce: 'once' })
    const app = org.connectedApp('Web')
    const refreshed = await token({
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token as string,
      client_id: app.consumerKey,
    })
    expect(refreshed.status).toBe(200)
    const claims = await verify(refreshed.body.id_token as string)
    expect(claims.nonce).toBeUndefined()
    expect(claims.sub).toBe(first.body.id)
  })

  it('returns the id_token in the fragment for response_type=token id_token', async () => {
    const app = org.connectedApp('Web')
    const outcome = await authorize(
      authorizeUrl(org.loginUrl, {
        response_type: 'token id_token',
        client_id: app.consumerKey,
        redirect_uri: CALLBACK,
        scope: 'api openid',
        nonce: 'frag-nonce',
      }),
      { username: 'ada@oidc.example', password: 'Ada-Pass-1' },
    )
    expect(outcome.location).toContain('#')
    const claims = await verify(outcome.params.get('id_token') ?? '')
    expect(claims.nonce).toBe('frag-nonce')
  })

  it('publishes jwks_uri and the claims in discovery', async () => {
    const res = await getJson(`${org.loginUrl}/.well-known/openid-configuration`)
    expect(res.body.jwks_uri).toBe(`${org.loginUrl}/id/keys`)
    expect(res.body.id_token_signing_alg_values_supported).toEqual(['RS256'])
    expect(res.body.response_types_supported).toContain('token id_token')
    expect(res.body.claims_supported).toEqual(
      expect.arrayContaining(['picture', 'photos', 'address', 'is_salesforce_integration_user']),
    )
  })

  it('answers userinfo with picture, photos, address and is_salesforce_integration_user', async () => {
    const { accessToken } = org.issueTokens({ username: 'ada@oidc.example', app: 'Web' })
    const res = await getJson(`${org.loginUrl}/services/oauth2/userinfo`, accessToken)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      sub: `${org.loginUrl}/id/${org.orgId}/${org.user('ada@oidc.example').userId}`,
      picture: `${org.instanceUrl}/profilephoto/005/F`,
      photos: {
        picture: `${org.instanceUrl}/profilephoto/005/F`,
        thumbnail: `${org.instanceUrl}/profilephoto/005/T`,
      },
      address: {},
      is_salesforce_integration_user: false,
      email_verified: true,
    })
  })

  describe('JWT bearer subject: prn wins over sub', () => {
    const bearer = async (claims: Record<string, string>, subject?: string) => {
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(org.connectedApp('Web').consumerKey)
        .setAudience('https://login.salesforce.com')
        .setExpirationTime('3m')
      if (subject !== undefined) jwt.setSubject(subject)
      return token({ grant_type: JWT_GRANT, assertion: await jwt.sign(privateKey) })
    }
    const userOf = (res: { body: { id?: string } }) => res.body.id?.split('/').at(-1)

    it('authenticates the prn user when the assertion has no sub', async () => {
      const res = await bearer({ prn: 'bob@oidc.example' })
      expect(res.status).toBe(200)
      expect(userOf(res)).toBe(org.user('bob@oidc.example').userId)
    })

    it('authenticates the prn user, not the sub user, when both are present', async () => {
      const res = await bearer({ prn: 'bob@oidc.example' }, 'ada@oidc.example')
      expect(res.status).toBe(200)
      expect(userOf(res)).toBe(org.user('bob@oidc.example').userId)
    })

    it('refuses an unknown prn even with a valid sub, and an assertion with neither', async () => {
      const unknown = await bearer({ prn: 'ghost@oidc.example' }, 'ada@oidc.example')
      expect(unknown.status).toBe(400)
      expect(unknown.body).toEqual({
        error: 'invalid_grant',
        error_description: "user hasn't approved this consumer",
      })
      const none = await bearer({})
      expect(none.body).toEqual({ error: 'invalid_grant', error_description: 'invalid assertion' })
    })
  })
})
