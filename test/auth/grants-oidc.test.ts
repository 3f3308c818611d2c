/**
 * The grants against a real authorization server (oidc-provider 9, in-process on port 0).
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { exportJWK, importSPKI } from 'jose'
import type { AuthProvider, ExternalCredential, Principal } from '../../src/definitions/model.ts'
import { isCalloutError } from '../../src/errors.ts'
import { Secret } from '../../src/secrets/secret.ts'
import {
  createAuthorizationRequest,
  buildAuthorizationUrl,
  validateCallback,
} from '../../src/auth/authorization-code.ts'
import { EndpointCache, resolveEndpoints } from '../../src/auth/endpoints.ts'
import {
  authorizationCodeGrant,
  clientCredentialsGrant,
  refreshTokenGrant,
} from '../../src/auth/oauth2-grants.ts'
import type { ProviderEndpoints } from '../../src/auth/types.ts'
import { startOidcServer, type OidcTestServer } from '../helpers/oidc-server.ts'

const REDIRECT = 'http://127.0.0.1:9/callback'
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

let server: OidcTestServer
let endpoints: ProviderEndpoints

function authProvider(over: Partial<AuthProvider> = {}): AuthProvider {
  return {
    name: 'Idp',
    type: 'oidc',
    consumerKey: 'web',
    consumerSecret: new Secret('web-secret'),
    issuer: server.issuer,
    usePkce: true,
    clientAuth: 'client_secret_basic',
    allowInsecureHttp: false,
    defaultScopes: 'openid email profile',
    ...over,
  }
}
const ec: ExternalCredential = {
  name: 'IdpApi',
  protocol: 'oauth2',
  flow: 'browser',
  authProvider: 'Idp',
  additionalRefreshStatusCodes: [],
  authHeaders: [],
  principals: [],
}
const principal: Principal = {
  name: 'Main',
  type: 'named',
  sequence: 1,
  parameters: {},
  secrets: {},
}

beforeAll(async () => {
  const jwk = await exportJWK(
    await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'RS256'),
  )
  server = await startOidcServer({
    clients: [
      { clientId: 'web', clientSecret: 'web-secret', redirectUris: [REDIRECT] },
      { clientId: 'cc-basic', clientSecret: 'cc-secret', grantTypes: ['client_credentials'] },
      {
        clientId: 'cc-post',
        clientSecret: 'cc-secret',
        authMethod: 'client_secret_post',
        grantTypes: ['client_credentials'],
      },
      {
        clientId: 'cc-jwt',
        authMethod: 'private_key_jwt',
        grantTypes: ['client_credentials'],
        jwks: { keys: [{ ...jwk, alg: 'RS256', use: 'sig' }] },
      },
    ],
  })
  endpoints = await resolveEndpoints(authProvider(), { cache: new EndpointCache() })
})
afterAll(async () => {
  await server?.close()
})

describe('resolveEndpoints (oidc discovery)', () => {
  it('reads the discovery document', () => {
    expect(endpoints.issuer).toBe(server.issuer)
    expect(endpoints.tokenUrl).toBe(server.tokenUrl)
    expect(endpoints.authorizeUrl).toBe(server.authorizeUrl)
    expect(endpoints.revokeUrl).toBe(server.revokeUrl)
    expect(endpoints.userInfoUrl).toBe(server.userInfoUrl)
  })

  it('rejects an issuer that does not match the document', async () => {
    const other = server.issuer.replace('127.0.0.1', 'localhost')
    const err = await resolveEndpoints(authProvider({ issuer: other }), {
      cache: new EndpointCache(),
    }).catch((e: unknown) => e)
    expect(isCalloutError(err, 'CONFIG_INVALID')).toBe(true)
  })
})

describe('clientCredentialsGrant', () => {
  it.each([
    ['client_secret_basic', 'cc-basic'],
    ['client_secret_post', 'cc-post'],
  ] as const)('authenticates with %s', async (clientAuth, clientId) => {
    const before = server.tokenRequests
    const tokens = await clientCredentialsGrant(
      authProvider({
        consumerKey: clientId,
        consumerSecret: new Secret('cc-secret'),
        clientAuth,
        defaultScopes: '',
      }),
      endpoints,
      ec,
      principal,
    )
    expect(server.tokenRequests).toBe(before + 1)
    expect(tokens.accessToken.reveal().length).toBeGreaterThan(10)
    expect(tokens.tokenType).toBe('Bearer')
    expect(tokens.expiresAt).toBeGreaterThan(Date.now())
    expect(tokens.refreshToken).toBeUndefined()
  })

  it('authenticates with private_key_jwt', async () => {
    const tokens = await clientCredentialsGrant(
      authProvider({
        consumerKey: 'cc-jwt',
        clientAuth: 'private_key_jwt',
        clientPrivateKey: new Secret(privatePem),
        defaultScopes: '',
      }),
      endpoints,
      ec,
      principal,
    )
    expect(tokens.accessToken.reveal().length).toBeGreaterThan(10)
  })

  it('maps a wrong secret to OAUTH_CLIENT_INVALID', async () => {
    const err = await clientCredentialsGrant(
      authProvider({
        consumerKey: 'cc-basic',
        consumerSecret: new Secret('wrong'),
        defaultScopes: '',
      }),
      endpoints,
      ec,
      principal,
    ).catch((e: unknown) => e)
    expect(isCalloutError(err, 'OAUTH_CLIENT_INVALID')).toBe(true)
    expect(JSON.stringify((err as Error).message)).not.toContain('wrong')
  })

  it('maps a disallowed grant to OAUTH_ERROR with the error code in details', async () => {
    const err = await clientCredentialsGrant(
      authProvider({ defaultScopes: '' }),
      endpoints,
      ec,
      principal,
    ).catch((e: unknown) => e)
    expect(isCalloutError(err, 'OAUTH_ERROR')).toBe(true)
    expect((err as { details: Record<string, unknown> }).details.error).toBe('invalid_request')
  })
})

describe('authorization code + PKCE, refresh with rotation', () => {
  async function login(): Promise<{ code: string; verifier: string; nonce: string }> {
    const request = await createAuthorizationRequest({ oidc: true })
    const url = buildAuthorizationUrl({
      provider: authProvider(),
      endpoints,
      externalCredential: ec,
      redirectUri: REDIRECT,
      state: request.state,
      codeChallenge: request.codeChallenge,
      ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
    })
    const callback = await server.authorize(url, { login: 'alice' })
    expect(callback.origin + callback.pathname).toBe(REDIRECT)
    const code = validateCallback(callback.searchParams, request.state, {
      expectedIssuer: server.issuer,
    })
    return { code, verifier: request.codeVerifier, nonce: request.nonce ?? '' }
  }

  it('exchanges the code, refreshes with rotation, and the old refresh token then needs re-auth', async () => {
    const { code, verifier, nonce } = await login()
    const first = await authorizationCodeGrant(authProvider(), endpoints, ec, principal, {
      code,
      codeVerifier: verifier,
      redirectUri: REDIRECT,
      nonce,
    })
    expect(first.refreshToken).toBeDefined()
    expect(first.idToken).toBeDefined()
    expect(first.identity?.userId).toBe('alice')
    // oidc-provider keeps id_token claims minimal (sub only); the username comes from userinfo.
    expect(first.identity?.username).toBeUndefined()
    expect(first.scope).toContain('openid')

    const second = await refreshTokenGrant(
      authProvider(),
      endpoints,
      ec,
      principal,
      first.refreshToken!,
    )
    expect(second.refreshToken).toBeDefined()
    expect(second.refreshToken!.reveal()).not.toBe(first.refreshToken!.reveal())
    expect(second.accessToken.reveal()).not.toBe(first.accessToken.reveal())

    const err = await refreshTokenGrant(
      authProvider(),
      endpoints,
      ec,
      principal,
      first.refreshToken!,
    ).catch((e: unknown) => e)
    expect(isCalloutError(err, 'NEEDS_REAUTH')).toBe(true)
    // The grant layer knows only the ExternalCredential; the token manager adds the command
    // for the Named Credential the caller used (`callout auth <Name>`).
    expect((err as Error).message).toContain('ExternalCredential "IdpApi"')
    expect((err as Error).message).toContain('must re-authenticate')
    expect((err as Error).message).not.toContain(first.refreshToken!.reveal())
  })

  it('a revoked refresh token fails with NEEDS_REAUTH', async () => {
    const { code, verifier, nonce } = await login()
    const tokens = await authorizationCodeGrant(authProvider(), endpoints, ec, principal, {
      code,
      codeVerifier: verifier,
      redirectUri: REDIRECT,
      nonce,
    })
    await server.revoke(tokens.refreshToken!.reveal(), {
      clientId: 'web',
      clientSecret: 'web-secret',
    })
    const err = await refreshTokenGrant(
      authProvider(),
      endpoints,
      ec,
      principal,
      tokens.refreshToken!,
    ).catch((e: unknown) => e)
    expect(isCalloutError(err, 'NEEDS_REAUTH')).toBe(true)
  })

  it('parses each token response once: the code exchange, the refresh', async () => {
    const { code, verifier, nonce } = await login()
    const parse = JSON.parse.bind(JSON)
    let tokenBodies = 0
    const spy = vi.spyOn(JSON, 'parse').mockImplementation((text: string, reviver?) => {
      const value: unknown = parse(text, reviver)
      if (typeof value === 'object' && value !== null && 'access_token' in value) tokenBodies++
      return value
    })
    try {
      const first = await authorizationCodeGrant(authProvider(), endpoints, ec, principal, {
        code,
        codeVerifier: verifier,
        redirectUri: REDIRECT,
        nonce,
      })
      expect(first.identity?.userId).toBe('alice')
      expect(tokenBodies).toBe(1)
      await refreshTokenGrant(authProvider(), endpoints, ec, principal, first.refreshToken!)
      expect(tokenBodies).toBe(2)
    } finally {
      spy.mockRestore()
    }
  })

  it('a wrong PKCE verifier is rejected as NEEDS_REAUTH (invalid_grant on the code)', async () => {
    const { code, nonce } = await login()
    const err = await authorizationCodeGrant(authProvider(), endpoints, ec, principal, {
      code,
      codeVerifier: 'x'.repeat(43),
      redirectUri: REDIRECT,
      nonce,
    }).catch((e: unknown) => e)
    expect(isCalloutError(err, 'NEEDS_REAUTH')).toBe(true)
  })

  it('a wrong nonce fails id_token validation: TOKEN_RESPONSE_INVALID', async () => {
    const { code, verifier } = await login()
    const err = await authorizationCodeGrant(authProvider(), endpoints, ec, principal, {
      code,
      codeVerifier: verifier,
      redirectUri: REDIRECT,
      nonce: 'not-the-nonce',
    }).catch((e: unknown) => e)
    expect(isCalloutError(err, 'TOKEN_RESPONSE_INVALID')).toBe(true)
  })

  it('a denied consent comes back as AUTHORIZATION_FAILED', async () => {
    const request = await createAuthorizationRequest({ oidc: true })
    const url = buildAuthorizationUrl({
      provider: authProvider(),
      endpoints,
      externalCredential: ec,
      redirectUri: REDIRECT,
      state: request.state,
      codeChallenge: request.codeChallenge,
    })
    const callback = await server.authorize(url, { deny: true })
    let err: unknown
    try {
      validateCallback(callback.searchParams, request.state)
    } catch (e) {
      err = e
    }
    expect(isCalloutError(err, 'AUTHORIZATION_FAILED')).toBe(true)
    expect((err as { details: Record<string, unknown> }).details.error).toBe('access_denied')
  })
})
