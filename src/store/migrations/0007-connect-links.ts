/**
 * Migration 0007: per-user connect links of `callout serve` — short-lived, single-use links an
 * admin mints for an end user of a per-user principal. Only the SHA-256 of each link token is
 * stored, and once the link is opened, the SHA-256 of the cookie that binds the browser.
 * Frozen in time: never edit it once released; add a new migration instead.
 */
import type { Kysely } from 'kysely'

/** Creates `connect_links`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('connect_links')
    .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('named_credential', 'varchar(255)', (c) => c.notNull())
    .addColumn('external_credential', 'varchar(255)', (c) => c.notNull())
    .addColumn('principal', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('browser_hash', 'varchar(64)')
    .execute()
  await db.schema
    .createIndex('connect_links_browser_hash')
    .on('connect_links')
    .column('browser_hash')
    .execute()
  await db.schema
    .createIndex('connect_links_expires_at')
    .on('connect_links')
    .column('expires_at')
    .execute()
}
