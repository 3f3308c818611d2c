/**
 * A tiny typed listener set. Listener exceptions are reported to `onListenerError` and never
 * break the emitter (a failing hook must not fail a callout).
 *
 * @example
 * const events = new TypedEvents<TokenEvents>()
 * const off = events.on('needs-reauth', (e) => alert(e.key.principal))
 * off()
 */
export class TypedEvents<E extends { [K in keyof E]: object }> {
  readonly #listeners = new Map<keyof E, Set<(payload: never) => void>>()
  readonly #onListenerError: (error: unknown) => void

  constructor(onListenerError: (error: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(name: K, listener: (payload: E[K]) => void): () => void {
    let set = this.#listeners.get(name)
    if (set === undefined) this.#listeners.set(name, (set = new Set()))
    set.add(listener as (payload: never) => void)
    return () => this.off(name, listener)
  }

  off<K extends keyof E>(name: K, listener: (payload: E[K]) => void): void {
    this.#listeners.get(name)?.delete(listener as (payload: never) => void)
  }

  emit<K extends keyof E>(name: K, payload: E[K]): void {
    const set = this.#listeners.get(name)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        ;(listener as (payload: E[K]) => void)(payload)
      } catch (error) {
        this.#onListenerError(error)
      }
    }
  }
}
