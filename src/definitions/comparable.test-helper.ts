/**
 * Test support: a deep copy of {@link Definitions} with Maps as objects and Secrets revealed as
 * `{ secret: value }`, so `toEqual` compares secret values too (a Secret's value is private).
 */
import { Secret } from '../secrets/secret.ts'
import type { Definitions } from './model.ts'

/** Definitions as plain data for `toEqual`, secrets revealed. For tests only. */
export function comparable(defs: Definitions): unknown {
  const plain = (value: unknown): unknown => {
    if (value instanceof Secret) return { secret: value.reveal() }
    if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]))
    if (Array.isArray(value)) return value.map(plain)
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
    }
    return value
  }
  return plain(defs)
}
