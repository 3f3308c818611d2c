/**
 * Migration 0008: rate-limit counters shared by every `callout serve` on one database (the
 * console's login limit), one row per limited key and fixed window.
 * Frozen in time: never edit it once released; add a new migration instead.
 */
import type { Kysely } from 'kysely'

/** Creates `rate_limits`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('rate_limits_window_start')
    .on('rate_limits')
    .column('window_start')
    .execute()
}
