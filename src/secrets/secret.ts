import { createHash, timingSafeEqual } from 'node:crypto'
import { inspect } from 'node:util'

const REDACTED = '[redacted]'
const BRAND = Symbol.for('callout.secret')

/**
 * A secret value (client secret, token, password, private key). It redacts itself everywhere a
 * value is commonly printed: `String()`, template literals, `JSON.stringify`, `util.inspect`,
 * `console.log` and pino. Read the plaintext only with {@link Secret.reveal}, at the point of use.
 * Survives duplicate installs: `instanceof` checks a `Symbol.for` brand, as `CalloutError` does.
 *
 * @example
 * const s = new Secret('s3cr3t')
 * JSON.stringify({ s }) // '{"s":"[redacted]"}'
 * s.reveal()            // 's3cr3t'
 */
export class Secret {
  readonly #value: string
  readonly [BRAND] = true

  constructor(value: string) {
    if (typeof value !== 'string') throw new TypeError('Secret value must be a string')
    this.#value = value
  }

  /** The plaintext. Call only where the value is sent or encrypted. */
  reveal(): string {
    return this.#value
  }

  /**
   * True when both secrets hold the same plaintext. Constant time: both values are hashed with
   * SHA-256 and the digests compared with `crypto.timingSafeEqual`, so not even the length leaks.
   */
  equals(other: Secret | undefined): boolean {
    if (!(other instanceof Secret)) return false
    return timingSafeEqual(digest(this.#value), digest(other.reveal()))
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[BRAND] === true &&
      typeof (value as { reveal?: unknown }).reveal === 'function'
    )
  }

  toString(): string {
    return REDACTED
  }

  toJSON(): string {
    return REDACTED
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`
  }

  [Symbol.toPrimitive](): string {
    return REDACTED
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}
