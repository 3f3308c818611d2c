/**
 * Admin passwords: scrypt (RFC 7914) hashes with a random salt, verified in constant time. The
 * stored form is `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`, so the cost can rise later
 * without invalidating existing hashes.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { CalloutError } from '../../errors.ts'

/** scrypt parameters for new hashes: N = 2^15, r = 8, p = 1 (about 32 MiB and 50–100 ms). */
export const SCRYPT_PARAMS = Object.freeze({ N: 32_768, r: 8, p: 1, keyLength: 32 })

/**
 * The cost of a new scrypt hash: N (a power of two, at most 2^20), r and p. The default is
 * {@link SCRYPT_PARAMS}; each stored hash records its own cost, so verifying never needs this.
 */
export interface ScryptCost {
  readonly N: number
  readonly r: number
  readonly p: number
}

/** The shortest and longest password accepted. */
export const PASSWORD_LIMITS = Object.freeze({ minLength: 12, maxLength: 1024 })

function derive(password: string, salt: Buffer, params: ScryptOptions, length: number) {
  return new Promise<Buffer>((resolve, reject) => {
    const N = params.N ?? SCRYPT_PARAMS.N
    const r = params.r ?? SCRYPT_PARAMS.r
    // scrypt needs 128 * N * r bytes; allow twice that.
    const maxmem = 256 * N * r + 1024 * 1024
    scrypt(password.normalize('NFC'), salt, length, { ...params, maxmem }, (error, key) =>
      error === null ? resolve(key) : reject(error),
    )
  })
}

/**
 * Refuses a password that is too short or too long (`INVALID_ARGUMENT`, never echoing it).
 *
 * @example
 * checkPasswordPolicy('correct horse battery staple') // ok
 */
export function checkPasswordPolicy(password: string): void {
  const length = [...password].length
  if (length < PASSWORD_LIMITS.minLength || length > PASSWORD_LIMITS.maxLength) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `An admin password must have ${PASSWORD_LIMITS.minLength} to ${PASSWORD_LIMITS.maxLength} characters (this one has ${length}); a passphrase of several words is easiest.`,
      { details: { field: 'password' } },
    )
  }
}

function checkCost({ N, r, p }: ScryptCost): void {
  const powerOfTwo = Number.isSafeInteger(N) && N > 1 && N <= 1 << 20 && (N & (N - 1)) === 0
  if (!powerOfTwo || ![r, p].every((n) => Number.isSafeInteger(n) && n > 0)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `An scrypt cost needs N a power of two from 2 to 2^20 and r, p positive whole numbers (got N ${N}, r ${r}, p ${p}); leave it out for the default N ${SCRYPT_PARAMS.N}, r ${SCRYPT_PARAMS.r}, p ${SCRYPT_PARAMS.p}.`,
      { details: { field: 'scryptCost' } },
    )
  }
}

/**
 * Hashes a password with scrypt and a fresh 16-byte salt, at `cost` ({@link SCRYPT_PARAMS} unless
 * given).
 *
 * @example
 * const stored = await hashPassword('correct horse battery staple') // 'scrypt$32768$8$1$…'
 * @see https://www.rfc-editor.org/rfc/rfc7914
 */
export async function hashPassword(
  password: string,
  cost: ScryptCost = SCRYPT_PARAMS,
): Promise<string> {
  checkPasswordPolicy(password)
  checkCost(cost)
  const salt = randomBytes(16)
  const { N, r, p } = cost
  const hash = await derive(password, salt, { N, r, p }, SCRYPT_PARAMS.keyLength)
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`
}

/**
 * True when `password` matches `stored` (compared in constant time). A malformed stored hash
 * never matches.
 *
 * @example
 * await verifyPassword('correct horse battery staple', stored) // true
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) || N > 1 << 20) return false
  const salt = Buffer.from(parts[4]!, 'base64url')
  const expected = Buffer.from(parts[5]!, 'base64url')
  if (salt.length < 8 || expected.length < 16 || password.length > PASSWORD_LIMITS.maxLength * 4) {
    return false
  }
  const actual = await derive(password, salt, { N, r, p }, expected.length)
  return timingSafeEqual(actual, expected)
}

/** A hash of a random password: verified against when the user does not exist (equal timing). */
let dummy: Promise<string> | undefined

/**
 * Spends the same time as {@link verifyPassword} on a user that does not exist, so response
 * times do not reveal which usernames exist. Always false.
 *
 * @example
 * const ok = user === undefined ? await verifyNobody(password) : await verifyPassword(password, user.passwordHash)
 */
export async function verifyNobody(password: string): Promise<false> {
  dummy ??= hashPassword(randomBytes(24).toString('base64url'))
  await verifyPassword(password, await dummy)
  return false
}
