/**
 * Admin API tokens (`cat_<id>_<secret>`), for automation against `/admin/api`: generation and
 * parsing. Only the SHA-256 is stored (a 256-bit random secret needs no slow hash); the token is
 * printed once by `callout admin token create`.
 */
import { randomBytes } from 'node:crypto'
import { hashClientKey, verifyClientKey } from '../client-key.ts'

const TOKEN_PATTERN = /^cat_([0-9a-f]{12})_([0-9a-f]{64})$/

/** A freshly generated admin token: its public id, the token (shown once) and its hash. */
export interface GeneratedAdminToken {
  readonly id: string
  readonly token: string
  readonly hash: string
}

/**
 * Generates an admin API token: a 48-bit public id and a 256-bit random secret.
 *
 * @example
 * const { id, token, hash } = generateAdminToken() // store id and hash, print token once
 */
export function generateAdminToken(): GeneratedAdminToken {
  const id = randomBytes(6).toString('hex')
  const token = `cat_${id}_${randomBytes(32).toString('hex')}`
  return { id, token, hash: hashClientKey(token) }
}

/**
 * The public id of a well-formed token, or `undefined`.
 *
 * @example
 * adminTokenId('cat_3f2a1b0c9d8e_' + 'ab'.repeat(32)) // '3f2a1b0c9d8e'
 */
export function adminTokenId(token: string): string | undefined {
  return TOKEN_PATTERN.exec(token)?.[1]
}

/**
 * True when `token` hashes to `storedHash` (SHA-256, constant-time comparison).
 *
 * @example
 * verifyAdminToken(token, record.tokenHash) // true
 */
export function verifyAdminToken(token: string, storedHash: string): boolean {
  return verifyClientKey(token, storedHash)
}
