/**
 * The org's OpenID Connect signing key: an RSA key pair made on first use (so orgs that never
 * issue an `id_token` pay nothing), a `kid`, RS256 compact signatures and the public JWK that
 * `/id/keys` serves.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7515 (JWS) and https://www.rfc-editor.org/rfc/rfc7517 (JWK)
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'

/** A public RS256 signing key as a JWK. */
export interface PublicJwk {
  kty: string
  n: string
  e: string
  alg: 'RS256'
  use: 'sig'
  kid: string
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url')
}

/** One org's signing key. */
export class SigningKey {
  #pair: { privateKey: KeyObject; jwk: PublicJwk } | undefined

  #key(): { privateKey: KeyObject; jwk: PublicJwk } {
    if (this.#pair === undefined) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const { kty = 'RSA', n = '', e = '' } = publicKey.export({ format: 'jwk' })
      // RFC 7638 thumbprint of the required members, shortened: stable for the key's life.
      const thumbprint = createHash('sha256')
        .update(JSON.stringify({ e, kty, n }))
        .digest('base64url')
      this.#pair = {
        privateKey,
        jwk: { kty, n, e, alg: 'RS256', use: 'sig', kid: thumbprint.slice(0, 16) },
      }
    }
    return this.#pair
  }

  /** The key id (`kid`) put in every token header. */
  get kid(): string {
    return this.#key().jwk.kid
  }

  /** The public key as a JWK (what `/id/keys` lists). */
  publicJwk(): PublicJwk {
    return { ...this.#key().jwk }
  }

  /** A compact RS256 JWS of `payload` with `kid` and `typ: JWT` in its header. */
  signJwt(payload: Record<string, unknown>): string {
    const { privateKey, jwk } = this.#key()
    const header = base64url(JSON.stringify({ kid: jwk.kid, typ: 'JWT', alg: 'RS256' }))
    const body = base64url(JSON.stringify(payload))
    const signature = sign('sha256', Buffer.from(`${header}.${body}`), privateKey)
    return `${header}.${body}.${signature.toString('base64url')}`
  }
}
