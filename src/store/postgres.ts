/**
 * PostgreSQL over a `pg` Pool and Kysely's PostgresDialect, with the same migrations as SQLite.
 * An optional `schema` (created if missing) isolates a store inside a shared database, e.g. one
 * per test run; every pooled connection gets it as its `search_path`.
 *
 * Scale-out: the store's change channel (LISTEN/NOTIFY on a dedicated connection, see
 * `notifications.ts`) is opened here, lazily, on its first subscriber.
 */
import { Kysely, PostgresDialect, sql } from 'kysely'
import type { RawBuilder } from 'kysely'
import pg from 'pg'
import { CalloutError } from '../errors.ts'
import { PostgresNotifications } from './notifications.ts'
import type { Database } from './schema.ts'
import type { SqlDatabase } from './sql-database.ts'

/** Options for {@link openPostgres}. */
export interface PostgresOptions {
  /** `postgres://user:password@host:port/database`. */
  readonly url: string
  /** A schema to use (and create if missing) instead of the connection's default `search_path`. */
  readonly schema?: string
  /** Pool size. Default 10. */
  readonly maxConnections?: number
}

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * The URL without its password or query, for messages.
 *
 * @example
 * redactStoreUrl('postgres://app:hunter2@db:5432/callout?sslmode=require') // 'postgres://app@db:5432/callout'
 */
export function redactStoreUrl(url: string): string {
  try {
    const parsed = new URL(url)
    parsed.password = ''
    parsed.search = ''
    parsed.hash = ''
    return parsed.toString()
  } catch {
    return 'postgres://<unparseable URL>'
  }
}

/**
 * `text` (a driver's message, say) with every URL in it passed through {@link redactStoreUrl}:
 * no password or query of a connection string survives.
 *
 * @example
 * redactStoreUrlsIn('connect postgres://app:hunter2@db/callout failed') // 'connect postgres://app@db/callout failed'
 */
export function redactStoreUrlsIn(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, (url) => redactStoreUrl(url))
}

/**
 * Opens a pool (lazily connecting) and, when `schema` is given, creates the schema.
 *
 * @example
 * const database = await openPostgres({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'callout' })
 */
export async function openPostgres(options: PostgresOptions): Promise<SqlDatabase> {
  const { schema } = options
  if (schema !== undefined && !SCHEMA_PATTERN.test(schema)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      'A PostgreSQL schema name must match [a-z_][a-z0-9_]* (at most 63 characters).',
    )
  }
  const location = redactStoreUrl(options.url)
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    // A database that does not answer fails the query instead of hanging it.
    connectionTimeoutMillis: 10_000,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  })
  // An idle client that loses its connection must not crash the process; the next query fails
  // and is translated by the store.
  pool.on('error', () => undefined)
  // Nor must a client in use (between queries, or in a transaction) whose connection is reset by
  // a database restart: the pool only listens to idle clients. Its queries fail (and the store
  // translates that); the pool drops it on release.
  pool.on('connect', (client) => client.on('error', () => undefined))
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  try {
    if (schema !== undefined) {
      // `create schema if not exists` races with itself; serialise concurrent openers.
      await db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext(${`callout.schema:${schema}`}))`.execute(
          trx,
        )
        await sql`create schema if not exists ${sql.id(schema)}`.execute(trx)
      })
    }
  } catch (error) {
    await db.destroy().catch(() => undefined)
    throw error
  }
  let closed = false
  const notifications = new PostgresNotifications({
    url: options.url,
    ...(schema === undefined ? {} : { schema }),
  })
  return {
    dialect: 'postgres',
    db,
    location,
    notifications,
    writeTransaction<T>(lock: string, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
      return db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext(${lock} || current_schema()))`.execute(trx)
        return fn(trx)
      })
    },
    write<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
      return fn(db)
    },
    nowMs(): RawBuilder<number> {
      return sql<number>`(extract(epoch from now()) * 1000)::bigint`
    },
    async tableExists(db: Kysely<Database>, name: string): Promise<boolean> {
      const result = await sql<{
        present: boolean
      }>`select to_regclass(${name}) is not null as present`.execute(db)
      return result.rows[0]?.present === true
    },
    async close(): Promise<void> {
      if (closed) return
      closed = true
      await notifications.close()
      await db.destroy()
    },
  }
}
