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
 * True when `error` is a store failure that says the database cannot be reached now.
 *
 * @example
 * if (isStoreUnreachable(error)) scheduleRetry()
 */
export function isStoreUnreachable(error: unknown): boolean {
  if (!isCalloutError(error) || (error.code !== 'STORE_ERROR' && error.code !== 'STORE_BUSY')) {
    return false
  }
  const code = error.details.driverCode
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true
  let cause: unknown = error.cause
  for (let depth = 0; depth < 3 && cause instanceof Error; depth++) {
    if (UNREACHABLE_MESSAGES.test(cause.message)) return true
    cause = cause.cause
  }
  return false
}
