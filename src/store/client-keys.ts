/**
 * The client keys repository: proxy keys (`ck_…`) stored as SHA-256 hashes with their rules.
 * Only the `callout keys` commands write it; `callout serve` reads it.
 */
import type { Kysely, Selectable } from 'kysely'
import type { Clock } from '../clock.ts'
import { CalloutError } from '../errors.ts'
import { toNumber } from './schema.ts'
import type { ClientKeysTable, Database } from './schema.ts'
import type { SqlDatabase } from './sql-database.ts'
import { toStoreError } from './store-error.ts'

/** One stored client key. Never the key itself: `keyHash` is its SHA-256. */
export interface ClientKeyRecord {
  /** The public id (the part after `ck_`), shown by `callout keys list`. */
  readonly id: string
  readonly name: string
  /** Rules in `--allow` syntax (`Target:GET:/services/data/*`). */
  readonly rules: readonly string[]
  /** May act for end users (`Callout-User`). */
  readonly anyUser: boolean
  readonly keyHash: string
  /** ms since epoch. */
  readonly createdAt: number
  readonly expiresAt?: number
  readonly revokedAt?: number
}

/**
 * What the proxy and `callout keys` need from storage (a narrow interface the server depends on).
 *
 * @example
 * const record = await keys.getClientKey('3f2a1b0c9d8e')
 */
export interface ClientKeyStore {
  createClientKey(record: ClientKeyRecord): Promise<void>
  getClientKey(id: string): Promise<ClientKeyRecord | undefined>
  /** Every key, newest first, revoked ones included. */
  listClientKeys(): Promise<ClientKeyRecord[]>
  /** Marks a key revoked; false when no such key exists or it was already revoked. */
  revokeClientKey(id: string): Promise<boolean>
}

type Row = Selectable<ClientKeysTable>

function fromRow(row: Row): ClientKeyRecord {
  const expiresAt = toNumber(row.expires_at)
  const revokedAt = toNumber(row.revoked_at)
  return {
    id: row.id,
    name: row.name,
    rules: JSON.parse(row.rules) as string[],
    anyUser: Number(row.any_user) === 1,
    keyHash: row.key_hash,
    createdAt: toNumber(row.created_at),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(revokedAt === undefined ? {} : { revokedAt }),
  }
}

/**
 * {@link ClientKeyStore} over the store's database (SQLite or PostgreSQL).
 *
 * @example
 * const keys = new KyselyClientKeys(database, systemClock)
 */
export class KyselyClientKeys implements ClientKeyStore {
  readonly #database: SqlDatabase
  readonly #clock: Clock

  constructor(database: SqlDatabase, clock: Clock) {
    this.#database = database
    this.#clock = clock
  }

  createClientKey(record: ClientKeyRecord): Promise<void> {
    return this.#run('store a client key', async () => {
      await this.#database.write((db) =>
        db
          .insertInto('client_keys')
          .values({
            id: record.id,
            name: record.name,
            rules: JSON.stringify(record.rules),
            any_user: record.anyUser ? 1 : 0,
            key_hash: record.keyHash,
            created_at: record.createdAt,
            expires_at: record.expiresAt ?? null,
            revoked_at: record.revokedAt ?? null,
          })
          .execute(),
      )
    })
  }

  getClientKey(id: string): Promise<ClientKeyRecord | undefined> {
    return this.#run('read a client key', async () => {
      const row = await this.#database.db
        .selectFrom('client_keys')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst()
      return row === undefined ? undefined : fromRow(row)
    })
  }

  listClientKeys(): Promise<ClientKeyRecord[]> {
    return this.#run('list client keys', async () => {
      const rows = await this.#database.db
        .selectFrom('client_keys')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .execute()
      return rows.map(fromRow)
    })
  }

  revokeClientKey(id: string): Promise<boolean> {
    return this.#run('revoke a client key', async () => {
      const result = await this.#database.write((db) =>
        db
          .updateTable('client_keys')
          .set({ revoked_at: this.#clock.now() })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst(),
      )
      return Number(result.numUpdatedRows) > 0
    })
  }

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      if (error instanceof CalloutError) throw error
      throw toStoreError(error, operation, this.#database.location)
    }
  }
}

/**
 * A cheap stamp of the definitions: row count and latest `updated_at` of each definition table.
 * It changes whenever `apply` (from any process) writes or deletes a definition, so a long-running
 * `callout serve` can poll it and reload.
 *
 * @example
 * const before = await definitionsStamp(db)
 */
export async function definitionsStamp(db: Kysely<Database>): Promise<string> {
  const parts: string[] = []
  for (const table of ['auth_providers', 'external_credentials', 'named_credentials'] as const) {
    const row = await db
      .selectFrom(table)
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('updated_at').as('latest')])
      .executeTakeFirst()
    parts.push(`${String(row?.n ?? 0)}@${String(row?.latest ?? 0)}`)
  }
  return parts.join(',')
}
