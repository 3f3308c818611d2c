import type { ActiveCredential } from './types.ts'

/**
 * The in-process cache of credentials that hold an access token, keyed by
 * `credentialKeyString`. The hot path of every callout reads it without touching the store.
 *
 * @example
 * const cache = new CredentialCache()
 * cache.set('ec/p/', credential)
 * cache.get('ec/p/')?.accessToken
 */
export class CredentialCache {
  readonly #entries = new Map<string, ActiveCredential>()

  get(key: string): ActiveCredential | undefined {
    return this.#entries.get(key)
  }

  set(key: string, credential: ActiveCredential): void {
    this.#entries.set(key, credential)
  }

  delete(key: string): void {
    this.#entries.delete(key)
  }

  /** Drops every entry whose key starts with `prefix` (`<externalCredential>/`), or all. */
  clear(prefix?: string): void {
    if (prefix === undefined) return this.#entries.clear()
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key)
  }
}
