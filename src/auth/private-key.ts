/**
 * Loading PEM private keys for JWT signing (jwt-bearer assertions, `private_key_jwt` client
 * authentication, the `jwt` protocol). Accepts PKCS#8 (`BEGIN PRIVATE KEY`), PKCS#1 RSA
 * (`BEGIN RSA PRIVATE KEY`) and SEC1 EC (`BEGIN EC PRIVATE KEY`) keys; they are converted to
 * PKCS#8 with node:crypto and imported with jose as non-extractable WebCrypto keys.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { importPKCS8, type CryptoKey } from 'jose'
import { CalloutError } from '../errors.ts'
import type { Secret } from '../secrets/secret.ts'

/** Asymmetric JWS algorithms Callout signs with. */
export type AsymmetricAlg = 'RS256' | 'ES256'

/**
 * Imports a PEM private key as a WebCrypto `CryptoKey` for `alg`.
 *
 * @param what names the key in error messages, e.g. `principal "Integration" secret privateKey`.
 * @throws CalloutError `CONFIG_INVALID` when the key is not a PEM private key of the right type
 *   (the message never includes key material).
 * @example
 * const key = await importPrivateKeyPem(principal.secrets.privateKey, 'RS256', 'privateKey')
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.1
 */
export async function importPrivateKeyPem(
  pem: Secret,
  alg: AsymmetricAlg,
  what: string,
): Promise<CryptoKey> {
  let keyObject: KeyObject
  try {
    keyObject = createPrivateKey({ key: pem.reveal(), format: 'pem' })
  } catch (cause) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `The ${what} is not a readable PEM private key. Provide an unencrypted PKCS#8 ("BEGIN PRIVATE KEY") or PKCS#1 ("BEGIN RSA PRIVATE KEY") key.`,
      { cause: scrub(cause), details: { key: what } },
    )
  }
  const type = keyObject.asymmetricKeyType
  const wanted = alg === 'RS256' ? 'rsa' : 'ec'
  if (type !== wanted) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `The ${what} is a ${type ?? 'unknown'} key, but ${alg} needs ${wanted === 'rsa' ? 'an RSA' : 'a P-256 EC'} key.`,
      { details: { key: what, keyType: type ?? 'unknown', alg } },
    )
  }
  if (type === 'ec' && keyObject.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CalloutError('CONFIG_INVALID', `The ${what} must be on curve P-256 for ES256.`, {
      details: { key: what, alg },
    })
  }
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'pem' }).toString()
  return importPKCS8(pkcs8, alg, { extractable: false })
}

/** The JWS algorithm matching a key's type: RS256 for RSA, ES256 for EC. */
export function algorithmForPem(pem: Secret, what: string): AsymmetricAlg {
  try {
    const type = createPrivateKey({ key: pem.reveal(), format: 'pem' }).asymmetricKeyType
    if (type === 'rsa') return 'RS256'
    if (type === 'ec') return 'ES256'
  } catch {
    // reported below
  }
  throw new CalloutError(
    'CONFIG_INVALID',
    `The ${what} is not an RSA or P-256 EC PEM private key.`,
    { details: { key: what } },
  )
}

/** node:crypto errors carry only codes and messages, but keep just those to be safe. */
function scrub(cause: unknown): unknown {
  if (cause instanceof Error) {
    const e = new Error(cause.message)
    e.name = cause.name
    return e
  }
  return undefined
}
