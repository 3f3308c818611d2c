/**
 * Rate-limit counters in the store, so that every `callout serve` on one database shares one
 * budget per key (the console's login limit). Fixed windows timed by the database's clock (hosts'
 * clocks may be skewed); one atomic upsert per hit.
 */
import { sql } from 'kysely'
import { CalloutError } from '../errors.ts'
import type { RepositoryContext } from './repository-context.ts'
import { toNumber } from './schema.ts'
import { MAX_KEY_LENGTH } from './store-validation.ts'

/** Counters older than this are deleted when a new window starts: 1 day. */
const STALE_WINDOW_MS = 24 * 60 * 60 * 1000

/** Where a key stands after one more hit. */
export interface RateLimitHit {
  /** Hits in the current window, this one included. */
  readonly count: number
  /** Milliseconds until the window ends. */
  readonly ttlMs: number
}

/**
 * Counts hits per key in fixed windows shared by every instance on the database.
 *
 * @example
 * const { count, ttlMs } = await store.rateLimits.hit('login|203.0.113.9', 60_000)
 */
export interface RateLimitStore {
  /** Counts one hit on `key` in its current window of `windowMs` (a new window when it ended). */
  hit(key: string, windowMs: number): Promise<RateLimitHit>
}

/** {@link RateLimitStore} over the `rate_limits` table. */
export class KyselyRateLimits implements RateLimitStore {
  readonly #context: RepositoryContext

  constructor(context: RepositoryContext) {
    this.#context = context
  }

  async hit(key: string, windowMs: number): Promise<RateLimitHit> {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `A rate-limit key must be 1–${MAX_KEY_LENGTH} characters.`,
      )
    }
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
      throw new CalloutError('INVALID_ARGUMENT', 'windowMs must be a positive whole number.')
    }
    const { database } = this.#context
    return this.#context.run('count a rate-limited request', async () => {
      const now = database.nowMs()
      const ended = sql<boolean>`rate_limits.window_start + ${windowMs} <= ${now}`
      const row = await database.write((db) =>
        db
          .insertInto('rate_limits')
          .values({ key, count: 1, window_start: now })
          .onConflict((oc) =>
            oc.column('key').doUpdateSet({
              count: sql<number>`case when ${ended} then 1 else rate_limits.count + 1 end`,
              window_start: sql<number>`case when ${ended} then ${now} else rate_limits.window_start end`,
            }),
          )
          .returning(['count', 'window_start', now.as('now')])
          .executeTakeFirstOrThrow(),
      )
      const count = Number(row.count)
      const at = toNumber(row.now)
      if (count === 1) {
        // Housekeeping when a window starts: counters of long-gone windows.
        await database.write((db) =>
          db
            .deleteFrom('rate_limits')
            .where('window_start', '<', at - STALE_WINDOW_MS)
            .execute(),
        )
      }
      return { count, ttlMs: Math.max(0, toNumber(row.window_start) + windowMs - at) }
    })
  }
}
