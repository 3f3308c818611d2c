/**
 * The pending authorizations repository: browser flows between the authorization request and the
 * callback, keyed by `state`. The PKCE verifier is encrypted (AAD: `pending_authorizations`,
 * `code_verifier`, state); taking one deletes it, so a callback is single use. A flow that never
 * came back stays past its expiry (without being takeable) for {@link EXPIRED_FLOW_RETENTION_MS},
 * so that status pages can show it as timed out and a late callback can be told so.
 */
import { CalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import type { RepositoryContext } from './repository-context.ts'
import { toNumber } from './schema.ts'
import { MAX_KEY_LENGTH, assertKeyPart, withoutUndefined } from './store-validation.ts'
import type { PendingAuthorization, PendingFlow } from './types.ts'
import { writeAudited, type AuditedWrite } from './admin.ts'

const TABLE = 'pending_authorizations'

/** How long an expired (timed-out) flow is kept for status pages and late callbacks: 7 days. */
export const EXPIRED_FLOW_RETENTION_MS = 7 * 24 * 60 * 60 * 1000

/**
 * Reads and writes the `pending_authorizations` table.
 *
 * @example
 * const pending = new PendingAuthorizationsRepository(context)
 * const taken = await pending.take(state, Date.now())
 */
export class PendingAuthorizationsRepository {
  readonly #context: RepositoryContext

  constructor(context: RepositoryContext) {
    this.#context = context
  }

  /** Stores a pending authorization; `STORE_CONFLICT` when its state is taken. */
  async put(pending: PendingAuthorization, options: AuditedWrite = {}): Promise<void> {
    assertPending(pending)
    const { ring, clock, database } = this.#context
    await this.#context.run('store a pending authorization', async () => {
      const now = clock.now()
      const codeVerifier =
        pending.codeVerifier === undefined
          ? null
          : ring.encrypt(pending.codeVerifier.reveal(), {
              table: TABLE,
              column: 'code_verifier',
              row: pending.state,
            })
      const inserted = await writeAudited(
        database,
        'callout.pending_authorizations',
        options.audit,
        async (db) => {
          // Housekeeping: expired authorizations can never be taken; after the retention they are
          // no longer shown as timed out either.
          await db
            .deleteFrom(TABLE)
            .where('expires_at', '<=', now - EXPIRED_FLOW_RETENTION_MS)
            .execute()
          return db
            .insertInto(TABLE)
            .values({
              state: pending.state,
              named_credential: pending.namedCredential,
              external_credential: pending.externalCredential,
              principal: pending.principal,
              user_id: pending.userId,
              code_verifier: codeVerifier,
              nonce: pending.nonce ?? null,
              redirect_uri: pending.redirectUri,
              expires_at: pending.expiresAt,
              created_at: now,
            })
            .onConflict((oc) => oc.column('state').doNothing())
            .executeTakeFirst()
        },
        (result) => result.numInsertedOrUpdatedRows !== 0n,
      )
      if (inserted.numInsertedOrUpdatedRows === 0n) {
        throw new CalloutError(
          'STORE_CONFLICT',
          'A pending authorization with this state already exists; start the authorization again.',
        )
      }
    })
  }

  /**
   * Returns and deletes the pending authorization (single use); undefined if absent or expired.
   * An expired one is left in place: it shows as timed out ({@link list}).
   */
  async take(state: string, now: number): Promise<PendingAuthorization | undefined> {
    if (!validState(state)) return undefined
    if (!Number.isFinite(now))
      throw new CalloutError('INVALID_ARGUMENT', '`now` must be ms since epoch.')
    const { ring, database } = this.#context
    return this.#context.run('take a pending authorization', async () => {
      // DELETE … RETURNING: single use even when two callbacks race.
      const row = await database.write((db) =>
        db
          .deleteFrom(TABLE)
          .where('state', '=', state)
          .where('expires_at', '>', now)
          .returningAll()
          .executeTakeFirst(),
      )
      if (row === undefined) return undefined
      await this.#context.ensureKeys(database.db, [row.code_verifier])
      return withoutUndefined<PendingAuthorization>({
        state: row.state,
        namedCredential: row.named_credential,
        externalCredential: row.external_credential,
        principal: row.principal,
        userId: row.user_id,
        codeVerifier:
          row.code_verifier === null
            ? undefined
            : ring.decrypt(row.code_verifier, {
                table: TABLE,
                column: 'code_verifier',
                row: row.state,
              }),
        nonce: row.nonce ?? undefined,
        redirectUri: row.redirect_uri,
        expiresAt: toNumber(row.expires_at),
      })
    })
  }

  /**
   * The flows started and not yet taken (pending, or expired and kept for
   * {@link EXPIRED_FLOW_RETENTION_MS}), newest first, without their secrets; filtered by
   * External Credential or by `state`.
   */
  async list(filter: { externalCredential?: string; state?: string } = {}): Promise<PendingFlow[]> {
    if (filter.state !== undefined && !validState(filter.state)) return []
    const { database } = this.#context
    return this.#context.run('list pending authorizations', async () => {
      let query = database.db
        .selectFrom(TABLE)
        .select([
          'named_credential',
          'external_credential',
          'principal',
          'user_id',
          'created_at',
          'expires_at',
        ])
      if (filter.externalCredential !== undefined)
        query = query.where('external_credential', '=', filter.externalCredential)
      if (filter.state !== undefined) query = query.where('state', '=', filter.state)
      const rows = await query.orderBy('created_at', 'desc').execute()
      return rows.map((row) => ({
        namedCredential: row.named_credential,
        externalCredential: row.external_credential,
        principal: row.principal,
        userId: row.user_id,
        createdAt: toNumber(row.created_at),
        expiresAt: toNumber(row.expires_at),
      }))
    })
  }
}

function validState(state: unknown): state is string {
  return typeof state === 'string' && state.length > 0 && state.length <= MAX_KEY_LENGTH
}

function assertPending(pending: PendingAuthorization): void {
  if (typeof pending !== 'object' || pending === null) {
    throw new CalloutError('INVALID_ARGUMENT', 'A pending authorization must be an object.')
  }
  assertKeyPart(pending.state, 'state', false)
  assertKeyPart(pending.namedCredential, 'namedCredential', false)
  assertKeyPart(pending.externalCredential, 'externalCredential', false)
  assertKeyPart(pending.principal, 'principal', false)
  assertKeyPart(pending.userId, 'userId', true)
  if (typeof pending.redirectUri !== 'string') {
    throw new CalloutError('INVALID_ARGUMENT', 'redirectUri must be a string.')
  }
  if (pending.codeVerifier !== undefined && !(pending.codeVerifier instanceof Secret)) {
    throw new CalloutError('INVALID_ARGUMENT', 'codeVerifier must be a Secret.')
  }
  if (pending.nonce !== undefined && typeof pending.nonce !== 'string') {
    throw new CalloutError('INVALID_ARGUMENT', 'nonce must be a string.')
  }
  if (!Number.isSafeInteger(pending.expiresAt)) {
    throw new CalloutError('INVALID_ARGUMENT', 'expiresAt must be an integer (ms since epoch).')
  }
}
