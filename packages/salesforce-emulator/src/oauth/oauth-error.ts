/**
 * OAuth endpoint errors: `{"error","error_description"}` with HTTP 400 (401 for some client
 * authentication failures), exactly as Salesforce words them.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_flow_errors.htm&type=5
 */
import type { ServerResponse } from 'node:http'
import { sendJson } from '../http/respond.ts'

const BRAND = Symbol.for('callout.salesforce-emulator.OAuthError')

/** An OAuth error response. `error` is the RFC 6749 / Salesforce code. */
export class OAuthError extends Error {
  /** OAuth `error` code, e.g. `invalid_grant`. */
  readonly error: string
  /** HTTP status. */
  readonly status: number
  readonly [BRAND] = true

  constructor(error: string, description: string, status = 400) {
    super(description)
    this.name = 'OAuthError'
    this.error = error
    this.status = status
  }

  /** Brand check that survives duplicate installs. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && BRAND in value
  }
}

/** The error strings Salesforce sends, by situation. */
export const OAUTH_ERRORS = Object.freeze({
  expiredToken: () => new OAuthError('invalid_grant', 'expired access/refresh token'),
  authenticationFailure: () => new OAuthError('invalid_grant', 'authentication failure'),
  invalidClientId: (status = 400) =>
    new OAuthError('invalid_client_id', 'client identifier invalid', status),
  invalidClient: (status = 400) =>
    new OAuthError('invalid_client', 'invalid client credentials', status),
  unsupportedGrantType: () => new OAuthError('unsupported_grant_type', 'grant type not supported'),
  grantTypeMissing: () => new OAuthError('invalid_request', 'grant type is missing'),
  mustUsePost: () => new OAuthError('invalid_request', 'must use HTTP POST'),
  redirectUriMismatch: () =>
    new OAuthError('redirect_uri_mismatch', 'redirect_uri must match configuration'),
  invalidCodeVerifier: () => new OAuthError('invalid_grant', 'invalid code verifier'),
  invalidCode: () => new OAuthError('invalid_grant', 'invalid authorization code'),
  expiredCode: () => new OAuthError('invalid_grant', 'authorization code expired'),
  inactiveUser: () => new OAuthError('inactive_user', 'user is inactive'),
  notApproved: () => new OAuthError('invalid_grant', "user hasn't approved this consumer"),
  audienceInvalid: () => new OAuthError('invalid_grant', 'audience is invalid'),
  invalidAssertion: () => new OAuthError('invalid_grant', 'invalid assertion'),
  noClientCredentialsUser: () =>
    new OAuthError('invalid_grant', 'no client credentials user enabled'),
  notAdminApproved: () =>
    new OAuthError('invalid_app_access', 'user is not admin approved to access this app'),
  scopeNotSupported: () => new OAuthError('invalid_request', 'scope parameter not supported'),
})

/** Writes an OAuth error as JSON, or form-encoded when the client asked for `format=urlencoded`. */
export function sendOAuthError(
  res: ServerResponse,
  err: OAuthError,
  format: 'json' | 'urlencoded' = 'json',
): void {
  if (format === 'urlencoded') {
    const text = new URLSearchParams({
      error: err.error,
      error_description: err.message,
    }).toString()
    res.statusCode = err.status
    res.setHeader('content-type', 'application/x-www-form-urlencoded;charset=UTF-8')
    res.end(text)
    return
  }
  sendJson(
    res,
    err.status,
    { error: err.error, error_description: err.message },
    { 'cache-control': 'no-cache,must-revalidate,max-age=0,no-store,private' },
  )
}
