/**
 * PKCE (RFC 7636) with S256 only, which Salesforce assumes when `code_challenge_method` is absent.
 * Verifiers are accepted up to 512 characters (sfdx-core sends 171).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7636
 */
import { createHash } from 'node:crypto'
import { secureEquals } from './secure-compare.ts'

/** `base64url(SHA-256(verifier))`. */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url')
}

/** True when `verifier` is well formed and hashes to `challenge`. */
export function verifyPkce(challenge: string, verifier: string | null): boolean {
  if (verifier === null || !/^[A-Za-z0-9\-._~]{43,512}$/.test(verifier)) return false
  return secureEquals(s256(verifier), challenge)
}
