/**
 * The one catalogue of Callout failures. Every failure is a {@link CalloutError} with a stable
 * `code`; match on `code`, never on message text. `docs/errors.md` documents each code.
 */

/** Every error code Callout raises, with the HTTP status the proxy and admin API answer with. */
export const ERROR_CATALOGUE = {
  // configuration and definitions
  CONFIG_INVALID: { status: 400, summary: 'A configuration file or definition is invalid.' },
  CONFIG_REFERENCE_MISSING: {
    status: 400,
    summary: 'A ${env:…} or ${file:…} reference in the configuration cannot be resolved.',
  },
  INSECURE_URL: { status: 400, summary: 'A plain http:// URL was given for a non-loopback host.' },
  // callout URLs and access
  CALLOUT_URL_MALFORMED: { status: 400, summary: 'A callout: URL breaks one of the URL rules.' },
  CREDENTIAL_NOT_FOUND: { status: 404, summary: 'No Named Credential has that name.' },
  CREDENTIAL_DISABLED: { status: 403, summary: 'The Named Credential is disabled for callouts.' },
  ACCESS_DENIED: { status: 403, summary: 'The caller may not use this credential or principal.' },
  USER_REQUIRED: {
    status: 400,
    summary: 'A per-user credential was called without naming the end user.',
  },
  // secrets and storage
  MASTER_KEY_MISSING: { status: 500, summary: 'No master key is configured.' },
  MASTER_KEY_INVALID: {
    status: 500,
    summary: 'The master key is malformed or does not match the stored data.',
  },
  SECRET_CORRUPT: {
    status: 500,
    summary: 'A stored ciphertext failed authentication (corrupted, or moved between rows).',
  },
  STORE_ERROR: { status: 500, summary: 'The store failed.' },
  STORE_CONFLICT: { status: 409, summary: 'A concurrent change won; re-read and retry.' },
  STORE_BUSY: {
    status: 503,
    summary: 'The store stayed locked by another connection past the wait deadline; retry.',
  },
  STORE_UNREACHABLE: {
    status: 503,
    summary:
      'The store cannot be reached (database down, connection refused or lost); retry once it is back.',
  },
  STORE_NOT_EMPTY: {
    status: 409,
    summary: 'A store copy was refused: the target store already holds data.',
  },
  STORE_TAMPERED: {
    status: 500,
    summary:
      'A stored row that decides where a secret goes failed its integrity check; nothing was sent.',
  },
  // authentication
  NOT_AUTHENTICATED: {
    status: 401,
    summary: 'The principal has no stored credential yet; authenticate it first.',
  },
  NEEDS_REAUTH: {
    status: 401,
    summary: 'The refresh token was rejected (invalid_grant); the principal must re-authenticate.',
  },
  AUTHORIZATION_FAILED: {
    status: 400,
    summary: 'The browser authorization flow failed (state, redirect URI, denial, provider error).',
  },
  AUTHORIZATION_TIMEOUT: {
    status: 400,
    summary:
      'A browser authorization callback arrived after its flow had timed out (10 minutes); refused.',
  },
  AUTHORIZATION_USER_MISMATCH: {
    status: 403,
    summary:
      'A per-user browser flow was completed by a different user than the one who started it.',
  },
  OAUTH_CLIENT_INVALID: {
    status: 502,
    summary: 'The authorization server rejected the client id or secret.',
  },
  OAUTH_ERROR: { status: 502, summary: 'The authorization server returned an OAuth error.' },
  TOKEN_ENDPOINT_ERROR: {
    status: 502,
    summary: 'The token endpoint failed (5xx, HTML, invalid JSON, unreachable).',
  },
  TOKEN_RESPONSE_INVALID: {
    status: 502,
    summary: 'The token endpoint answered 200 but without a usable access token.',
  },
  REVOCATION_FAILED: {
    status: 502,
    summary: 'The revocation endpoint refused or failed a revocation; the stored tokens were kept.',
  },
  REFRESH_COOLDOWN: {
    status: 503,
    summary: 'A recent refresh failed; Callout waits before trying again.',
  },
  REFRESH_LOOP: {
    status: 502,
    summary:
      'The upstream rejected a token that was refreshed moments ago; Callout stops refreshing.',
  },
  SESSION_NOT_VALID_FOR_API: {
    status: 403,
    summary: 'Salesforce says the session is not valid for this API (a scope problem).',
  },
  FORMULA_INVALID: { status: 400, summary: 'A header formula or merge field cannot be evaluated.' },
  HEADER_INJECTION: {
    status: 400,
    summary: 'An evaluated header value contains CR, LF or NUL.',
  },
  // upstream
  UPSTREAM_TIMEOUT: { status: 504, summary: 'The upstream did not answer within the timeout.' },
  UPSTREAM_UNREACHABLE: { status: 502, summary: 'The upstream could not be reached.' },
  UPSTREAM_CONNECTION_RESET: {
    status: 502,
    summary:
      'The upstream closed a reused connection before answering a request that is not sent twice (POST, PATCH, or a streamed body).',
  },
  UPSTREAM_TLS_ERROR: { status: 502, summary: 'TLS with the upstream failed.' },
  TOO_MANY_REDIRECTS: { status: 502, summary: 'More than 5 redirects were followed.' },
  INSTANCE_URL_UNTRUSTED: {
    status: 502,
    summary: "A Salesforce token's instance_url is not in the AuthProvider's trustedInstanceHosts.",
  },
  BODY_NOT_REPLAYABLE: {
    status: 400,
    summary: 'A streamed request body cannot be sent twice (retry after refresh, 307/308).',
  },
  // the proxy (`callout serve`)
  CLIENT_KEY_MISSING: {
    status: 401,
    summary: 'A proxy request carried no client key (Proxy-Authorization: Bearer ck_…).',
  },
  CLIENT_KEY_INVALID: {
    status: 401,
    summary: 'The client key is malformed or unknown, or its secret does not match.',
  },
  CLIENT_KEY_EXPIRED: { status: 401, summary: 'The client key has expired.' },
  CLIENT_KEY_REVOKED: { status: 401, summary: 'The client key was revoked.' },
  PROXY_LOOP: {
    status: 508,
    summary: 'The request already passed through this proxy (its Via header names it).',
  },
  REQUEST_TOO_LARGE: { status: 413, summary: 'The request body exceeds the proxy limit.' },
  REQUEST_HEADERS_TOO_LARGE: {
    status: 431,
    summary: 'The request headers exceed the proxy limit.',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    summary: 'The client did not send its request (headers or body) in time.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    summary: 'The proxy does not forward this method (CONNECT, TRACE, TRACK).',
  },
  ROUTE_NOT_FOUND: { status: 404, summary: 'The proxy serves no such path.' },
  METRICS_TOKEN_INVALID: {
    status: 401,
    summary: '/metrics needs the metrics token (Authorization: Bearer …); it was missing or wrong.',
  },
  // the console and admin API (`callout serve`)
  ADMIN_AUTH_REQUIRED: {
    status: 401,
    summary: 'The console or admin API needs an admin login or admin API token.',
  },
  ADMIN_LOGIN_FAILED: { status: 401, summary: 'The admin username or password is wrong.' },
  ADMIN_LOCKED_OUT: {
    status: 429,
    summary: 'Too many failed logins: the admin account is locked for a while.',
  },
  CSRF_INVALID: {
    status: 403,
    summary: 'A state-changing console request carried no valid CSRF token.',
  },
  RATE_LIMITED: { status: 429, summary: 'Too many requests from this client; retry later.' },
  DEFINITION_NOT_FOUND: {
    status: 404,
    summary: 'No AuthProvider, ExternalCredential or NamedCredential has that name.',
  },
  DEFINITION_EXISTS: {
    status: 409,
    summary: 'A definition of that kind and name already exists.',
  },
  // per-user connect links (broker.connectUrl, callout connect-link, /connect/<link>)
  CONNECT_LINK_NOT_FOUND: { status: 404, summary: 'No connect link has that token.' },
  CONNECT_LINK_EXPIRED: { status: 410, summary: 'The connect link has expired.' },
  CONNECT_LINK_USED: {
    status: 410,
    summary: 'The connect link was already opened (each link works once).',
  },
  CONSOLE_URL_MISSING: {
    status: 400,
    summary: 'A connect link was asked for without the origin of the setup console.',
  },
  // frontdoor URLs (broker.frontdoorUrl, callout open)
  FRONTDOOR_NOT_SALESFORCE: {
    status: 400,
    summary:
      'A frontdoor URL was asked for a Named Credential that is not an oauth2 Salesforce one.',
  },
  FRONTDOOR_SCOPE_MISSING: {
    status: 400,
    summary: "The credential's scopes do not allow UI sessions; add web (or full).",
  },
  FRONTDOOR_PATH_INVALID: {
    status: 400,
    summary: 'The landing path of a frontdoor URL is not a path relative to the org.',
  },
  FRONTDOOR_FAILED: {
    status: 502,
    summary: 'The org did not answer the UI Bridge request with a frontdoor URL.',
  },
  // everything else
  BROKER_CLOSED: {
    status: 503,
    summary: 'The broker was closed; open a new one.',
  },
  INVALID_ARGUMENT: { status: 400, summary: 'An argument to a Callout API is invalid.' },
  DEPENDENCY_MISSING: {
    status: 501,
    summary: 'An optional package the feature needs (jsforce) is not installed.',
  },
  INTERNAL: { status: 500, summary: 'An unexpected internal failure.' },
} as const satisfies Record<string, { status: number; summary: string }>

/** A stable Callout error code. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE

const BRAND = Symbol.for('callout.error')

/** Options for {@link CalloutError}. */
export interface CalloutErrorOptions {
  /** The underlying failure. Never a value that embeds a secret. */
  cause?: unknown
  /** Structured, non-secret details (names, statuses, rule ids) for logs and API responses. */
  details?: Record<string, unknown>
}

/**
 * A Callout failure. `message` says what went wrong and what to do next; `code` is stable.
 * Survives duplicate installs: `instanceof` checks a `Symbol.for` brand.
 *
 * @example
 * try { await broker.fetch('callout:Nope/x') } catch (e) {
 *   if (isCalloutError(e, 'CREDENTIAL_NOT_FOUND')) console.error(e.message)
 * }
 */
export class CalloutError extends Error {
  readonly code: ErrorCode
  readonly details: Readonly<Record<string, unknown>>
  readonly [BRAND] = true

  constructor(code: ErrorCode, message: string, options: CalloutErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CalloutError'
    this.code = code
    this.details = Object.freeze({ ...options.details })
  }

  /** The HTTP status the proxy and admin API answer with for this error. */
  get status(): number {
    return ERROR_CATALOGUE[this.code].status
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[BRAND] === true
    )
  }

  /** The JSON body the proxy and admin API send: code, message and details, never the cause. */
  toJSON(): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
    const details = Object.keys(this.details).length > 0 ? { details: { ...this.details } } : {}
    return { error: { code: this.code, message: this.message, ...details } }
  }
}

/** True when `value` is a {@link CalloutError}, optionally with the given code. */
export function isCalloutError(value: unknown, code?: ErrorCode): value is CalloutError {
  return value instanceof CalloutError && (code === undefined || value.code === code)
}

/** The HTTP status for an error code (one table for the proxy and the admin API). */
export function httpStatusFor(code: ErrorCode): number {
  return ERROR_CATALOGUE[code].status
}
