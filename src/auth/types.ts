/**
 * Shapes shared by the protocol implementations and the token manager.
 */
import type { Secret } from '../secrets/secret.ts'
import type { CredentialIdentity } from '../definitions/model.ts'

/** A processed token endpoint response (RFC 6749 §5.1), Salesforce fields included. */
export interface TokenSet {
  readonly accessToken: Secret
  /** `token_type`, normalised: `Bearer` unless the server says otherwise. */
  readonly tokenType: string
  /** Present when the server issued (or rotated) one. */
  readonly refreshToken?: Secret
  /** ms since epoch; from `issued_at` (Salesforce, ms) or the local clock. */
  readonly issuedAt: number
  /** ms since epoch; from `expires_in` when sent. */
  readonly expiresAt?: number
  readonly scope?: string
  /** Salesforce: the API origin to use. */
  readonly instanceUrl?: string
  /** Identity known from the response itself (Salesforce `id` URL, OIDC id_token claims). */
  readonly identity?: CredentialIdentity
  readonly idToken?: Secret
}

/** The resolved endpoints of an AuthProvider (after Salesforce defaults or OIDC discovery). */
export interface ProviderEndpoints {
  readonly issuer?: string
  readonly authorizeUrl?: string
  readonly tokenUrl: string
  readonly userInfoUrl?: string
  readonly revokeUrl?: string
  readonly introspectUrl?: string
}
