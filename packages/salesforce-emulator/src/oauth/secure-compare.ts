/** Constant-time string comparison for secrets (hashes first, so lengths do not leak). */
import { createHash, timingSafeEqual } from 'node:crypto'

/** True when `a` equals `b`, compared in constant time. */
export function secureEquals(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}
