/**
 * The OAuth 2.0 grants Callout uses, each one function that builds the request with
 * oauth4webapi, sends it through the injected `fetch` (with a timeout), and processes the response
 * with {@link parseTokenResponse}: read once under the size cap, parsed once by oauth4webapi
 * (which also checks an OIDC `id_token`), with Salesforce's deltas applied around it. The token
 * manager is the only caller; it owns caching, single-flight, leases and retries.
 */
import { randomUUID } from 'node:crypto'
import * as oauth from 'oauth4webapi'
import { SignJWT } from 'jose'
import type { AuthProvider, ExternalCredential, Principal } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import { SALESFORCE_MAX_ASSERTION_SECONDS, salesforceJwtAudience } from '../providers/salesforce.ts'
import type { Secret } from '../secrets/secret.ts'
import { resolveAuthDeps, type AuthDeps, type ResolvedAuthDeps } from './deps.ts'
import { oauthClientContext, sendAuthRequest, type OAuthClientContext } from './oauth-client.ts'
import { jwtSubject } from './jwt-subject.ts'
import { importPrivateKeyPem } from './private-key.ts'
import type { GrantKind } from './token-errors.ts'
import { parseTokenResponse, readTokenResponse } from './token-response.ts'
import type { ProviderEndpoints, TokenSet } from './types.ts'

/** The RFC 7523 grant type. */
export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

/** Inputs of {@link authorizationCodeGrant}. */
export interface AuthorizationCodeInput {
  /** The `code` from the validated callback (see `validateCallback`). */
  readonly code: string
  /** The PKCE `code_verifier`; omit only when the provider has `usePkce: false`. */
  readonly codeVerifier?: string
  /** Exactly the `redirect_uri` sent on the authorization request. */
  readonly redirectUri: string
  /** The OIDC `nonce` sent on the authorization request, checked against the `id_token`. */
  readonly nonce?: string
}

/**
 * Client credentials grant (RFC 6749 §4.4): re-minted, never refreshed.
 *
 * @example
 * const tokens = await clientCredentialsGrant(provider, endpoints, ec, principal, { fetch })
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export async function clientCredentialsGrant(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
  externalCredential: ExternalCredential,
  _principal: Principal,
  deps?: AuthDeps,
): Promise<TokenSet> {
  const d = resolveAuthDeps(deps)
  const ctx = await oauthClientContext(provider, endpoints, d)
  const params = scopeParams(provider, externalCredential)
  const response = await sendAuthRequest(provider.name, 'token endpoint', endpoints.tokenUrl, () =>
    oauth.clientCredentialsGrantRequest(ctx.as, ctx.client, ctx.clientAuth, params, ctx.options),
  )
  return processGrantResponse(provider, externalCredential, ctx, 'client_credentials', response, d)
}

/**
 * Refresh token grant (RFC 6749 §6). The result has `refreshToken` only when the server rotated
 * it; the caller keeps the old one otherwise. `invalid_grant` → `NEEDS_REAUTH`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export async function refreshTokenGrant(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
  externalCredential: ExternalCredential,
  _principal: Principal,
  refreshToken: Secret,
  deps?: AuthDeps,
): Promise<TokenSet> {
  const d = resolveAuthDeps(deps)
  const ctx = await oauthClientContext(provider, endpoints, d)
  const response = await sendAuthRequest(provider.name, 'token endpoint', endpoints.tokenUrl, () =>
    oauth.refreshTokenGrantRequest(
      ctx.as,
      ctx.client,
      ctx.clientAuth,
      refreshToken.reveal(),
      ctx.options,
    ),
  )
  return processGrantResponse(provider, externalCredential, ctx, 'refresh_token', response, d)
}

/**
 * Authorization code grant (RFC 6749 §4.1.3) with the PKCE verifier (RFC 7636) and the same
 * `redirect_uri` as the authorization request.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 * @see https://www.rfc-editor.org/rfc/rfc7636
 */
export async function authorizationCodeGrant(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
  externalCredential: ExternalCredential,
  _principal: Principal,
  input: AuthorizationCodeInput,
  deps?: AuthDeps,
): Promise<TokenSet> {
  const d = resolveAuthDeps(deps)
  const ctx = await oauthClientContext(provider, endpoints, d)
  if (input.code === '' || input.redirectUri === '') {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      'authorizationCodeGrant needs a code and a redirectUri.',
    )
  }
  // oauth4webapi takes the code only from parameters it validated itself; the state was checked
  // by validateCallback already, and `iss` is checked there too.
  const callback = oauth.validateAuthResponse(
    { issuer: ctx.as.issuer },
    ctx.client,
    new URLSearchParams({ code: input.code }),
    oauth.skipStateCheck,
  )
  const verifier = input.codeVerifier ?? oauth.nopkce
  const response = await sendAuthRequest(provider.name, 'token endpoint', endpoints.tokenUrl, () =>
    oauth.authorizationCodeGrantRequest(
      ctx.as,
      ctx.client,
      ctx.clientAuth,
      callback,
      input.redirectUri,
      verifier,
      ctx.options,
    ),
  )
  return processGrantResponse(
    provider,
    externalCredential,
    ctx,
    'authorization_code',
    response,
    d,
    input.nonce,
  )
}

/**
 * Resource owner password grant (RFC 6749 §4.3). Legacy and insecure: the broker holds the
 * user's password. Logs a loud warning on every use. For Salesforce the principal's optional
 * `securityToken` secret is appended to the password.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.3
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-oauth-security-topics#section-2.4
 */
export async function passwordGrant(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
  externalCredential: ExternalCredential,
  principal: Principal,
  deps?: AuthDeps,
): Promise<TokenSet> {
  const d = resolveAuthDeps(deps)
  d.logger?.warn(
    { externalCredential: externalCredential.name, principal: principal.name, flow: 'password' },
    'OAuth password flow in use: it is legacy and insecure (the broker holds a user password, no MFA). Move to jwt-bearer or client-credentials.',
  )
  const username = principal.parameters.username
  const password = principal.secrets.password
  if (username === undefined || password === undefined) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `Principal "${principal.name}" of ExternalCredential "${externalCredential.name}" needs a username parameter and a password secret for the password flow.`,
      { details: { externalCredential: externalCredential.name, principal: principal.name } },
    )
  }
  const token =
    provider.type === 'salesforce' ? (principal.secrets.securityToken?.reveal() ?? '') : ''
  const ctx = await oauthClientContext(provider, endpoints, d)
  const params = new URLSearchParams({ username, password: password.reveal() + token })
  for (const [k, v] of scopeParams(provider, externalCredential)) params.set(k, v)
  const response = await sendAuthRequest(provider.name, 'token endpoint', endpoints.tokenUrl, () =>
    oauth.genericTokenEndpointRequest(
      ctx.as,
      ctx.client,
      ctx.clientAuth,
      'password',
      params,
      ctx.options,
    ),
  )
  return processGrantResponse(provider, externalCredential, ctx, 'password', response, d)
}

/**
 * JWT bearer grant (RFC 7523 §2.1), the Salesforce server-to-server flow: an assertion signed
 * with the principal's `privateKey` secret (PEM PKCS#8 or PKCS#1), `iss` = consumer key, `sub`
 * = the principal's `subject` or `username` parameter, else `jwt.subject` evaluated for `user`
 * (the end user of a per-user principal, see {@link jwtSubject}), `aud` = `jwt.audience` or, for
 * Salesforce, the login host origin (`https://login.salesforce.com`, `https://test.salesforce.com`,
 * the My Domain or site URL), `exp` = now + validity in seconds (at most 180 s for Salesforce),
 * `iat`, `jti`. Re-minted, never refreshed. Client authentication is sent only when the provider
 * has the secret or key for it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1
 */
export async function jwtBearerGrant(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
  externalCredential: ExternalCredential,
  principal: Principal,
  deps?: AuthDeps,
  user = '',
): Promise<TokenSet> {
  const d = resolveAuthDeps(deps)
  const assertion = await buildJwtBearerAssertion(
    provider,
    endpoints,
    externalCredential,
    principal,
    d,
    user,
  )
  const method = hasClientCredential(provider) ? provider.clientAuth : 'none'
  const ctx = await oauthClientContext(provider, endpoints, d, method)
  const params = new URLSearchParams({ assertion })
  for (const [k, v] of scopeParams(provider, externalCredential)) params.set(k, v)
  const response = await sendAuthRequest(provider.name, 'token endpoint', endpoints.tokenUrl, () =>
    oauth.genericTokenEndpointRequest(
      ctx.as,
      ctx.client,
      ctx.clientAuth,
      JWT_BEARER_GRANT_TYPE,
      params,
      ctx.options,
    ),
  )
  return processGrantResponse(provider, externalCredential, ctx, 'jwt_bearer', response, d)
}

/**
 * Builds and signs the RFC 7523 assertion of {@link jwtBearerGrant} for `user` (`''` for a
 * named principal). Exported for tests and for `callout doctor` (which may show the claims, never
 * the signature).
 */
export async function buildJwtBearerAssertion(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
  externalCredential: ExternalCredential,
  principal: Principal,
  deps: Pick<ResolvedAuthDeps, 'clock'>,
  user = '',
): Promise<string> {
  const jwt = externalCredential.jwt
  const alg = jwt?.algorithm ?? 'RS256'
  if (alg === 'HS256') {
    throw new CalloutError(
      'CONFIG_INVALID',
      `ExternalCredential "${externalCredential.name}": the jwt-bearer flow signs with a private key; use algorithm RS256 (Salesforce) or ES256.`,
      { details: { externalCredential: externalCredential.name } },
    )
  }
  const privateKey = principal.secrets.privateKey
  if (privateKey === undefined) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `Principal "${principal.name}" of ExternalCredential "${externalCredential.name}" needs a privateKey secret (PEM) for the jwt-bearer flow.`,
      { details: { externalCredential: externalCredential.name, principal: principal.name } },
    )
  }
  const subject = jwtSubject(externalCredential, principal, user)
  if (subject === undefined || subject === '') {
    throw new CalloutError(
      'CONFIG_INVALID',
      `Principal "${principal.name}" of ExternalCredential "${externalCredential.name}" needs a username (or subject) parameter, or jwt.subject, for the jwt-bearer flow: it becomes the assertion's sub.`,
      { details: { externalCredential: externalCredential.name, principal: principal.name } },
    )
  }
  const key = await importPrivateKeyPem(
    privateKey,
    alg,
    `privateKey secret of principal "${principal.name}"`,
  )
  const audience = jwt?.audience ?? defaultJwtBearerAudience(provider, endpoints)
  let validity = jwt?.validitySeconds ?? 300
  if (provider.type === 'salesforce')
    validity = Math.min(validity, SALESFORCE_MAX_ASSERTION_SECONDS)
  const now = Math.floor(deps.clock.now() / 1000)
  const header: { alg: string; typ: string; kid?: string } = { alg, typ: 'JWT' }
  if (jwt?.keyId !== undefined) header.kid = jwt.keyId
  return new SignJWT({ ...(jwt?.additionalClaims ?? {}) })
    .setProtectedHeader(header)
    .setIssuer(jwt?.issuer ?? provider.consumerKey)
    .setSubject(subject)
    .setAudience(typeof audience === 'string' ? audience : [...audience])
    .setIssuedAt(now)
    .setExpirationTime(now + validity)
    .setJti(randomUUID())
    .sign(key)
}

/**
 * The default `aud` of a JWT bearer assertion: for Salesforce the login host origin (the
 * configured `loginUrl`, default `https://login.salesforce.com`); otherwise the issuer, or the
 * token endpoint URL when no issuer is known.
 */
export function defaultJwtBearerAudience(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
): string {
  if (provider.type === 'salesforce') return salesforceJwtAudience(provider.loginUrl)
  return endpoints.issuer ?? endpoints.tokenUrl
}

function hasClientCredential(provider: AuthProvider): boolean {
  switch (provider.clientAuth) {
    case 'client_secret_basic':
    case 'client_secret_post':
      return provider.consumerSecret !== undefined
    case 'private_key_jwt':
      return provider.clientPrivateKey !== undefined
    case 'none':
      return true
  }
}

function scopeParams(provider: AuthProvider, ec: ExternalCredential): URLSearchParams {
  const scope = ec.scope ?? provider.defaultScopes
  return new URLSearchParams(
    scope === undefined || scope.trim() === '' ? {} : { scope: scope.trim() },
  )
}

/**
 * Reads the token endpoint response once (capped) and processes it once, through oauth4webapi
 * with Callout's steps around it (`token-response.ts`).
 */
async function processGrantResponse(
  provider: AuthProvider,
  ec: ExternalCredential,
  ctx: OAuthClientContext,
  grant: GrantKind,
  response: Response,
  deps: ResolvedAuthDeps,
  nonce?: string,
): Promise<TokenSet> {
  return parseTokenResponse(await readTokenResponse(response), {
    providerType: provider.type,
    providerName: provider.name,
    externalCredential: ec.name,
    grant,
    clock: deps.clock,
    authorizationServer: ctx.as,
    client: ctx.client,
    allowInsecureHttp: provider.allowInsecureHttp,
    ...(nonce === undefined ? {} : { expectedNonce: nonce }),
    ...(provider.consumerSecret === undefined ? {} : { consumerSecret: provider.consumerSecret }),
  })
}
