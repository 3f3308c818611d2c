/**
 * Errors as HTTP answers: the status from the one catalogue (`ERROR_CATALOGUE` in
 * `src/errors.ts`) and the body `{ error: { code, message, advice, details? } }`. Never a cause
 * and never a secret: unexpected failures answer `INTERNAL` with a fixed message.
 */
import { CalloutError, isCalloutError, type ErrorCode } from '../errors.ts'

/** What the proxy answers for a failure. */
export interface ErrorAnswer {
  readonly status: number
  readonly code: ErrorCode
  /** `Retry-After` in seconds, for failures that pass by themselves (the store unreachable or busy). */
  readonly retryAfterSeconds?: number
  readonly body: {
    readonly error: {
      readonly code: ErrorCode
      readonly message: string
      readonly advice: string
      readonly details?: Record<string, unknown>
    }
  }
}

/** Advice for the codes a proxy client meets most; every other code points at the docs. */
const ADVICE: Partial<Record<ErrorCode, string>> = {
  CLIENT_KEY_MISSING:
    'Send Proxy-Authorization: Bearer ck_… (or Authorization: Bearer ck_…); an administrator creates keys with `callout keys create --allow <Name>`.',
  CLIENT_KEY_INVALID: 'Send the whole ck_… key as printed by `callout keys create`.',
  CLIENT_KEY_EXPIRED: 'Ask an administrator for a new key (`callout keys create`).',
  CLIENT_KEY_REVOKED: 'Ask an administrator for a new key (`callout keys create`).',
  ACCESS_DENIED: 'Ask an administrator for a key whose --allow rules cover this call.',
  CREDENTIAL_NOT_FOUND: 'Check the Named Credential name in the path (/callout/<Name>/…).',
  CALLOUT_URL_MALFORMED:
    'Write the path relative to the Named Credential URL, without dot segments, encoded slashes or control characters.',
  USER_REQUIRED: 'Name the end user in the Callout-User header (the key needs --any-user).',
  NOT_AUTHENTICATED: 'An administrator must authenticate the credential: `callout auth <Name>`.',
  NEEDS_REAUTH: 'An administrator must re-authenticate the credential: `callout auth <Name>`.',
  REFRESH_COOLDOWN: 'Retry after the time in details.retryAt; the token endpoint failed recently.',
  UPSTREAM_TIMEOUT: 'Retry later, or raise timeoutMs on the Named Credential.',
  UPSTREAM_UNREACHABLE: 'Check that the upstream is up and the Named Credential URL is right.',
  UPSTREAM_CONNECTION_RESET:
    'The upstream may or may not have acted on the request: check before sending it again. Idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) with a replayable body are retried once automatically.',
  REQUEST_TOO_LARGE: 'Send a smaller body, or raise --max-body-bytes on callout serve.',
  STORE_UNREACHABLE:
    'Retry after the Retry-After seconds. An administrator must check that the database in CALLOUT_STORE is running and reachable from this host; /readyz says the same until it is back.',
  STORE_BUSY:
    'Retry after the Retry-After seconds: another process held a write lock on the store.',
  PROXY_LOOP: 'Point the Named Credential URL at the real upstream, not at this proxy.',
  STORE_TAMPERED:
    'A stored row was changed outside Callout and nothing was forwarded: an administrator must check who can write the database and follow the message (a client key: revoke it with `callout keys revoke <id>` and create a new one).',
  BODY_NOT_REPLAYABLE:
    'Send the request again: the token was refreshed; bodies sent with a Content-Length up to the replay limit are retried automatically.',
}

/** Failures worth retrying soon, and after how many seconds (`Retry-After`). */
const RETRY_AFTER_SECONDS: Partial<Record<ErrorCode, number>> = {
  STORE_UNREACHABLE: 5,
  STORE_BUSY: 1,
}

/**
 * The answer for `error`: its catalogue status and a JSON body with code, message and advice.
 *
 * @example
 * const { status, body } = errorAnswer(new CalloutError('CREDENTIAL_NOT_FOUND', 'No …'))
 * // status 404, body.error.code 'CREDENTIAL_NOT_FOUND'
 */
export function errorAnswer(error: unknown): ErrorAnswer {
  const e = isCalloutError(error)
    ? error
    : new CalloutError('INTERNAL', 'The proxy failed unexpectedly; the server log has the cause.')
  const details = Object.keys(e.details).length > 0 ? { details: { ...e.details } } : {}
  const retryAfter = RETRY_AFTER_SECONDS[e.code]
  return {
    status: e.status,
    code: e.code,
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
    body: {
      error: {
        code: e.code,
        message: e.message,
        advice: ADVICE[e.code] ?? `See ${e.code} in docs/errors.md.`,
        ...details,
      },
    },
  }
}
