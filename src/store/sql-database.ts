/**
 * The narrow seam between the store and one SQL dialect: a Kysely instance, a write transaction
 * that serialises writers across processes, and a table probe. `sqlite.ts` and `postgres.ts`
 * implement it; nothing else in Callout sees a driver.
 */
import type { Kysely, RawBuilder } from 'kysely'
import type { StoreNotifications } from './notifications.ts'
import type { Database } from './schema.ts'

/** One opened database. */
export interface SqlDatabase {
  readonly dialect: 'sqlite' | 'postgres'
  readonly db: Kysely<Database>
  /** Where the store is, for messages: a file path or a URL without password or query. */
  readonly location: string
  /**
   * Runs `fn` in a write transaction that excludes other writers holding the same `lock`
   * (SQLite: `BEGIN IMMEDIATE`, which excludes every writer; PostgreSQL: a transaction-scoped
   * advisory lock on `lock`). Rolls back when `fn` throws.
   */
  writeTransaction<T>(lock: string, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>
  /**
   * Runs a single-statement write (autocommit). SQLite: queued behind this process's other writers
   * on the same file, so that no statement busy-waits on a lock held across an `await`.
   */
  write<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T>
  /**
   * The database's clock in ms since epoch, as an SQL expression (PostgreSQL `now()`, SQLite
   * `julianday('now')`): lease expiry is computed by the one clock every instance shares, not by
   * hosts whose clocks may be skewed.
   */
  nowMs(): RawBuilder<number>
  /** The change channel (PostgreSQL LISTEN/NOTIFY); absent where the dialect has none (SQLite). */
  readonly notifications?: StoreNotifications
  /** True when the table exists (in the current schema), queried through `db` (a transaction or the pool). */
  tableExists(db: Kysely<Database>, name: string): Promise<boolean>
  close(): Promise<void>
}
