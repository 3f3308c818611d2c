/**
 * The pending authorizations repository: browser flows between the authorization request and the
 * callback, keyed by `state`. The PKCE verifier is encrypted (AAD: `pending_authorizations`,
 * `code_verifier`, state); taking one deletes it, so a callback is single use.
 */
import { CalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import type { RepositoryContext } from './repository-context.ts'
import { toNumber } from './schema.ts'
import { MAX_KEY_LENGTH, assertKeyPart, withoutUndefined } from './store-validation.ts'
import type { PendingAuthorization } from './types.ts'

const TABLE = 'pending_authorizations'

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
  async put(pending: PendingAuthorization): Promise<void> {
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
      const inserted = await database.write(async (db) => {
        // Housekeeping: expired authorizations can never be taken.
        await db.deleteFrom(TABLE).where('expires_at', '<=', now).execute()
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
      })
      if (inserted.numInsertedOrUpdatedRows === 0n) {
        throw new CalloutError(
          'STORE_CONFLICT',
          'A pending authorization with this state already exists; start the authorization again.',
        )
      }
    })
  }

  /** Returns and deletes the pending authorization (single use); undefined if absent or expired. */
  async take(state: string, now: number): Promise<PendingAuthorization | undefined> {
    if (typeof state !== 'string' || state.length === 0 || state.length > MAX_KEY_LENGTH)
      return undefined
    if (!Number.isFinite(now))
      throw new CalloutError('INVALID_ARGUMENT', '`now` must be ms since epoch.')
    const { ring, database } = this.#context
    return this.#context.run('take a pending authorization', async () => {
      // DELETE … RETURNING: single use even when two callbacks race.
      const row = await database.write((db) =>
        db.deleteFrom(TABLE).where('state', '=', state).returningAll().executeTakeFirst(),
      )
      if (row === undefined || toNumber(row.expires_at) <= now) return undefined
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
