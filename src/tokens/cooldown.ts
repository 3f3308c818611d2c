import type { CalloutError } from '../errors.ts'

/**
 * Remembers failed refreshes per key so that callers fail fast for a while instead of hammering
 * the token endpoint (Nango's failure cooldown). Time comes from the caller (an injected clock).
 *
 * @example
 * const cooldown = new Cooldown()
 * cooldown.start('ec/p/', clock.now() + 30_000, error)
 * cooldown.active('ec/p/', clock.now()) // the error, until 30 s have passed
 */
export class Cooldown {
  readonly #entries = new Map<string, { until: number; error: CalloutError }>()

  /** Starts (or extends) a cooldown for `key` until `untilMs`, remembering why. */
  start(key: string, untilMs: number, error: CalloutError): void {
    this.#entries.set(key, { until: untilMs, error })
  }

  /** The error that started the cooldown while `now` is before its end; otherwise undefined. */
  active(key: string, now: number): { until: number; error: CalloutError } | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (now >= entry.until) {
      this.#entries.delete(key)
      return undefined
    }
    return entry
  }

  /** Ends the cooldown for `key` (after a successful refresh or re-authentication). */
  clear(key: string): void {
    this.#entries.delete(key)
  }

  /** Ends every cooldown (after definitions change). */
  clearAll(): void {
    this.#entries.clear()
  }
}
