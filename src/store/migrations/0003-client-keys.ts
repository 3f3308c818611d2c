/**
 * Migration 0003: client keys of the proxy (`callout keys`, `callout serve`). Frozen in time:
 * never edit it once released; add a new migration instead.
 */
import type { Kysely } from 'kysely'

/** Creates `client_keys`: one row per key, holding only the SHA-256 of the key. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('client_keys')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('rules', 'text', (c) => c.notNull())
    .addColumn('any_user', 'integer', (c) => c.notNull())
    .addColumn('key_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute()
}
