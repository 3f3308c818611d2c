/**
 * Row integrity tags (DESIGN §6): an HMAC-SHA-256 over the plaintext columns that decide where a
 * secret goes (a definition document, a credential's `instance_url`), keyed by a subkey derived
 * with HKDF-SHA-256 from a data key — which only the master key unwraps. Someone who can write the
 * database but does not hold the master key cannot forge a tag, so a rewritten URL, header or
 * `allowedHosts` is detected when the row is loaded.
 *
 * The tag is the compact string `m1.<dataKeyId>.<base64url tag>`; the message is an unambiguous
 * JSON array of a version label, the data key id, the table, the row id and the protected values.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5869 (HKDF)
 * @see https://www.rfc-editor.org/rfc/rfc2104 (HMAC)
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

/** The format version written by this code. */
export const ROW_MAC_VERSION = 'm1'
const HKDF_INFO = 'callout.row-mac.v1'
const TAG_BYTES = 32
const TAG_PATTERN = /^m1\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/

/** What a row tag covers: the row's place and its protected values (null for an empty column). */
export interface RowMacInput {
  readonly table: string
  /** The row's identity, e.g. a definition name or a JSON-encoded composite key. */
  readonly row: string
  readonly values: readonly (string | null)[]
}

/**
 * The MAC subkey of a data key: HKDF-SHA-256 with a fixed label, so the tag key is never the
 * encryption key itself.
 */
export function rowMacKey(dataKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), HKDF_INFO, TAG_BYTES))
}

/**
 * Computes the tag of a row under the MAC subkey of data key `keyId`.
 *
 * @example
 * const tag = computeRowMac(rowMacKey(dataKey), 'dk_1', { table: 'named_credentials', row: 'Api', values: [doc, null] })
 */
export function computeRowMac(macKey: Uint8Array, keyId: string, input: RowMacInput): string {
  const message = JSON.stringify([
    'callout.row-mac.v1',
    keyId,
    input.table,
    input.row,
    ...input.values,
  ])
  const tag = createHmac('sha256', macKey).update(message, 'utf8').digest('base64url')
  return `${ROW_MAC_VERSION}.${keyId}.${tag}`
}

/** The data key id a tag names, or undefined when the tag is malformed. */
export function rowMacKeyId(tag: string): string | undefined {
  return typeof tag === 'string' ? TAG_PATTERN.exec(tag)?.[1] : undefined
}

/** Compares two tags in constant time (for equal lengths). */
export function sameRowMac(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}
