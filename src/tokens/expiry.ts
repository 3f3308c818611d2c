import { DEFAULTS } from '../definitions/model.ts'
import type { AuthProvider, ExternalCredential, PrincipalCredential } from '../definitions/model.ts'

/** Defaults for proactive refresh, in one frozen object. */
export const EXPIRY_DEFAULTS = Object.freeze({
  /** Refresh this long before a known expiry… */
  refreshMarginMs: 60_000,
  /** …or this fraction of the token's lifetime before it, whichever is shorter. */
  refreshMarginFraction: 0.1,
})

/**
 * The session timeout that bounds a token without `expires_in`: the ExternalCredential's
 * `sessionTimeoutSeconds`, else for Salesforce providers Salesforce's default session timeout
 * (`DEFAULTS.salesforceSessionTimeoutSeconds`, 2 hours), else undefined.
 *
 * @example
 * sessionTimeoutFor({ sessionTimeoutSeconds: undefined }, { type: 'salesforce' }) // { sessionTimeoutSeconds: 7200 }
 */
export function sessionTimeoutFor(
  ec: Pick<ExternalCredential, 'sessionTimeoutSeconds'>,
  provider: Pick<AuthProvider, 'type'> | undefined,
): Pick<ExternalCredential, 'sessionTimeoutSeconds'> {
  if (ec.sessionTimeoutSeconds !== undefined || provider?.type !== 'salesforce') return ec
  return { sessionTimeoutSeconds: DEFAULTS.salesforceSessionTimeoutSeconds }
}

/**
 * When the access token expires, in ms since the epoch: the stored `expiresAt` (from
 * `expires_in`), else for Salesforce-style tokens without `expires_in` the configured
 * `sessionTimeoutSeconds` after `issuedAt`; undefined when unknown (then only a 401 refreshes).
 *
 * @example
 * effectiveExpiresAt({ issuedAt: 0, ... }, { sessionTimeoutSeconds: 7200, ... }) // 7_200_000
 */
export function effectiveExpiresAt(
  credential: Pick<PrincipalCredential, 'expiresAt' | 'issuedAt'>,
  ec: Pick<ExternalCredential, 'sessionTimeoutSeconds'>,
): number | undefined {
  if (credential.expiresAt !== undefined) return credential.expiresAt
  if (ec.sessionTimeoutSeconds !== undefined && credential.issuedAt !== undefined) {
    return credential.issuedAt + ec.sessionTimeoutSeconds * 1000
  }
  return undefined
}

/**
 * When to refresh proactively: the expiry minus the shorter of `refreshMarginMs` and
 * `refreshMarginFraction` of the lifetime. Undefined when the expiry is unknown.
 *
 * @example
 * refreshDueAt({ issuedAt: 0, expiresAt: 3_600_000 }, {}) // 3_540_000 (60 s before)
 * refreshDueAt({ issuedAt: 0, expiresAt: 100_000 }, {})   // 90_000 (10% of 100 s)
 */
export function refreshDueAt(
  credential: Pick<PrincipalCredential, 'expiresAt' | 'issuedAt'>,
  ec: Pick<ExternalCredential, 'sessionTimeoutSeconds'>,
  options: { refreshMarginMs?: number; refreshMarginFraction?: number } = {},
): number | undefined {
  const expiresAt = effectiveExpiresAt(credential, ec)
  if (expiresAt === undefined) return undefined
  const marginMs = options.refreshMarginMs ?? EXPIRY_DEFAULTS.refreshMarginMs
  const fraction = options.refreshMarginFraction ?? EXPIRY_DEFAULTS.refreshMarginFraction
  const lifetime = credential.issuedAt === undefined ? undefined : expiresAt - credential.issuedAt
  const margin =
    lifetime === undefined || lifetime <= 0 ? marginMs : Math.min(marginMs, lifetime * fraction)
  return expiresAt - margin
}
