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
  /**
   * Where the value was read from, as a configuration reference (`${env:API_CLIENT_SECRET}`,
   * `${file:/etc/callout/key.pem}`), when it came from exactly one. Never the value itself: it is
   * stored beside the definition in plaintext so that `callout export` writes the same reference
   * back. Undefined for tokens, inline secrets and values assembled from several parts.
   */
  readonly reference: string | undefined

  constructor(value: string, options: { readonly reference?: string } = {}) {
    if (typeof value !== 'string') throw new TypeError('Secret value must be a string')
    this.#value = value
    this.reference = options.reference
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
