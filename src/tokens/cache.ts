import type { ActiveCredential } from './types.ts'

/** One cached credential and when (clock ms) it was read or obtained. */
export interface CacheEntry {
  readonly credential: ActiveCredential
  readonly at: number
}

/**
 * The in-process cache of credentials that hold an access token, keyed by
 * `credentialKeyString`. The hot path of every callout reads it without touching the store. Each
 * entry remembers when it was stored, so that the token manager can re-read an old entry from the
 * store (the bounded lifetime that covers a missed change notification).
 *
 * @example
 * const cache = new CredentialCache()
 * cache.set('ec/p/', credential, clock.now())
 * cache.get('ec/p/')?.accessToken
 */
export class CredentialCache {
  readonly #entries = new Map<string, CacheEntry>()

  get(key: string): ActiveCredential | undefined {
    return this.#entries.get(key)?.credential
  }

  entry(key: string): CacheEntry | undefined {
    return this.#entries.get(key)
  }

  set(key: string, credential: ActiveCredential, at: number): void {
    this.#entries.set(key, { credential, at })
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
