/**
 * The leases repository: cross-process mutual exclusion for token refresh, one row per lease with
 * its holder and an expiry computed by the database's clock (hosts sharing a store may disagree
 * about the time).
 */
import { sql } from 'kysely'
import { CalloutError } from '../errors.ts'
import type { RepositoryContext } from './repository-context.ts'
import { assertKeyPart } from './store-validation.ts'
import type { LeaseStore } from './types.ts'

/** The longest lease: a day. */
const MAX_TTL_MS = 24 * 60 * 60 * 1000

/**
 * {@link LeaseStore} over the `leases` table.
 *
 * @example
 * const leases = new LeasesRepository(context)
 * if (await leases.acquireLease('token:Api/Main/', holderId, 15_000)) refresh()
 */
export class LeasesRepository implements LeaseStore {
  readonly #context: RepositoryContext

  constructor(context: RepositoryContext) {
    this.#context = context
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    assertLease(name, holder, ttlMs)
    const { database } = this.#context
    return this.#context.run('acquire a lease', async () => {
      const now = database.nowMs()
      const expiresAt = sql<number>`${now} + ${ttlMs}`
      // One statement: insert, or take over an expired lease (or extend our own). Exactly one
      // concurrent caller gets a row back.
      const row = await database.write((db) =>
        db
          .insertInto('leases')
          .values({ name, holder, expires_at: expiresAt })
          .onConflict((oc) =>
            oc
              .column('name')
              .doUpdateSet({ holder, expires_at: expiresAt })
              .where((eb) =>
                eb.or([eb('leases.expires_at', '<=', now), eb('leases.holder', '=', holder)]),
              ),
          )
          .returning('holder')
          .executeTakeFirst(),
      )
      return row !== undefined && row.holder === holder
    })
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    assertLease(name, holder, ttlMs)
    const { database } = this.#context
    return this.#context.run('renew a lease', async () => {
      const expiresAt = sql<number>`${database.nowMs()} + ${ttlMs}`
      const result = await database.write((db) =>
        db
          .updateTable('leases')
          .set({ expires_at: expiresAt })
          .where('name', '=', name)
          .where('holder', '=', holder)
          .executeTakeFirst(),
      )
      return result.numUpdatedRows > 0n
    })
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    assertLease(name, holder, 1)
    await this.#context.run('release a lease', () =>
      this.#context.database.write((db) =>
        db.deleteFrom('leases').where('name', '=', name).where('holder', '=', holder).execute(),
      ),
    )
  }
}

function assertLease(name: unknown, holder: unknown, ttlMs: unknown): void {
  assertKeyPart(name, 'lease name', false)
  assertKeyPart(holder, 'lease holder', false)
  if (
    typeof ttlMs !== 'number' ||
    !Number.isSafeInteger(ttlMs) ||
    ttlMs <= 0 ||
    ttlMs > MAX_TTL_MS
  ) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `ttlMs must be a positive integer of at most ${MAX_TTL_MS}.`,
    )
  }
}
