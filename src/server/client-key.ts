/**
 * Client keys (`ck_<id>_<secret>`): generation, parsing and constant-time verification. Only the
 * SHA-256 of a key is stored; the key itself is printed once by `callout keys create`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { ClientKeyRecord } from '../store/client-keys.ts'

const KEY_PATTERN = /^ck_([0-9a-f]{12})_([0-9a-f]{64})$/

/** A freshly generated key: its public id, the full key (shown once) and the hash to store. */
export interface GeneratedClientKey {
  readonly id: string
  readonly key: string
  readonly hash: string
}

/**
 * Generates a client key: a 48-bit public id and a 256-bit random secret.
 *
 * @example
 * const { id, key, hash } = generateClientKey() // key: 'ck_3f2a…_9b1c…', store only id and hash
 */
export function generateClientKey(): GeneratedClientKey {
  const id = randomBytes(6).toString('hex')
  const key = `ck_${id}_${randomBytes(32).toString('hex')}`
  return { id, key, hash: hashClientKey(key) }
}

/**
 * The stored form of a key: SHA-256 of the whole key, hex. A 256-bit random secret needs no
 * slow hash.
 *
 * @example
 * hashClientKey('ck_…') // '5e88…' (64 hex digits)
 */
export function hashClientKey(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/**
 * The public id of a well-formed key, or `undefined` for anything else.
 *
 * @example
 * clientKeyId('ck_3f2a1b0c9d8e_' + 'ab'.repeat(32)) // '3f2a1b0c9d8e'
 */
export function clientKeyId(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1]
}

/**
 * True when `key` hashes to `storedHash`, compared in constant time.
 *
 * @example
 * verifyClientKey(key, record.hash) // true
 */
export function verifyClientKey(key: string, storedHash: string): boolean {
  const actual = Buffer.from(hashClientKey(key), 'hex')
  const expected = Buffer.from(storedHash, 'hex')
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

/**
 * Finds a client key in a header value: `Bearer ck_…`, or a Salesforce-shaped placeholder token
 * that embeds one (`00D000000000000!ck_…`, as credential ports hand out). `undefined` when the
 * value holds none.
 *
 * @example
 * keyFromBearer('Bearer ck_3f2a…') // 'ck_3f2a…'
 */
export function keyFromBearer(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const match = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(value.trim())
  const token = match?.[1] ?? value.trim()
  const bang = token.indexOf('!')
  const candidate = bang === -1 ? token : token.slice(bang + 1)
  return candidate.startsWith('ck_') ? candidate : undefined
}

/**
 * A new client key and the record to store for it (only its hash), for `callout keys create`
 * and the admin API.
 *
 * @example
 * const { key, record } = newClientKey({ name: 'ci-bot', rules: ['Target:GET'], anyUser: false, now: Date.now() })
 */
export function newClientKey(options: {
  readonly name: string
  readonly rules: readonly string[]
  readonly anyUser: boolean
  readonly now: number
  readonly expiresInMs?: number
}): { readonly key: string; readonly record: ClientKeyRecord } {
  const { id, key, hash } = generateClientKey()
  return {
    key,
    record: {
      id,
      name: options.name,
      rules: options.rules,
      anyUser: options.anyUser,
      keyHash: hash,
      createdAt: options.now,
      ...(options.expiresInMs === undefined
        ? {}
        : { expiresAt: options.now + options.expiresInMs }),
    },
  }
}
