/**
 * The client keys repository: proxy keys (`ck_…`) stored as SHA-256 hashes with their rules, each
 * row tagged (see `row-integrity.ts`) so that write access to the database without the master key
 * cannot widen a key's rules, extend its expiry, undo its revocation or plant a key. Only the
 * `callout keys` commands write it; `callout serve` reads it.
 */
import type { Kysely, Selectable } from 'kysely'
import { CalloutError } from '../errors.ts'
import { writeAudited, type AuditRecord } from './admin.ts'
import type { RepositoryContext } from './repository-context.ts'
import { clientKeyMacInput, tamperedClientKeys } from './row-integrity.ts'
import { toNumber } from './schema.ts'
import type { ClientKeysTable, Database } from './schema.ts'
import { MAX_KEY_LENGTH, assertKeyPart } from './store-validation.ts'

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

/** A stored client key row that failed its integrity check: what may be shown of it. */
export interface TamperedClientKey {
  /** The row's id (what `callout keys revoke` takes). */
  readonly id: string
  /** The row's name, as stored (not trusted). */
  readonly name: string
}

/** Every stored client key, with the rows that fail their integrity check set apart. */
export interface ClientKeyListing {
  /** Rows whose tags verify, newest first. */
  readonly keys: ClientKeyRecord[]
  /** Rows that fail their check: never returned as records, only named. */
  readonly tampered: TamperedClientKey[]
}

/**
 * What the proxy and `callout keys` need from storage (a narrow interface the server depends on).
 *
 * @example
 * const record = await keys.getClientKey('3f2a1b0c9d8e')
 */
export interface ClientKeyStore {
  /** Stores a new key; with `audit`, that entry is written in the same transaction. */
  createClientKey(record: ClientKeyRecord, options?: { audit?: AuditRecord }): Promise<void>
  /** One key; `STORE_TAMPERED` when its row fails its integrity check. */
  getClientKey(id: string): Promise<ClientKeyRecord | undefined>
  /** Every key, newest first, revoked ones included; `STORE_TAMPERED` names any tampered row. */
  listClientKeys(): Promise<ClientKeyRecord[]>
  /**
   * Every key, newest first, revoked ones included; a row that fails its integrity check is
   * named in `tampered` instead of failing the whole listing (`callout keys list`).
   */
  inspectClientKeys(): Promise<ClientKeyListing>
  /**
   * Marks a key revoked; false when no such key exists or it was already revoked. With `audit`,
   * that entry is written in the same transaction as the revocation (and not at all for false).
   */
  revokeClientKey(id: string, options?: { audit?: AuditRecord }): Promise<boolean>
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

/** The write lock of audited client key changes. */
const KEYS_LOCK = 'callout.client_keys'

/** How often a revocation re-reads a row that a concurrent writer (a rotation) re-tagged. */
const REVOKE_ATTEMPTS = 3

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

  async createClientKey(
    record: ClientKeyRecord,
    options: { audit?: AuditRecord } = {},
  ): Promise<void> {
    assertClientKey(record)
    const { database, ring } = this.#context
    await this.#context.run('store a client key', async () => {
      const row = {
        id: record.id,
        name: record.name,
        rules: JSON.stringify(record.rules),
        any_user: record.anyUser ? 1 : 0,
        key_hash: record.keyHash,
        created_at: record.createdAt,
        expires_at: record.expiresAt ?? null,
        revoked_at: record.revokedAt ?? null,
      }
      await writeAudited(database, KEYS_LOCK, options.audit, async (db) => {
        await db
          .insertInto('client_keys')
          .values({ ...row, mac: ring.sign(clientKeyMacInput(row)) })
          .execute()
      })
    })
  }

  async getClientKey(id: string): Promise<ClientKeyRecord | undefined> {
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_KEY_LENGTH) return undefined
    return this.#context.run('read a client key', async () => {
      const db = this.#context.database.db
      const row = await db
        .selectFrom('client_keys')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst()
      if (row === undefined) return undefined
      return (await this.#verified(db, [row]))[0]
    })
  }

  async listClientKeys(): Promise<ClientKeyRecord[]> {
    const { keys, tampered } = await this.inspectClientKeys()
    if (tampered.length > 0) throw tamperedClientKeys(tampered.map((row) => row.id))
    return keys
  }

  inspectClientKeys(): Promise<ClientKeyListing> {
    return this.#context.run('list client keys', async () => {
      const db = this.#context.database.db
      const rows = await db
        .selectFrom('client_keys')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .execute()
      const { ring, ensureKeys } = this.#context
      await ensureKeys(
        db,
        rows.map((row) => row.mac),
      )
      const keys: ClientKeyRecord[] = []
      const tampered: TamperedClientKey[] = []
      for (const row of rows) {
        if (ring.verify(row.mac, clientKeyMacInput(row))) keys.push(fromRow(row))
        else tampered.push({ id: row.id, name: row.name })
      }
      return { keys, tampered }
    })
  }

  /**
   * Marks a key revoked and tags the revoked row. A row that failed its check is tagged too: a
   * revoked key is refused whatever its other columns say, and un-revoking it breaks the tag.
   */
  async revokeClientKey(id: string, options: { audit?: AuditRecord } = {}): Promise<boolean> {
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_KEY_LENGTH) return false
    const { database, ring, clock } = this.#context
    return this.#context.run('revoke a client key', async () => {
      for (let attempt = 0; attempt < REVOKE_ATTEMPTS; attempt++) {
        const row = await database.db
          .selectFrom('client_keys')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst()
        if (row === undefined || row.revoked_at !== null) return false
        const revokedAt = clock.now()
        const mac = ring.sign(clientKeyMacInput({ ...row, revoked_at: revokedAt }))
        const revoked = await writeAudited(
          database,
          KEYS_LOCK,
          options.audit,
          async (db) => {
            const result = await db
              .updateTable('client_keys')
              .set({ revoked_at: revokedAt, mac })
              .where('id', '=', id)
              .where('revoked_at', 'is', null)
              // Compare-and-set on the whole row's tag: a concurrent change is re-read first.
              .where('mac', row.mac === null ? 'is' : '=', row.mac)
              .executeTakeFirst()
            return Number(result.numUpdatedRows) > 0
          },
          (changed) => changed,
        )
        if (revoked) return true
      }
      throw new CalloutError(
        'STORE_CONFLICT',
        `Client key ${id} kept changing while it was being revoked; run \`callout keys revoke ${id}\` again.`,
      )
    })
  }

  /**
   * Tags every client key row, in the caller's transaction: for keys created before client keys
   * carried integrity tags (migration 0005). Returns how many rows it tagged.
   */
  async signAll(trx: Kysely<Database>): Promise<number> {
    const rows = await trx.selectFrom('client_keys').selectAll().execute()
    for (const row of rows) {
      const mac = this.#context.ring.sign(clientKeyMacInput(row))
      await trx.updateTable('client_keys').set({ mac }).where('id', '=', row.id).execute()
    }
    return rows.length
  }

  /** The records of rows whose tags verify; `STORE_TAMPERED` naming every row that fails. */
  async #verified(db: Kysely<Database>, rows: readonly Row[]): Promise<ClientKeyRecord[]> {
    const { ring, ensureKeys } = this.#context
    await ensureKeys(
      db,
      rows.map((row) => row.mac),
    )
    const tampered = rows.filter((row) => !ring.verify(row.mac, clientKeyMacInput(row)))
    if (tampered.length > 0) throw tamperedClientKeys(tampered.map((row) => row.id))
    return rows.map(fromRow)
  }
}

function assertClientKey(record: ClientKeyRecord): void {
  if (typeof record !== 'object' || record === null) {
    throw new CalloutError('INVALID_ARGUMENT', 'A client key record must be an object.')
  }
  assertKeyPart(record.id, 'id', false)
  assertKeyPart(record.name, 'name', false)
  assertKeyPart(record.keyHash, 'keyHash', false)
  if (!Array.isArray(record.rules) || !record.rules.every((rule) => typeof rule === 'string')) {
    throw new CalloutError('INVALID_ARGUMENT', 'rules must be a list of strings.')
  }
  if (typeof record.anyUser !== 'boolean') {
    throw new CalloutError('INVALID_ARGUMENT', 'anyUser must be true or false.')
  }
  for (const field of ['createdAt', 'expiresAt', 'revokedAt'] as const) {
    const value: unknown = record[field]
    if ((field === 'createdAt' || value !== undefined) && !Number.isSafeInteger(value)) {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be an integer (ms since epoch).`)
    }
  }
}
