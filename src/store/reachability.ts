/**
 * Which store failures mean "the database cannot be reached right now" (refused, reset, timed
 * out, shutting down, starting up): worth waiting for, as opposed to a wrong password, a missing
 * database, a newer schema or a wrong master key, which no retry cures.
 */
import { isCalloutError } from '../errors.ts'

/** Driver codes of an unreachable or restarting database. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, in recovery)
  '08000',
  '08001',
  '08003',
  '08006',
])

/** Messages of the `pg` driver for a connection lost or never made (it gives them no code). */
const UNREACHABLE_MESSAGES =
  /Connection terminated|connection timeout|timeout expired|Client has encountered a connection error/i

/**
 * True when a driver error (before translation) says the database cannot be reached now: a
 * refused, reset or timed-out connection, a server shutting down or starting up, or the `pg`
 * driver's "Connection terminated".
 *
 * @example
 * isUnreachableDriverError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })) // true
 */
export function isUnreachableDriverError(error: unknown, code: string | undefined): boolean {
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return true
  let cause: unknown = error
  for (let depth = 0; depth < 3 && cause instanceof Error; depth++) {
    if (UNREACHABLE_MESSAGES.test(cause.message)) return true
    cause = cause.cause
  }
  return false
}

/**
 * True when `error` is a store failure that says the database cannot be reached now
 * (`STORE_UNREACHABLE`, or a `STORE_ERROR`/`STORE_BUSY` whose driver error says so).
 *
 * @example
 * if (isStoreUnreachable(error)) scheduleRetry()
 */
export function isStoreUnreachable(error: unknown): boolean {
  if (!isCalloutError(error)) return false
  if (error.code === 'STORE_UNREACHABLE') return true
  if (error.code !== 'STORE_ERROR' && error.code !== 'STORE_BUSY') return false
  const code = error.details.driverCode
  return isUnreachableDriverError(error.cause, typeof code === 'string' ? code : undefined)
}
