/**
 * Envelope encryption primitives (DESIGN §6): AES-256-GCM with a random 96-bit IV, in a versioned
 * compact string `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts). Secrets are sealed under a
 * data key with an AAD that binds them to their table, column and row; data keys are sealed under
 * the master key with an AAD that binds them to their own id and the master key's fingerprint.
 *
 * @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf (GCM)
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { CalloutError } from '../errors.ts'
import { KEY_BYTES } from './master-key.ts'

/** The format version written by this code. */
export const ENVELOPE_VERSION = 'v1'

const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
const B64URL_PATTERN = /^[A-Za-z0-9_-]*$/
/** Upper bound on a ciphertext string we agree to parse (16 MiB of text). */
const MAX_CIPHERTEXT_LENGTH = 16 * 1024 * 1024

/** Where a secret lives: the AAD binds its ciphertext to this place. */
export interface SecretAad {
  readonly table: string
  readonly column: string
  /** The row's identity, e.g. a definition name or a JSON-encoded composite key. */
  readonly row: string
}

/** The parts of a parsed envelope string. */
export interface Envelope {
  readonly version: 'v1'
  readonly keyId: string
  readonly iv: Buffer
  readonly ciphertext: Buffer
  readonly tag: Buffer
}

/** The AAD bytes for a secret: unambiguous (JSON array), versioned, and including the key id. */
export function secretAadBytes(keyId: string, aad: SecretAad): Buffer {
  return Buffer.from(
    JSON.stringify(['callout.secret.v1', keyId, aad.table, aad.column, aad.row]),
    'utf8',
  )
}

/** The AAD bytes for a wrapped data key. */
export function dataKeyAadBytes(dataKeyId: string, masterKeyId: string): Buffer {
  return Buffer.from(JSON.stringify(['callout.data_key.v1', dataKeyId, masterKeyId]), 'utf8')
}

/**
 * Seals `plaintext` under a 32-byte `key` and returns `v1.<keyId>.<iv>.<ct>.<tag>`.
 *
 * @example
 * const ct = seal(dataKey, 'dk_1', Buffer.from('s3cr3t'), secretAadBytes('dk_1', aad))
 */
export function seal(
  key: Uint8Array,
  keyId: string,
  plaintext: Uint8Array,
  aad: Uint8Array,
): string {
  if (key.length !== KEY_BYTES)
    throw new CalloutError('INTERNAL', 'Encryption key must be 32 bytes.')
  if (!KEY_ID_PATTERN.test(keyId))
    throw new CalloutError('INTERNAL', 'Encryption key id is malformed.')
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(aad)
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  const tag = cipher.getAuthTag()
  return [ENVELOPE_VERSION, keyId, b64url(iv), b64url(ciphertext), b64url(tag)].join('.')
}

/**
 * Parses an envelope string without decrypting it. Malformed input is `SECRET_CORRUPT`; the
 * message never echoes the input.
 */
export function parseEnvelope(text: string): Envelope {
  if (typeof text !== 'string' || text.length > MAX_CIPHERTEXT_LENGTH)
    throw corrupt('is not a ciphertext')
  const parts = text.split('.')
  if (parts.length !== 5) throw corrupt('is not in the v1.<key>.<iv>.<ct>.<tag> format')
  const [version, keyId, iv, ciphertext, tag] = parts as [string, string, string, string, string]
  if (version !== ENVELOPE_VERSION) throw corrupt('has an unknown format version')
  if (!KEY_ID_PATTERN.test(keyId)) throw corrupt('has a malformed key id')
  for (const part of [iv, ciphertext, tag]) {
    if (!B64URL_PATTERN.test(part)) throw corrupt('is not base64url')
  }
  const ivBytes = Buffer.from(iv, 'base64url')
  const tagBytes = Buffer.from(tag, 'base64url')
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) {
    throw corrupt('has a wrong IV or tag length')
  }
  return {
    version: 'v1',
    keyId,
    iv: ivBytes,
    ciphertext: Buffer.from(ciphertext, 'base64url'),
    tag: tagBytes,
  }
}

/**
 * Opens an envelope with `key`. Any authentication failure (wrong key, wrong AAD, tampering) is
 * `SECRET_CORRUPT`.
 */
export function open(key: Uint8Array, envelope: Envelope, aad: Uint8Array): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, envelope.iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(aad)
    decipher.setAuthTag(envelope.tag)
    return Buffer.concat([decipher.update(envelope.ciphertext), decipher.final()])
  } catch (cause) {
    throw corrupt('failed authentication (corrupted, or moved from another row or column)', cause)
  }
}

function corrupt(what: string, cause?: unknown): CalloutError {
  return new CalloutError(
    'SECRET_CORRUPT',
    `A stored secret ${what}. Re-enter the secret (callout apply, or the console) or restore the ` +
      'store from a backup.',
    cause === undefined ? {} : { cause },
  )
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url')
}
