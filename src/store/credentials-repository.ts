/**
 * The credentials repository: the stored state of each principal (and user). Tokens are encrypted
 * (AAD: `credentials`, column, {@link credentialRowId}); the `instance_url` that decides where
 * tokens go carries an integrity tag; writes are compare-and-swap on `version`.
 */
import type { Kysely, Selectable } from 'kysely'
import { CalloutError } from '../errors.ts'
import type { CredentialKey, CredentialStatus, PrincipalCredential } from '../definitions/model.ts'
import type { SecretAad } from '../secrets/envelope.ts'
import { Secret } from '../secrets/secret.ts'
import { auditOf, writeAudited, type AuditedWrite } from './admin.ts'
import type { RepositoryContext } from './repository-context.ts'
import { credentialMacInput, tamperedCredential } from './row-integrity.ts'
import { toNumber } from './schema.ts'
import type { CredentialsTable, Database } from './schema.ts'
import { assertKeyPart, withoutUndefined } from './store-validation.ts'

type CredentialRow = Selectable<CredentialsTable>

const STATUSES: ReadonlySet<string> = new Set<CredentialStatus>([
  'not-configured',
  'pending',
  'authenticated',
  'needs-reauth',
  'error',
])

/** The row id a credential's secrets and tag are bound to: its key, JSON-encoded. */
export function credentialRowId(key: CredentialKey): string {
  return JSON.stringify([key.externalCredential, key.principal, key.userId])
}

/**
 * Reads and writes the `credentials` table.
 *
 * @example
 * const credentials = new CredentialsRepository(context)
 * const stored = await credentials.get({ externalCredential: 'Api', principal: 'Main', userId: '' })
 */
export class CredentialsRepository {
  readonly #context: RepositoryContext

  constructor(context: RepositoryContext) {
    this.#context = context
  }

  /** One stored credential, or undefined if never stored. */
  async get(key: CredentialKey): Promise<PrincipalCredential | undefined> {
    assertCredentialKey(key)
    return this.#context.run('read a credential', async () => {
      const db = this.#context.database.db
      const row = await db
        .selectFrom('credentials')
        .selectAll()
        .where('external_credential', '=', key.externalCredential)
        .where('principal', '=', key.principal)
        .where('user_id', '=', key.userId)
        .executeTakeFirst()
      if (row === undefined) return undefined
      await this.#context.ensureKeys(db, [row.access_token, row.refresh_token, row.mac])
      return this.#decode(row)
    })
  }

  /** Every stored credential (of one ExternalCredential, with the filter), in key order. */
  async list(filter: { externalCredential?: string } = {}): Promise<PrincipalCredential[]> {
    const ec = filter.externalCredential
    if (ec !== undefined && typeof ec !== 'string') {
      throw new CalloutError('INVALID_ARGUMENT', 'filter.externalCredential must be a string.')
    }
    return this.#context.run('list credentials', async () => {
      const db = this.#context.database.db
      let query = db.selectFrom('credentials').selectAll()
      if (ec !== undefined) query = query.where('external_credential', '=', ec)
      const rows = await query
        .orderBy('external_credential')
        .orderBy('principal')
        .orderBy('user_id')
        .execute()
      await this.#context.ensureKeys(
        db,
        rows.flatMap((row) => [row.access_token, row.refresh_token, row.mac]),
      )
      return rows.map((row) => this.#decode(row))
    })
  }

  /**
   * Compare-and-swap: writes `next` only if the stored version equals `expectedVersion`
   * (0 = absent). Returns the stored record, or undefined when another writer won. With
   * `audit`, the write and that entry go in one transaction (no entry when another writer won).
   */
  async compareAndSet(
    next: Omit<PrincipalCredential, 'version'>,
    expectedVersion: number,
    options: AuditedWrite<PrincipalCredential> = {},
  ): Promise<PrincipalCredential | undefined> {
    assertCredential(next)
    if (
      !Number.isSafeInteger(expectedVersion) ||
      expectedVersion < 0 ||
      expectedVersion >= 2 ** 31 - 1
    ) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        'expectedVersion must be an integer ≥ 0 (0 = absent).',
      )
    }
    const { ring, clock, database } = this.#context
    return this.#context.run('write a credential', async () => {
      const row = credentialRowId(next)
      const seal = (secret: Secret | undefined, column: string): string | null =>
        secret === undefined
          ? null
          : ring.encrypt(secret.reveal(), { table: 'credentials', column, row })
      // Access and refresh tokens go in the same statement: a rotation is atomic.
      const values = {
        status: next.status,
        access_token: seal(next.accessToken, 'access_token'),
        refresh_token: seal(next.refreshToken, 'refresh_token'),
        token_type: next.tokenType ?? null,
        issued_at: next.issuedAt ?? null,
        expires_at: next.expiresAt ?? null,
        scope: next.scope ?? null,
        instance_url: next.instanceUrl ?? null,
        mac: ring.sign(credentialMacInput(row, next.instanceUrl ?? null)),
        identity: next.identity === undefined ? null : JSON.stringify(next.identity),
        last_refresh_at: next.lastRefreshAt ?? null,
        last_error: next.lastError === undefined ? null : JSON.stringify(next.lastError),
        updated_at: clock.now(),
      }
      const { audit } = options
      return writeAudited<PrincipalCredential | undefined>(
        database,
        'callout.credentials',
        // Asked only when the write won.
        audit === undefined ? undefined : (stored) => auditOf(audit, stored!),
        async (db) => {
          const stored = await (expectedVersion === 0
            ? db
                .insertInto('credentials')
                .values({
                  external_credential: next.externalCredential,
                  principal: next.principal,
                  user_id: next.userId,
                  ...values,
                  version: 1,
                })
                .onConflict((oc) =>
                  oc.columns(['external_credential', 'principal', 'user_id']).doNothing(),
                )
                .returningAll()
                .executeTakeFirst()
            : db
                .updateTable('credentials')
                .set({ ...values, version: expectedVersion + 1 })
                .where('external_credential', '=', next.externalCredential)
                .where('principal', '=', next.principal)
                .where('user_id', '=', next.userId)
                .where('version', '=', expectedVersion)
                .returningAll()
                .executeTakeFirst())
          return stored === undefined ? undefined : this.#decode(stored)
        },
        (stored) => stored !== undefined,
      )
    })
  }

  /** Deletes one credential; false when there was none. */
  async delete(key: CredentialKey): Promise<boolean> {
    assertCredentialKey(key)
    return this.#context.run('delete a credential', async () => {
      const result = await this.#context.database.write((db) =>
        db
          .deleteFrom('credentials')
          .where('external_credential', '=', key.externalCredential)
          .where('principal', '=', key.principal)
          .where('user_id', '=', key.userId)
          .executeTakeFirst(),
      )
      return result.numDeletedRows > 0n
    })
  }

  /**
   * Tags every credential row, in the caller's transaction: for rows written before integrity
   * tags existed (migration 0002).
   */
  async signAll(trx: Kysely<Database>): Promise<void> {
    const rows = await trx
      .selectFrom('credentials')
      .select(['external_credential', 'principal', 'user_id', 'instance_url'])
      .execute()
    for (const row of rows) {
      const key = keyOfRow(row)
      const mac = this.#context.ring.sign(
        credentialMacInput(credentialRowId(key), row.instance_url),
      )
      await trx
        .updateTable('credentials')
        .set({ mac })
        .where('external_credential', '=', key.externalCredential)
        .where('principal', '=', key.principal)
        .where('user_id', '=', key.userId)
        .execute()
    }
  }

  #decode(row: CredentialRow): PrincipalCredential {
    const { ring } = this.#context
    const key = keyOfRow(row)
    const rowId = credentialRowId(key)
    if (!ring.verify(row.mac, credentialMacInput(rowId, row.instance_url))) {
      throw tamperedCredential(key, row.version)
    }
    const aad = (column: string): SecretAad => ({ table: 'credentials', column, row: rowId })
    return withoutUndefined<PrincipalCredential>({
      externalCredential: row.external_credential,
      principal: row.principal,
      userId: row.user_id,
      status: row.status as CredentialStatus,
      accessToken:
        row.access_token === null ? undefined : ring.decrypt(row.access_token, aad('access_token')),
      refreshToken:
        row.refresh_token === null
          ? undefined
          : ring.decrypt(row.refresh_token, aad('refresh_token')),
      tokenType: row.token_type ?? undefined,
      issuedAt: toNumber(row.issued_at),
      expiresAt: toNumber(row.expires_at),
      scope: row.scope ?? undefined,
      instanceUrl: row.instance_url ?? undefined,
      identity: parseJsonColumn(row.identity, 'identity'),
      lastRefreshAt: toNumber(row.last_refresh_at),
      lastError: parseJsonColumn(row.last_error, 'last_error'),
      version: row.version,
    })
  }
}

function keyOfRow(row: {
  external_credential: string
  principal: string
  user_id: string
}): CredentialKey {
  return {
    externalCredential: row.external_credential,
    principal: row.principal,
    userId: row.user_id,
  }
}

function parseJsonColumn<T>(text: string | null, column: string): T | undefined {
  if (text === null) return undefined
  try {
    return JSON.parse(text) as T
  } catch (cause) {
    throw new CalloutError(
      'STORE_ERROR',
      `A stored credential has a malformed ${column}; re-authenticate it.`,
      {
        cause,
      },
    )
  }
}

function assertCredentialKey(key: CredentialKey): void {
  if (typeof key !== 'object' || key === null) {
    throw new CalloutError('INVALID_ARGUMENT', 'A credential key must be an object.')
  }
  assertKeyPart(key.externalCredential, 'externalCredential', false)
  assertKeyPart(key.principal, 'principal', false)
  assertKeyPart(key.userId, 'userId', true)
}

function assertCredential(next: Omit<PrincipalCredential, 'version'>): void {
  assertCredentialKey(next)
  if (!STATUSES.has(next.status)) {
    throw new CalloutError('INVALID_ARGUMENT', `status must be one of ${[...STATUSES].join(', ')}.`)
  }
  for (const field of ['accessToken', 'refreshToken'] as const) {
    const value: unknown = next[field]
    if (value !== undefined && !(value instanceof Secret)) {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be a Secret.`)
    }
  }
  for (const field of ['issuedAt', 'expiresAt', 'lastRefreshAt'] as const) {
    const value: unknown = next[field]
    if (value !== undefined && !Number.isSafeInteger(value)) {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be an integer (ms since epoch).`)
    }
  }
  for (const field of ['tokenType', 'scope', 'instanceUrl'] as const) {
    const value: unknown = next[field]
    if (value !== undefined && typeof value !== 'string') {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be a string.`)
    }
  }
  for (const field of ['identity', 'lastError'] as const) {
    const value: unknown = next[field]
    if (value === undefined) continue
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be an object.`)
    }
    try {
      JSON.stringify(value)
    } catch (cause) {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be JSON-serialisable.`, { cause })
    }
  }
}
