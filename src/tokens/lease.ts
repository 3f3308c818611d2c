import { setTimeout as sleep } from 'node:timers/promises'
import { CalloutError } from '../errors.ts'
import { isStoreUnreachable } from '../store/reachability.ts'
import type { LeaseStore } from '../store/types.ts'
import type { ArmedWait } from './change-waiters.ts'
import { silentLogger, type Logger } from './types.ts'

/** Options for {@link withLease}. */
export interface LeaseOptions {
  /** How long the lease lives without renewal. Renewed every third of it while `fn` runs. */
  readonly ttlMs: number
  /** How long to wait for another holder before giving up. Should exceed `ttlMs`. */
  readonly maxWaitMs: number
  /** First poll interval while another holder has the lease; doubles up to `maxPollMs`. */
  readonly initialPollMs: number
  readonly maxPollMs: number
  /**
   * Checked between polls: true when the other holder's work is visible (e.g. the stored token
   * changed), so waiting can stop without taking the lease.
   */
  readonly otherHolderDone?: () => Promise<boolean>
  /**
   * Arms a wake-up for the next change of what the lease guards (the store's notification that
   * the other holder wrote its result or released the lease): a waiter then retries at once
   * instead of at its next poll. Polling stays, as the fallback for a missed notification.
   */
  readonly nextChange?: () => ArmedWait
  readonly logger?: Logger
}

/**
 * Defaults for {@link LeaseOptions}, in one frozen object. The TTL is 1.5× the token request
 * timeout (10 s): a live holder renews it every 5 s, and a crashed holder blocks the other
 * processes for at most 15 s. Waiting gives up after the TTL plus one full token request.
 */
export const LEASE_DEFAULTS = Object.freeze({
  ttlMs: 15_000,
  maxWaitMs: 30_000,
  initialPollMs: 10,
  maxPollMs: 250,
})

/** How soon a failed lease renewal is tried again (at most a tenth of the TTL). */
const RENEW_RETRY_MS = 100

/** What {@link withLease} did: ran `fn` under the lease, or saw another holder finish. */
export type LeaseOutcome<T> =
  { readonly acquired: true; readonly value: T } | { readonly acquired: false }

/**
 * Runs `fn` while holding the cross-process lease `name` (DESIGN §5): takes the lease (polling
 * with backoff while another process holds it), renews it while `fn` runs, releases it after.
 * Waiting stops early when `otherHolderDone` says the other holder's result is visible.
 *
 * @example
 * const outcome = await withLease(store, 'token:ec/p/', holderId, () => refresh(), {
 *   ...LEASE_DEFAULTS,
 *   otherHolderDone: async () => (await store.getCredential(key))?.version !== seenVersion,
 * })
 */
export async function withLease<T>(
  leases: LeaseStore,
  name: string,
  holder: string,
  fn: () => Promise<T>,
  options: LeaseOptions,
): Promise<LeaseOutcome<T>> {
  const logger = options.logger ?? silentLogger
  const started = Date.now()
  let pollMs = options.initialPollMs
  // Armed before each attempt, so that a notification between the attempt and the wait counts.
  let change = options.nextChange?.()
  try {
    while (!(await attempt(() => leases.acquireLease(name, holder, options.ttlMs), logger))) {
      if (
        options.otherHolderDone !== undefined &&
        (await attempt(options.otherHolderDone, logger))
      ) {
        return { acquired: false }
      }
      if (Date.now() - started > options.maxWaitMs) {
        throw new CalloutError(
          'STORE_CONFLICT',
          `Another process has held the refresh lease "${name}" for over ${options.maxWaitMs} ms; retry the call, and check the other Callout instances if this repeats.`,
          { details: { lease: name } },
        )
      }
      await (change === undefined ? sleep(pollMs) : pause(pollMs, change.changed))
      change?.cancel()
      change = options.nextChange?.()
      pollMs = Math.min(pollMs * 2, options.maxPollMs)
    }
  } finally {
    change?.cancel()
  }
  // Renewed every third of the TTL. A renewal that fails (the database restarting) is retried
  // quickly, so that the lease is renewed as soon as the database answers again — before it
  // expires, if the outage was shorter than the TTL — and no other instance takes it meanwhile.
  const everyMs = Math.max(1, Math.floor(options.ttlMs / 3))
  const retryMs = Math.max(1, Math.min(RENEW_RETRY_MS, Math.floor(options.ttlMs / 10)))
  let renewal: NodeJS.Timeout | undefined
  let done = false
  const renew = (): void => {
    leases.renewLease(name, holder, options.ttlMs).then(
      (held) => {
        if (!held) logger.warn({ lease: name }, 'refresh lease lost while the token call ran')
        schedule(everyMs)
      },
      (error: unknown) => {
        logger.warn({ lease: name, err: error }, 'renewing the refresh lease failed; retrying')
        schedule(retryMs)
      },
    )
  }
  const schedule = (ms: number): void => {
    if (done) return
    renewal = setTimeout(renew, ms)
    renewal.unref()
  }
  schedule(everyMs)
  try {
    return { acquired: true, value: await fn() }
  } finally {
    done = true
    clearTimeout(renewal)
    await leases.releaseLease(name, holder).catch((error: unknown) => {
      logger.warn(
        { lease: name, err: error },
        'releasing the refresh lease failed; it expires by itself',
      )
    })
  }
}

/**
 * One look while waiting for another holder: a store that cannot be reached for a moment (a
 * database restart) counts as "not yet", and the wait goes on until `maxWaitMs`.
 */
async function attempt(look: () => Promise<boolean>, logger: Logger): Promise<boolean> {
  try {
    return await look()
  } catch (error) {
    if (!isStoreUnreachable(error)) throw error
    logger.warn(
      { code: 'STORE_UNREACHABLE' },
      'the store is not reachable; still waiting for the lease',
    )
    return false
  }
}

/** Resolves after `ms`, or as soon as `changed` resolves (the timer is then cleared). */
function pause(ms: number, changed: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    void changed.then(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}
