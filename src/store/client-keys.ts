/**
 * The client keys repository: proxy keys (`ck_…`) stored as SHA-256 hashes with their rules.
 * Only the `callout keys` commands write it; `callout serve` reads it.
 */
import type { Selectable } from 'kysely'
import type { RepositoryContext } from './repository-context.ts'
import { toNumber } from './schema.ts'
import type { ClientKeysTable } from './schema.ts'

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
 * const keys = new KyselyClientKeys(context)
 */
export class KyselyClientKeys implements ClientKeyStore {
  readonly #context: RepositoryContext

  constructor(context: RepositoryContext) {
    this.#context = context
  }

  createClientKey(record: ClientKeyRecord): Promise<void> {
    return this.#context.run('store a client key', async () => {
      await this.#context.database.write((db) =>
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
    return this.#context.run('read a client key', async () => {
      const row = await this.#context.database.db
        .selectFrom('client_keys')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst()
      return row === undefined ? undefined : fromRow(row)
    })
  }

  listClientKeys(): Promise<ClientKeyRecord[]> {
    return this.#context.run('list client keys', async () => {
      const rows = await this.#context.database.db
        .selectFrom('client_keys')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .execute()
      return rows.map(fromRow)
    })
  }

  revokeClientKey(id: string): Promise<boolean> {
    return this.#context.run('revoke a client key', async () => {
      const result = await this.#context.database.write((db) =>
        db
          .updateTable('client_keys')
          .set({ revoked_at: this.#context.clock.now() })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst(),
      )
      return Number(result.numUpdatedRows) > 0
    })
  }
}
