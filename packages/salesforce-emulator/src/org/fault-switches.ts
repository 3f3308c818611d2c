/**
 * Fault switches: the failure modes tests switch on to exercise a client's error handling. Each
 * org has its own; the emulator-level switches apply to every org. All are also reachable over
 * HTTP under `/_emulator/faults/...` (loopback callers only).
 */

/** Which requests an injected failure hits. */
export type FaultScope = 'rest' | 'token' | 'any'

/** Latency to add before answering, by endpoint class, in milliseconds. */
export interface LatencySettings {
  /** `/services/oauth2/token` (and the other OAuth endpoints). */
  tokenMs?: number
  /** REST API (`/services/data`, `/services/apexrest`). */
  restMs?: number
}

/** The fault switches of an org (or of all orgs at once). */
export interface FaultSwitches {
  /** Expires every access token now: REST answers 401 `INVALID_SESSION_ID`. */
  expireSessions(): void
  /** Expires one access token now; false when the token is unknown (to every org). */
  expireAccessToken(token: string): boolean
  /** Revokes every refresh token: refresh answers `invalid_grant` "expired access/refresh token". */
  revokeRefreshTokens(): void
  /** Turns refresh-token rotation on or off for every connected app. */
  setRotation(enabled: boolean): void
  /** Makes token responses return this `instance_url` (null restores the real one). */
  setInstanceUrl(url: string | null): void
  /**
   * Makes every REST call answer `302 Found` with `Location: <to><path>` (the wrong-domain and
   * Lightning-host traps). `to` is an origin; null turns it off. Default target:
   * `https://<org>.my.salesforce.com`.
   */
  setRestRedirect(to: string | null | true): void
  /** SSO-only login: the login form refuses passwords, and the password grant fails. */
  setSsoOnly(enabled: boolean): void
  /** `SAME_ORG_SSO`: authorize redirects back with `error=SAME_ORG_SSO`. */
  setSameOrgSso(enabled: boolean): void
  /** REST answers 403 `REQUEST_LIMIT_EXCEEDED` "TotalRequests Limit exceeded." */
  setRateLimited(enabled: boolean): void
  /** Adds latency per endpoint class; omitted classes keep their setting, 0 clears. */
  setLatency(latency: LatencySettings): void
  /** The next `count` matching requests answer `status` (default 500, scope `rest`). */
  failNext(count: number, options?: { status?: number; scope?: FaultScope }): void
  /** REST answers 401 "This session is not valid for use with the REST API" (no refresh loop). */
  setBlockedSession(enabled: boolean): void
  /** Turns every switch off and restores each app's configured rotation. */
  reset(): void
}
