/**
 * Client authentication for `callout serve`: finds the client key in a request, verifies it
 * against the stored hash (constant time), checks expiry and revocation, and decides whether its
 * rules allow a method and path on a Named Credential. Verified keys are cached briefly.
 */
import { timingSafeEqual } from 'node:crypto'
import type { Clock } from '../clock.ts'
import { CalloutError } from '../errors.ts'
import type { ClientKeyRecord, ClientKeyStore } from '../store/client-keys.ts'
import { isStoreUnreachable } from '../store/reachability.ts'
import { clientKeyId, keyFromBearer, verifyClientKey } from './client-key.ts'
import { parseKeyRule, ruleAllows, type KeyRule } from './key-rules.ts'

/** The caller of a proxied request: a verified key, or everyone (unsafe loopback mode). */
export interface Client {
  /** The key's public id, or `'anonymous'` without keys. */
  readonly id: string
  readonly name: string
  readonly anyUser: boolean
  /** `undefined` allows everything (unsafe loopback mode only). */
  readonly rules: readonly KeyRule[] | undefined
}

/** Everyone, when `callout serve` runs with `--no-auth-unsafe-loopback`. */
export const ANONYMOUS: Client = Object.freeze({
  id: 'anonymous',
  name: 'anonymous',
  anyUser: true,
  rules: undefined,
})

interface CacheEntry {
  readonly hash: string
  /**
   * The key's bytes, once verified against `hash`: later requests compare against them in
   * constant time instead of hashing the key again (held in memory only, for `cacheMs`).
   */
  readonly verified: Buffer
  readonly client: Client
  readonly record: ClientKeyRecord
  readonly until: number
}

/** Options for {@link ClientAuthenticator}. */
export interface ClientAuthenticatorOptions {
  readonly keys: ClientKeyStore
  readonly clock: Clock
  /** How long a verified key is trusted without re-reading it (revocation delay). Default 5 000. */
  readonly cacheMs?: number
}

/**
 * Verifies client keys against a {@link ClientKeyStore}.
 *
 * @example
 * const auth = new ClientAuthenticator({ keys: store.clientKeys, clock: systemClock })
 * const client = await auth.authenticate(req.headers)
 */
export class ClientAuthenticator {
  readonly #keys: ClientKeyStore
  readonly #clock: Clock
  readonly #cacheMs: number
  readonly #cache = new Map<string, CacheEntry>()

  constructor(options: ClientAuthenticatorOptions) {
    this.#keys = options.keys
    this.#clock = options.clock
    this.#cacheMs = options.cacheMs ?? 5_000
  }

  /** Forgets one cached key, or all (on reload), so that revocations take effect at once. */
  clear(id?: string): void {
    if (id === undefined) this.#cache.clear()
    else this.#cache.delete(id)
  }

  /**
   * The client of a key verified within the cache time, at once (no promise), or `undefined`
   * when {@link authenticate} must read the store (or no key was presented). Throws as
   * `authenticate` does for a cached key that no longer passes.
   */
  peek(key: string | undefined): Client | undefined {
    if (key === undefined) return undefined
    const id = clientKeyId(key)
    if (id === undefined) return undefined
    const now = this.#clock.now()
    const cached = this.#cache.get(id)
    if (cached === undefined || cached.until <= now) return undefined
    return this.#fromCache(key, id, cached, now)
  }

  #fromCache(key: string, id: string, cached: CacheEntry, now: number): Client {
    if (!matchesCached(key, cached)) throw invalidKey(id)
    checkLive(cached.record, now)
    return cached.client
  }

  /**
   * The client a key belongs to. Throws `CLIENT_KEY_MISSING`, `CLIENT_KEY_INVALID`,
   * `CLIENT_KEY_EXPIRED` or `CLIENT_KEY_REVOKED` (401).
   */
  async authenticate(key: string | undefined): Promise<Client> {
    if (key === undefined) {
      throw new CalloutError(
        'CLIENT_KEY_MISSING',
        'This proxy needs a client key: send Proxy-Authorization: Bearer ck_… (or Authorization: Bearer ck_…). Create one with `callout keys create --allow <Name>`.',
      )
    }
    const id = clientKeyId(key)
    if (id === undefined) throw invalidKey()
    const now = this.#clock.now()
    const cached = this.#cache.get(id)
    if (cached !== undefined && cached.until > now) return this.#fromCache(key, id, cached, now)
    let record: ClientKeyRecord | undefined
    try {
      record = await this.#keys.getClientKey(id)
    } catch (error) {
      // The store cannot be reached: a key verified before keeps working until it answers again
      // (no revocation can be written meanwhile either).
      if (cached === undefined || !isStoreUnreachable(error)) throw error
      if (!matchesCached(key, cached)) throw invalidKey(id)
      checkLive(cached.record, now)
      return cached.client
    }
    if (record === undefined || !verifyClientKey(key, record.keyHash)) throw invalidKey(id)
    checkLive(record, now)
    const client: Client = {
      id: record.id,
      name: record.name,
      anyUser: record.anyUser,
      rules: record.rules.map(parseKeyRule),
    }
    if (this.#cacheMs > 0) {
      if (this.#cache.size > 10_000) this.#cache.clear()
      this.#cache.set(id, {
        hash: record.keyHash,
        verified: Buffer.from(key, 'latin1'),
        client,
        record,
        until: now + this.#cacheMs,
      })
    }
    return client
  }
}

/** `key` is the key verified for `entry` (constant time); a different key is hashed as usual. */
function matchesCached(key: string, entry: CacheEntry): boolean {
  const presented = Buffer.from(key, 'latin1')
  if (presented.length === entry.verified.length && timingSafeEqual(presented, entry.verified)) {
    return true
  }
  return verifyClientKey(key, entry.hash)
}

function invalidKey(id?: string): CalloutError {
  return new CalloutError(
    'CLIENT_KEY_INVALID',
    'The client key is not valid: copy the whole ck_… key printed by `callout keys create`; `callout keys list` shows the keys that exist.',
    id === undefined ? {} : { details: { key: id } },
  )
}

function checkLive(record: ClientKeyRecord, now: number): void {
  if (record.revokedAt !== undefined) {
    throw new CalloutError(
      'CLIENT_KEY_REVOKED',
      `Client key ${record.id} (${record.name}) was revoked; create a new one with \`callout keys create\`.`,
      { details: { key: record.id } },
    )
  }
  if (record.expiresAt !== undefined && record.expiresAt <= now) {
    throw new CalloutError(
      'CLIENT_KEY_EXPIRED',
      `Client key ${record.id} (${record.name}) expired on ${new Date(record.expiresAt).toISOString()}; create a new one with \`callout keys create\`.`,
      { details: { key: record.id } },
    )
  }
}

/** Header values as Node reports them. */
type IncomingHeaders = Record<string, string | string[] | undefined>

/**
 * The client key a request carries: `Proxy-Authorization: Bearer ck_…` first, else
 * `Authorization: Bearer ck_…` (or a placeholder token embedding the key, as credential ports
 * hand out; also in `X-SFDC-Session`).
 *
 * @example
 * presentedKey({ 'proxy-authorization': 'Bearer ck_…' }) // 'ck_…'
 */
export function presentedKey(headers: IncomingHeaders): string | undefined {
  for (const name of ['proxy-authorization', 'authorization', 'x-sfdc-session']) {
    const value = headers[name]
    const key = keyFromBearer(Array.isArray(value) ? value[0] : value)
    if (key !== undefined) return key
  }
  const proxy = headers['proxy-authorization']
  // A Proxy-Authorization that is not a client key is still a (wrong) key, not a missing one.
  if (proxy !== undefined) return String(proxy)
  return undefined
}

/**
 * Throws `ACCESS_DENIED` (403) unless one of the client's rules allows `method` on `path`
 * (relative to the credential URL) of `credential`.
 *
 * @example
 * authorize(client, 'Target', 'GET', '/services/data/v61.0/query')
 */
export function authorize(client: Client, credential: string, method: string, path: string): void {
  const rules = client.rules
  if (rules === undefined) return
  for (const rule of rules) if (ruleAllows(rule, credential, method, path)) return
  const named = rules.some((rule) => rule.credential === credential)
  throw new CalloutError(
    'ACCESS_DENIED',
    named
      ? `Client key ${client.id} (${client.name}) may not ${method} ${path || '/'} on ${credential}: its rules allow other methods or paths. Create a key whose --allow rule covers it.`
      : `Client key ${client.id} (${client.name}) may not call ${credential}. Create a key with --allow ${credential}.`,
    { details: { key: client.id, namedCredential: credential, method } },
  )
}

/**
 * The end user of a request (`Callout-User`), honoured only for clients allowed to act for users.
 * Throws `ACCESS_DENIED` when a client without that right names a user.
 *
 * @example
 * userOf(client, req.headers) // 'alice' or undefined
 */
export function userOf(client: Client, headers: IncomingHeaders): string | undefined {
  const value = headers['callout-user']
  if (value === undefined) return undefined
  const user = Array.isArray(value) ? value[0] : value
  if (!client.anyUser) {
    throw new CalloutError(
      'ACCESS_DENIED',
      `Client key ${client.id} (${client.name}) may not act for end users (Callout-User); create a key with --any-user.`,
      { details: { key: client.id, reason: 'callout-user' } },
    )
  }
  if (user === undefined || user === '') {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      'The Callout-User header is empty; name the end user.',
    )
  }
  return user
}
