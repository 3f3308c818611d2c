/**
 * The browser half of the authorization code flow (RFC 6749 §4.1) with PKCE (RFC 7636): create
 * the request secrets (state, verifier, nonce), build the authorization URL, and validate the
 * callback. The code exchange is `authorizationCodeGrant` in `oauth2-grants.ts`.
 */
import { timingSafeEqual } from 'node:crypto'
import * as oauth from 'oauth4webapi'
import type { AuthProvider, ExternalCredential } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import { salesforceAdvice } from '../providers/salesforce-advice.ts'
import { sanitizeExcerpt } from './excerpt.ts'
import type { ProviderEndpoints } from './types.ts'

/** The per-request secrets of one authorization request. Keep them server-side until the callback. */
export interface AuthorizationRequestSecrets {
  /** Random, 256 bits, base64url. Sent as `state`, compared on the callback (CSRF defence). */
  readonly state: string
  /** PKCE `code_verifier` (RFC 7636 §4.1), 256 bits. Sent on the code exchange. */
  readonly codeVerifier: string
  /** PKCE `code_challenge`, S256 of the verifier. Sent on the authorization request. */
  readonly codeChallenge: string
  /** OIDC `nonce` (only when requested), checked against the `id_token`. */
  readonly nonce?: string
}

/**
 * Generates state, a PKCE verifier/challenge pair (S256) and, for OIDC, a nonce — all with
 * oauth4webapi's CSPRNG helpers (32 random bytes each).
 *
 * @example
 * const { state, codeVerifier, codeChallenge, nonce } = await createAuthorizationRequest({ oidc: true })
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.2
 */
export async function createAuthorizationRequest(
  options: { oidc?: boolean } = {},
): Promise<AuthorizationRequestSecrets> {
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier)
  return {
    state: oauth.generateRandomState(),
    codeVerifier,
    codeChallenge,
    ...(options.oidc === true ? { nonce: oauth.generateRandomNonce() } : {}),
  }
}

/** Inputs of {@link buildAuthorizationUrl}. */
export interface AuthorizationUrlInput {
  readonly provider: AuthProvider
  readonly endpoints: ProviderEndpoints
  readonly externalCredential: ExternalCredential
  /** Must equal one of the client's registered redirect URIs exactly. */
  readonly redirectUri: string
  readonly state: string
  /** Required when the provider has `usePkce` (the default). */
  readonly codeChallenge?: string
  readonly nonce?: string
  /** e.g. `login consent` to force a fresh login when re-authenticating. */
  readonly prompt?: string
  /** Pre-fills the username on the login page. */
  readonly loginHint?: string
}

/**
 * The URL to send the user's browser to. Scope is the ExternalCredential's `scope`, else the
 * provider's `defaultScopes`. Query parameters already in the configured authorize URL are kept.
 *
 * @throws CalloutError `CONFIG_INVALID` without an authorize URL; `INVALID_ARGUMENT` when PKCE is
 *   on and no `codeChallenge` is given.
 * @example
 * const url = buildAuthorizationUrl({ provider, endpoints, externalCredential, redirectUri, state, codeChallenge })
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1
 */
export function buildAuthorizationUrl(input: AuthorizationUrlInput): URL {
  const { provider, endpoints, externalCredential } = input
  if (endpoints.authorizeUrl === undefined) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `AuthProvider "${provider.name}" has no authorize URL, so the browser flow cannot start. Set authorizeUrl.`,
      { details: { provider: provider.name } },
    )
  }
  if (provider.usePkce && (input.codeChallenge === undefined || input.codeChallenge === '')) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `AuthProvider "${provider.name}" uses PKCE; pass the codeChallenge from createAuthorizationRequest().`,
    )
  }
  if (input.state.length < 22) {
    throw new CalloutError('INVALID_ARGUMENT', 'The state must carry at least 128 random bits.')
  }
  const url = new URL(endpoints.authorizeUrl)
  const p = url.searchParams
  p.set('response_type', 'code')
  p.set('client_id', provider.consumerKey)
  p.set('redirect_uri', input.redirectUri)
  const scope = (externalCredential.scope ?? provider.defaultScopes ?? '').trim()
  if (scope !== '') p.set('scope', scope)
  p.set('state', input.state)
  if (input.codeChallenge !== undefined && input.codeChallenge !== '') {
    p.set('code_challenge', input.codeChallenge)
    p.set('code_challenge_method', 'S256')
  }
  if (input.nonce !== undefined) p.set('nonce', input.nonce)
  if (input.prompt !== undefined) p.set('prompt', input.prompt)
  if (input.loginHint !== undefined) p.set('login_hint', input.loginHint)
  return url
}

/** Options of {@link validateCallback}. */
export interface ValidateCallbackOptions {
  /** When the callback carries `iss` (RFC 9207), it must equal this issuer (mix-up defence). */
  readonly expectedIssuer?: string
  /** The redirect URI used, quoted in the `redirect_uri_mismatch` advice. */
  readonly redirectUri?: string
}

/**
 * Validates the authorization callback's query parameters and returns the `code`.
 *
 * Failures are `AUTHORIZATION_FAILED` with advice: state missing or different (possible CSRF),
 * `access_denied`, `redirect_uri_mismatch`, Salesforce `OAUTH_APP_ACCESS_DENIED` and
 * `SAME_ORG_SSO` (also in Salesforce's `ErrorCode`/`ErrorDescription` form), any other `error`.
 * `error` and `error_description` (sanitized) are in `details`.
 *
 * @example
 * const code = validateCallback(new URL(req.url, base).searchParams, pending.state)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
 * @see https://www.rfc-editor.org/rfc/rfc9207
 */
export function validateCallback(
  params: URLSearchParams | Readonly<Record<string, string>>,
  expectedState: string,
  options: ValidateCallbackOptions = {},
): string {
  const query = params instanceof URLSearchParams ? params : new URLSearchParams(params)
  for (const name of ['state', 'code', 'error', 'iss']) {
    if (query.getAll(name).length > 1) {
      throw new CalloutError(
        'AUTHORIZATION_FAILED',
        `The authorization callback carries "${name}" more than once; it was rejected. Start the authentication again.`,
        { details: { parameter: name } },
      )
    }
  }
  const state = query.get('state')
  const error = query.get('error') ?? query.get('ErrorCode')
  const stateOk = state !== null && safeEqual(state, expectedState)
  if (error !== null && (state === null || stateOk)) {
    const description = query.get('error_description') ?? query.get('ErrorDescription') ?? undefined
    throw callbackError(error, description, options)
  }
  if (!stateOk) {
    throw new CalloutError(
      'AUTHORIZATION_FAILED',
      "The authorization callback's state does not match the request (possible CSRF, or the link was opened twice or in another browser). Start the authentication again from Callout.",
      { details: { reason: state === null ? 'state_missing' : 'state_mismatch' } },
    )
  }
  const iss = query.get('iss')
  if (iss !== null && options.expectedIssuer !== undefined && iss !== options.expectedIssuer) {
    throw new CalloutError(
      'AUTHORIZATION_FAILED',
      'The authorization callback came from a different issuer than the one the request went to (possible mix-up attack). Start the authentication again.',
      { details: { reason: 'issuer_mismatch' } },
    )
  }
  const code = query.get('code')
  if (code === null || code === '') {
    throw new CalloutError(
      'AUTHORIZATION_FAILED',
      "The authorization callback has neither a code nor an error. Start the authentication again; check that the redirect URI points at Callout's callback.",
      { details: { reason: 'code_missing' } },
    )
  }
  return code
}

/** Compares two strings (a state, a user id) in constant time. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function callbackError(
  rawError: string,
  rawDescription: string | undefined,
  options: ValidateCallbackOptions,
): CalloutError {
  const error = sanitizeExcerpt(rawError, 100)
  const description =
    rawDescription === undefined ? undefined : sanitizeExcerpt(rawDescription, 300)
  const details = {
    error,
    ...(description === undefined ? {} : { error_description: description }),
  }
  const said = description === undefined ? error : `${error}: ${description}`
  let advice: string
  switch (error) {
    case 'access_denied':
    case 'access-denied':
      advice =
        'The user (or an administrator policy) denied access. Authenticate again and choose Allow; if no Allow button appears, ask an admin to pre-authorize the user for the app.'
      break
    case 'redirect_uri_mismatch':
      advice = `The Connected App's (or client's) Callback URL must equal ${options.redirectUri === undefined ? "Callout's redirect URI" : `"${options.redirectUri}"`} exactly — scheme, host, port and path.`
      break
    case 'OAUTH_APP_ACCESS_DENIED':
    case 'SAME_ORG_SSO':
    case 'invalid_client_id':
      advice = salesforceAdvice(error)
      break
    case 'invalid_scope':
      advice =
        "A requested scope is not allowed for this app. Check the scope of the ExternalCredential and the app's allowed scopes."
      break
    default:
      advice = 'Check the AuthProvider and app configuration, then authenticate again.'
  }
  return new CalloutError(
    'AUTHORIZATION_FAILED',
    `The authorization server returned an error (${said}). ${advice}`,
    {
      details,
    },
  )
}
