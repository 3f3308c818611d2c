/**
 * What every repository of the store shares: the opened database, the key ring, the clock, the
 * translation of driver errors, and the loading of data keys that another process created.
 */
import type { Kysely } from 'kysely'
import type { Clock } from '../clock.ts'
import { KeyRing } from '../secrets/key-ring.ts'
import type { DataKeyRecord } from '../secrets/key-ring.ts'
import { toNumber } from './schema.ts'
import type { Database } from './schema.ts'
import type { SqlDatabase } from './sql-database.ts'
import { toStoreError } from './store-error.ts'

/**
 * The store internals a repository works with. One context is shared by every repository of one
 * opened store, so they see the same key ring (rotation included).
 *
 * @example
 * const context = repositoryContext(database, ring, systemClock)
 * const credentials = new CredentialsRepository(context)
 */
export interface RepositoryContext {
  readonly database: SqlDatabase
  readonly ring: KeyRing
  readonly clock: Clock
  /**
   * Runs `fn`; a driver error becomes `STORE_ERROR` naming `operation` and the store's location
   * (a `CalloutError` passes through unchanged).
   */
  readonly run: <T>(operation: string, fn: () => Promise<T>) => Promise<T>
  /** Loads the data keys that these ciphertexts or tags name but the ring lacks. */
  readonly ensureKeys: (
    db: Kysely<Database>,
    ciphertexts: Iterable<string | null | undefined>,
  ) => Promise<void>
}

/**
 * Builds the {@link RepositoryContext} of one opened store.
 *
 * @example
 * const context = repositoryContext(openSqlite({ path: ':memory:' }), KeyRing.open(masterKey, []), systemClock)
 */
export function repositoryContext(
  database: SqlDatabase,
  ring: KeyRing,
  clock: Clock,
): RepositoryContext {
  return {
    database,
    ring,
    clock,
    run: async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn()
      } catch (error) {
        throw toStoreError(error, operation, database.location)
      }
    },
    ensureKeys: async (db, ciphertexts) => {
      let missing = false
      for (const text of ciphertexts) {
        if (text === null || text === undefined) continue
        const id = KeyRing.keyIdOf(text) ?? KeyRing.keyIdOfTag(text)
        if (id !== undefined && !ring.has(id)) {
          missing = true
          break
        }
      }
      if (!missing) return
      ring.load((await readDataKeys(db)).filter((record) => !ring.has(record.id)))
    },
  }
}

/** Reads every data key record, oldest first. */
export async function readDataKeys(db: Kysely<Database>): Promise<DataKeyRecord[]> {
  const rows = await db.selectFrom('data_keys').selectAll().orderBy('created_at').execute()
  return rows.map((row) => ({
    id: row.id,
    masterKeyId: row.master_key_id,
    wrappedKey: row.wrapped_key,
    createdAt: toNumber(row.created_at),
  }))
}

/** Inserts one data key record. */
export async function insertDataKey(db: Kysely<Database>, record: DataKeyRecord): Promise<void> {
  await db
    .insertInto('data_keys')
    .values({
      id: record.id,
      master_key_id: record.masterKeyId,
      wrapped_key: record.wrappedKey,
      created_at: record.createdAt,
    })
    .execute()
}
