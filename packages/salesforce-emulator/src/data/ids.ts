/**
 * Salesforce record ids: 15 case-sensitive characters (3-char key prefix, 2-char pod, 10-char
 * counter in base 62) plus a 3-character case-insensitivity checksum, 18 characters in all.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm#i1435616
 */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const CHECKSUM_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345'

/** Key prefixes of the standard objects the emulator knows. */
export const KEY_PREFIXES: Readonly<Record<string, string>> = Object.freeze({
  Account: '001',
  Contact: '003',
  Opportunity: '006',
  Case: '500',
  User: '005',
  Organization: '00D',
  Profile: '00e',
  ConnectedApplication: '0H4',
  QueryLocator: '01g',
})

/** The three checksum characters that turn a 15-character id into its 18-character form. */
export function idChecksum(id15: string): string {
  let suffix = ''
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0
    for (let i = 0; i < 5; i++) {
      const c = id15.charCodeAt(chunk * 5 + i)
      if (c >= 65 && c <= 90) bits |= 1 << i
    }
    suffix += CHECKSUM_ALPHABET[bits]
  }
  return suffix
}

/** Encodes `n` in base 62, left-padded with zeros to `width` characters. */
function base62(n: number, width: number): string {
  let out = ''
  let v = Math.floor(n)
  while (v > 0) {
    out = BASE62[v % 62] + out
    v = Math.floor(v / 62)
  }
  return out.padStart(width, '0').slice(-width)
}

/**
 * Builds an 18-character id from a key prefix and a counter.
 *
 * @example makeId('001', 1) // '001000000000001AAA' shape: prefix, pod '00', counter, checksum
 */
export function makeId(keyPrefix: string, counter: number, pod = '5g'): string {
  if (!/^[0-9A-Za-z]{3}$/.test(keyPrefix)) throw new Error(`invalid key prefix ${keyPrefix}`)
  const id15 = keyPrefix + pod.padStart(2, '0').slice(-2) + base62(counter, 10)
  return id15 + idChecksum(id15)
}

/** True for a well-formed 15- or 18-character id (checksum verified for 18). */
export function isValidId(id: string): boolean {
  if (!/^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$/.test(id)) return false
  if (id.length === 15) return true
  return idChecksum(id.slice(0, 15)) === id.slice(15).toUpperCase()
}

/** The 18-character form of a valid 15- or 18-character id, or undefined if malformed. */
export function toId18(id: string): string | undefined {
  if (!isValidId(id)) return undefined
  return id.length === 18 ? id.slice(0, 15) + idChecksum(id.slice(0, 15)) : id + idChecksum(id)
}
