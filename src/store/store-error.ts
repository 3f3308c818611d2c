/**
 * Translates driver errors (better-sqlite3, pg, Kysely) into `STORE_ERROR` at the store boundary
 * (`STORE_BUSY`, retryable, when the failure is a lock or serialization conflict;
 * `STORE_UNREACHABLE`, retryable, when the database cannot be reached),
 * with a message that names the store (never a password) and says what to do. The driver error is
 * kept as `cause`; its text is never copied into the message.
 */
import { CalloutError, isCalloutError } from '../errors.ts'
import { isUnreachableDriverError } from './reachability.ts'

const ADVICE: Readonly<Record<string, string>> = Object.freeze({
  SQLITE_BUSY:
    'the database stayed locked by another process past the wait deadline and nothing was ' +
    'written; retry, and check for a process holding a long write transaction',
  SQLITE_LOCKED: 'the database is locked; retry',
  SQLITE_READONLY:
    'the database file is read-only; check its permissions and those of its directory',
  SQLITE_CANTOPEN:
    'the database file cannot be opened; check that its directory exists and is writable',
  SQLITE_CORRUPT: 'the database file is corrupt; restore it from a backup',
  SQLITE_NOTADB: 'the file is not a SQLite database; check CALLOUT_STORE',
  SQLITE_FULL: 'the disk is full; free space and retry',
  SQLITE_IOERR: 'the disk failed to read or write; check the file system',
  SQLITE_PERM: 'permission denied; check the file permissions',
  ECONNREFUSED: 'connection refused; check that PostgreSQL is running and CALLOUT_STORE is right',
  ENOTFOUND: 'the host name does not resolve; check CALLOUT_STORE',
  ETIMEDOUT: 'the connection timed out; check the network and CALLOUT_STORE',
  ECONNRESET: 'the connection was reset; retry',
  EACCES: 'permission denied; check the file permissions',
  ENOENT: 'a file or directory is missing; check CALLOUT_STORE and CALLOUT_HOME',
  '28P01': 'password authentication failed; check the user and password in CALLOUT_STORE',
  '28000': 'the server rejected the login; check the user in CALLOUT_STORE and pg_hba.conf',
  '3D000': 'the database does not exist; create it or fix CALLOUT_STORE',
  '42501': 'permission denied; grant the Callout user rights on its schema',
  '53300': 'too many connections; lower the pool size or raise max_connections',
  '57P01': 'the server is shutting down; retry',
  '57P02': 'the server crashed; retry once it has restarted',
  '57P03': 'the server is starting up or shutting down; retry',
  '40001': 'a serialization failure; retry',
  '40P01': 'a deadlock was detected; retry',
  '55P03': 'a lock was not available; retry',
})

/** Driver codes of a lock or serialization conflict: the operation did nothing and may be retried. */
const BUSY_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED', '40001', '40P01', '55P03']

/** Advice for a lost connection the driver gives no code for (`pg`'s "Connection terminated"). */
const CONNECTION_LOST =
  'the connection to the database was lost; check that the database server is running and reachable at CALLOUT_STORE'

/**
 * Wraps any non-Callout error as `STORE_ERROR`; as `STORE_BUSY` (with `details.retryable:
 * true`) for a lock or serialization conflict; as `STORE_UNREACHABLE` (also retryable) when the
 * database cannot be reached (refused, reset, timed out, shutting down, connection lost). Callout
 * errors pass through unchanged.
 *
 * @example
 * try { await db.selectFrom('leases').execute() } catch (e) { throw toStoreError(e, 'read leases', location) }
 */
export function toStoreError(error: unknown, operation: string, location: string): CalloutError {
  if (isCalloutError(error)) return error
  const code = driverCode(error)
  const busy = code !== undefined && BUSY_CODES.some((prefix) => code.startsWith(prefix))
  const unreachable = !busy && isUnreachableDriverError(error, code)
  const advice =
    (code === undefined
      ? undefined
      : (ADVICE[code] ?? ADVICE[code.split('_').slice(0, 2).join('_')])) ??
    (unreachable
      ? CONNECTION_LOST
      : 'see the cause for the driver error, and check that the store is reachable and writable')
  return new CalloutError(
    busy ? 'STORE_BUSY' : unreachable ? 'STORE_UNREACHABLE' : 'STORE_ERROR',
    unreachable
      ? `The store at ${location} cannot be reached to ${operation}: ${advice}.`
      : `The store at ${location} failed to ${operation}: ${advice}.`,
    {
      cause: error,
      details: {
        operation,
        store: location,
        ...(code === undefined ? {} : { driverCode: code }),
        ...(busy || unreachable ? { retryable: true } : {}),
      },
    },
  )
}

function driverCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && code.length > 0 && code.length < 64) return code
  // AggregateError from a connect attempt over several addresses.
  const errors = (error as { errors?: unknown }).errors
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const innerCode = driverCode(inner)
      if (innerCode !== undefined) return innerCode
    }
  }
  return undefined
}
