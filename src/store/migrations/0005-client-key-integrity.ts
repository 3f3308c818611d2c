/**
 * Migration 0005: integrity tags on client keys. Adds a `mac` column to `client_keys`. Frozen in
 * time: never edit it once released; add a new migration instead.
 *
 * The schema change needs no key; the store tags the keys that existed before (with the master
 * key it was opened with) in the same transaction, right after this migration runs.
 */
import type { Kysely } from 'kysely'

/** Adds the `mac` column of schema version 5. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('client_keys').addColumn('mac', 'text').execute()
}
