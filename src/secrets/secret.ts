import { inspect } from 'node:util'

const REDACTED = '[redacted]'

/**
 * A secret value (client secret, token, password, private key). It redacts itself everywhere a
 * value is commonly printed: `String()`, template literals, `JSON.stringify`, `util.inspect`,
 * `console.log` and pino. Read the plaintext only with {@link Secret.reveal}, at the point of use.
 *
 * @example
 * const s = new Secret('s3cr3t')
 * JSON.stringify({ s }) // '{"s":"[redacted]"}'
 * s.reveal()            // 's3cr3t'
 */
export class Secret {
  readonly #value: string

  constructor(value: string) {
    if (typeof value !== 'string') throw new TypeError('Secret value must be a string')
    this.#value = value
  }

  /** The plaintext. Call only where the value is sent or encrypted. */
  reveal(): string {
    return this.#value
  }

  /** True when both secrets hold the same plaintext (constant time for equal lengths). */
  equals(other: Secret | undefined): boolean {
    if (other === undefined) return false
    const a = Buffer.from(this.#value)
    const b = Buffer.from(other.reveal())
    return a.length === b.length && timingSafeEqualBuffers(a, b)
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

function timingSafeEqualBuffers(a: Buffer, b: Buffer): boolean {
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return diff === 0
}
