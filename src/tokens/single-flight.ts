/**
 * One in-flight operation per key: concurrent callers for the same key await the same promise
 * (the pattern of jose's remote JWKS fetch). The entry is removed when the promise settles, so a
 * later call starts a new operation.
 *
 * @example
 * const flights = new SingleFlight<string, string>()
 * const [a, b] = await Promise.all([flights.run('k', fetchToken), flights.run('k', fetchToken)])
 * // fetchToken ran once; a === b
 */
export class SingleFlight<K, V> {
  readonly #inFlight = new Map<K, Promise<V>>()

  /** Runs `fn` for `key` unless a run for `key` is in flight, in which case joins it. */
  run(key: K, fn: () => Promise<V>): Promise<V> {
    const existing = this.#inFlight.get(key)
    if (existing !== undefined) return existing
    // Start fn on a later tick so that the entry exists before fn can settle (even synchronously).
    const promise = Promise.resolve()
      .then(fn)
      .finally(() => {
        if (this.#inFlight.get(key) === promise) this.#inFlight.delete(key)
      })
    this.#inFlight.set(key, promise)
    return promise
  }

  /**
   * Runs `fn` for `key` as an operation of its own: after the run in flight for `key` (if any)
   * settles, whatever its outcome. Callers of {@link run} meanwhile join this one.
   *
   * @example
   * await flights.runOwn('k', () => fetchTokenAndAudit()) // never answered by another caller's fetch
   */
  async runOwn(key: K, fn: () => Promise<V>): Promise<V> {
    for (let running = this.#inFlight.get(key); running !== undefined;) {
      await running.catch(() => undefined)
      running = this.#inFlight.get(key)
    }
    return this.run(key, fn)
  }

  /** True while a run for `key` is in flight. */
  has(key: K): boolean {
    return this.#inFlight.has(key)
  }

  /** The number of keys in flight. */
  get size(): number {
    return this.#inFlight.size
  }
}
