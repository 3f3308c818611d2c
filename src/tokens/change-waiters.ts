/**
 * Waiters for "the credential changed elsewhere": a process waiting for another instance's
 * refresh parks here and is woken by the store's notification (the new version was written, or
 * the lease was released) instead of only by its next poll.
 */

/** One armed wait: `changed` resolves on the next wake of its key; `cancel` forgets it. */
export interface ArmedWait {
  readonly changed: Promise<void>
  cancel(): void
}

/**
 * Per-key wake-ups. Arm before looking (e.g. before trying the lease), so that a change that
 * lands between the look and the wait is not missed.
 *
 * @example
 * const wait = waiters.arm('ec/p/')
 * if (!(await tryLease())) await Promise.race([wait.changed, sleep(250)])
 * wait.cancel()
 */
export class ChangeWaiters {
  readonly #waiting = new Map<string, Set<() => void>>()

  arm(key: string): ArmedWait {
    let wake!: () => void
    const changed = new Promise<void>((resolve) => (wake = resolve))
    let set = this.#waiting.get(key)
    if (set === undefined) this.#waiting.set(key, (set = new Set()))
    set.add(wake)
    const cancel = (): void => {
      const current = this.#waiting.get(key)
      current?.delete(wake)
      if (current?.size === 0) this.#waiting.delete(key)
    }
    return { changed, cancel }
  }

  /** Wakes every waiter of `key`. */
  wake(key: string): void {
    const set = this.#waiting.get(key)
    if (set === undefined) return
    this.#waiting.delete(key)
    for (const wake of set) wake()
  }

  /** Wakes every waiter (the change channel reconnected: anything may have changed). */
  wakeAll(): void {
    for (const key of [...this.#waiting.keys()]) this.wake(key)
  }
}
