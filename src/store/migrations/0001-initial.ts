/**
 * Migration 0001: the initial schema. Frozen in time: never edit it once released; add a new
 * migration instead. Written against `Kysely<any>` so that later schema types cannot break it.
 */
import { sql } from 'kysely'
import type { Kysely } from 'kysely'

/** Creates every table of schema version 1. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('data_keys')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('master_key_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('wrapped_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()

  for (const table of ['auth_providers', 'external_credentials', 'named_credentials']) {
    await db.schema
      .createTable(table)
      .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('definition', 'text', (c) => c.notNull())
      .addColumn('secrets', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute()
  }

  await db.schema
    .createTable('credentials')
    .addColumn('external_credential', 'varchar(255)', (c) => c.notNull())
    .addColumn('principal', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('access_token', 'text')
    .addColumn('refresh_token', 'text')
    .addColumn('token_type', 'varchar(64)')
    .addColumn('issued_at', 'bigint')
    .addColumn('expires_at', 'bigint')
    .addColumn('scope', 'text')
    .addColumn('instance_url', 'text')
    .addColumn('identity', 'text')
    .addColumn('last_refresh_at', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('credentials_pk', ['external_credential', 'principal', 'user_id'])
    .execute()

  await db.schema
    .createTable('pending_authorizations')
    .addColumn('state', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('named_credential', 'varchar(255)', (c) => c.notNull())
    .addColumn('external_credential', 'varchar(255)', (c) => c.notNull())
    .addColumn('principal', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('code_verifier', 'text')
    .addColumn('nonce', 'text')
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('pending_authorizations_expires_at')
    .on('pending_authorizations')
    .column('expires_at')
    .execute()

  await db.schema
    .createTable('leases')
    .addColumn('name', 'varchar(512)', (c) => c.primaryKey())
    .addColumn('holder', 'varchar(255)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute()
}
