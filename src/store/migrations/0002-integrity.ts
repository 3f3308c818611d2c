/**
 * Migration 0002: integrity tags. Adds a `mac` column to the three definition tables and to
 * `credentials`. Frozen in time: never edit it once released; add a new migration instead.
 *
 * The schema change needs no key; the store signs the rows that existed before (with the master
 * key it was opened with) in the same transaction, right after this migration runs.
 */
import type { Kysely } from 'kysely'

/** The tables that gain a `mac` column. */
export const INTEGRITY_TABLES = [
  'auth_providers',
  'external_credentials',
  'named_credentials',
  'credentials',
] as const

/** Adds the `mac` columns of schema version 2. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  for (const table of INTEGRITY_TABLES) {
    await db.schema.alterTable(table).addColumn('mac', 'text').execute()
  }
}
