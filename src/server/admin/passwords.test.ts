import { describe, expect, it } from 'vitest'
import { SCRYPT_PARAMS, hashPassword, verifyPassword } from './passwords.ts'

const PASSWORD = 'correct horse battery staple'

describe('admin password hashes', () => {
  it('use the production cost unless a cost is given, and record the cost they used', async () => {
    const stored = await hashPassword(PASSWORD)
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
    expect(SCRYPT_PARAMS).toMatchObject({ N: 32_768, r: 8, p: 1 })
    const cheap = await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })
    expect(cheap).toMatch(/^scrypt\$1024\$8\$1\$/)
    // Each hash is verified at the cost it records.
    expect(await verifyPassword(PASSWORD, stored)).toBe(true)
    expect(await verifyPassword(PASSWORD, cheap)).toBe(true)
    expect(await verifyPassword(`${PASSWORD}!`, cheap)).toBe(false)
    expect(await verifyPassword(PASSWORD, cheap.replace('$1024$', '$2048$'))).toBe(false)
  })

  it('refuse a cost scrypt cannot use, naming the default', async () => {
    for (const cost of [
      { N: 1000, r: 8, p: 1 },
      { N: 1, r: 8, p: 1 },
      { N: 2 ** 21, r: 8, p: 1 },
      { N: 1024, r: 0, p: 1 },
      { N: 1024, r: 8, p: 1.5 },
    ]) {
      await expect(hashPassword(PASSWORD, cost)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('default N 32768') as unknown,
      })
    }
  })
})
