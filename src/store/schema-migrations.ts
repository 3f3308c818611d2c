/**
 * Schema versioning of a store: reads the version recorded in `callout_meta`, refuses a store
 * written by a newer Callout, and applies the pending migrations in one write transaction. Some
 * migrations need the master key for the rows that already exist (tagging them, for instance):
 * the store passes those steps in, keyed by the migration's version.
 */
import type { Kysely } from 'kysely'
import { CalloutError } from '../errors.ts'
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations/index.ts'
import type { Database } from './schema.ts'
import type { SqlDatabase } from './sql-database.ts'

const SCHEMA_VERSION_KEY = 'schema_version'

/**
 * A step that runs right after the migration of its version, in the same transaction, when an
 * existing store (version ≥ 1) is upgraded; it returns what it did, for the progress message.
 */
export type ExistingRowsStep = (trx: Kysely<Database>) => Promise<string>

/** The schema version recorded in the store (0 for an empty database). */
export async function readSchemaVersion(
  database: SqlDatabase,
  db: Kysely<Database>,
): Promise<number> {
  if (!(await database.tableExists(db, 'callout_meta'))) return 0
  const row = await db
    .selectFrom('callout_meta')
    .select('value')
    .where('key', '=', SCHEMA_VERSION_KEY)
    .executeTakeFirst()
  const version = row === undefined ? 0 : Number(row.value)
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new CalloutError(
      'STORE_ERROR',
      `The store at ${database.location} has a malformed schema version; restore it from a backup.`,
    )
  }
  return version
}

/** Throws `STORE_ERROR` for a store whose schema is newer than this Callout knows. */
export function refuseNewerSchema(version: number, location: string): void {
  if (version > LATEST_SCHEMA_VERSION) {
    throw new CalloutError(
      'STORE_ERROR',
      `The store at ${location} has schema version ${version}, created by a newer ` +
        `Callout (this one knows up to version ${LATEST_SCHEMA_VERSION}). Upgrade Callout, or point ` +
        'CALLOUT_STORE at another store.',
      { details: { schemaVersion: version, supported: LATEST_SCHEMA_VERSION } },
    )
  }
}

/**
 * Applies every pending migration in one write transaction, reporting progress. Idempotent.
 *
 * @example
 * await migrateSchema(database, console.log, new Map([[2, (trx) => signRows(trx)]]))
 */
export async function migrateSchema(
  database: SqlDatabase,
  report: (message: string) => void,
  existingRowsSteps: ReadonlyMap<number, ExistingRowsStep>,
): Promise<void> {
  await database.writeTransaction('callout.migrate', async (trx) => {
    await trx.schema
      .createTable('callout_meta')
      .ifNotExists()
      .addColumn('key', 'varchar(100)', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute()
    const current = await readSchemaVersion(database, trx)
    refuseNewerSchema(current, database.location)
    if (current === LATEST_SCHEMA_VERSION) {
      report(`Schema is up to date (version ${current}).`)
      return
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue
      const step = current >= 1 ? existingRowsSteps.get(migration.version) : undefined
      if (step === undefined) {
        report(
          `Applying migration ${migration.name} (${migration.version}/${LATEST_SCHEMA_VERSION})…`,
        )
      }
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are written against Kysely<any>
      await migration.up(trx as Kysely<any>)
      if (step !== undefined) report(`Applied migration ${migration.name}: ${await step(trx)}.`)
      await setSchemaVersion(trx, migration.version)
    }
    report(`Schema migrated to version ${LATEST_SCHEMA_VERSION}.`)
  })
}

async function setSchemaVersion(db: Kysely<Database>, version: number): Promise<void> {
  await db
    .insertInto('callout_meta')
    .values({ key: SCHEMA_VERSION_KEY, value: String(version) })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(version) }))
    .execute()
}
