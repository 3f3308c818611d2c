/**
 * The narrow interfaces the token manager depends on. It never imports a protocol module
 * directly: an adapter over `src/auth` ({@link TokenGrants}) is passed in, so tests can run the
 * manager against a fake or a tiny token endpoint.
 */
import type { TokenSet } from '../auth/types.ts'
import type {
  AuthProvider,
  CredentialKey,
  ExternalCredential,
  PrincipalCredential,
  Principal,
} from '../definitions/model.ts'
import type { Secret } from '../secrets/secret.ts'
import type { LeaseStore, Store } from '../store/types.ts'

/**
 * The store methods the token manager uses, and nothing else: reading, listing and
 * compare-and-swapping credentials, the leases that serialise refreshes across processes, and
 * (optionally) the change channel that tells of other instances' writes. Any `Store` satisfies
 * it; a test may pass a narrower fake.
 *
 * @example
 * const tokens = new TokenManager({ store: await openStore({ home }), grants })
 */
export type TokenStore = LeaseStore &
  Pick<Store, 'getCredential' | 'listCredentials' | 'compareAndSetCredential' | 'notifications'>

/**
 * Everything a grant needs to obtain a token for one principal (and, for per-user principals,
 * one end user).
 *
 * @example
 * const ctx: GrantContext = { ec, principal: ec.principals[0]!, userId: '', provider }
 */
export interface GrantContext {
  readonly ec: ExternalCredential
  readonly principal: Principal
  /** The end user for `per-user` principals; `''` for `named`. */
  readonly userId: string
  /** The ExternalCredential's AuthProvider (oauth2 only). */
  readonly provider?: AuthProvider
  /** The Named Credential being called, for messages (`callout auth <name>`). */
  readonly namedCredential?: string
}

/**
 * Obtains tokens from an authorization server. Implemented by `createAuthGrants` over `src/auth`.
 * Implementations throw a `CalloutError`: `NEEDS_REAUTH` for `invalid_grant`, `OAUTH_CLIENT_INVALID`,
 * `OAUTH_ERROR`, `TOKEN_ENDPOINT_ERROR` or `TOKEN_RESPONSE_INVALID` for the rest.
 *
 * @example
 * const grants: TokenGrants = {
 *   mint: async () => ({ accessToken: new Secret('t'), tokenType: 'Bearer', issuedAt: Date.now() }),
 *   refresh: async () => { throw new CalloutError('NEEDS_REAUTH', 'run callout auth') },
 * }
 */
export interface TokenGrants {
  /** A new token without user interaction: `client-credentials`, `jwt-bearer`, `password`. */
  mint(ctx: GrantContext): Promise<TokenSet>
  /** Exchanges a refresh token (RFC 6749 §6), for the `browser` flow. */
  refresh(ctx: GrantContext, refreshToken: Secret): Promise<TokenSet>
  /**
   * Builds the authorization request of the `browser` flow (RFC 6749 §4.1.1 with PKCE): resolves
   * the provider's endpoints (discovery), creates state, verifier and nonce, returns the URL.
   */
  authorizationRequest(
    ctx: GrantContext,
    options: AuthorizationRequestOptions,
  ): Promise<AuthorizationRequest>
  /**
   * Completes the `browser` flow: validates the callback (state, error, `iss`), exchanges the
   * code (RFC 6749 §4.1.3, with the PKCE verifier) and reads the identity.
   */
  exchangeCode(ctx: GrantContext, exchange: AuthorizationCodeExchange): Promise<TokenSet>
  /**
   * Revokes one token at the provider's revocation endpoint (RFC 7009): `revoked`,
   * `already-invalid` (the server no longer knows it), or `no-endpoint` when the provider has
   * none (nothing was sent). Throws `REVOCATION_FAILED` or `TOKEN_ENDPOINT_ERROR` on failure.
   */
  revoke(
    ctx: GrantContext,
    token: Secret,
    tokenType: 'refresh_token' | 'access_token',
  ): Promise<'revoked' | 'already-invalid' | 'no-endpoint'>
}

/** Options of {@link TokenGrants.authorizationRequest}. */
export interface AuthorizationRequestOptions {
  /** Exactly a redirect URI registered with the client. */
  readonly redirectUri: string
  /** e.g. `login consent` to force a fresh login when re-authenticating. */
  readonly prompt?: string
  readonly loginHint?: string
}

/** A built authorization request and the secrets to keep server-side until the callback. */
export interface AuthorizationRequest {
  readonly url: URL
  readonly state: string
  /** The PKCE verifier, when the provider uses PKCE. */
  readonly codeVerifier?: Secret
  readonly nonce?: string
}

/** A browser-flow callback and what its authorization request kept server-side. */
export interface AuthorizationCodeExchange {
  /** The callback's query parameters, as the browser delivered them. */
  readonly callback: URLSearchParams
  /** The state the authorization request was sent with. */
  readonly state: string
  readonly redirectUri: string
  readonly codeVerifier?: Secret
  readonly nonce?: string
}

/** The subset of a pino logger the token manager and broker use. */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
})

/** A stored credential that holds an access token. */
export type ActiveCredential = PrincipalCredential & { readonly accessToken: Secret }

/** Events the token manager emits. Payloads never carry a token. */
export interface TokenEvents {
  /** A new access token was obtained and stored (refresh or mint). */
  refreshed: { readonly key: CredentialKey; readonly namedCredential?: string; readonly at: number }
  /** The authorization server rejected the grant (`invalid_grant`); a user must re-authenticate. */
  'needs-reauth': {
    readonly key: CredentialKey
    readonly namedCredential?: string
    readonly code: string
    readonly message: string
    readonly at: number
  }
  /** A refresh failed for another reason; the principal is cooling down. */
  'refresh-failed': {
    readonly key: CredentialKey
    readonly namedCredential?: string
    readonly code: string
    readonly message: string
    readonly at: number
  }
}

/** The name of a {@link TokenEvents} event. */
export type TokenEventName = keyof TokenEvents
