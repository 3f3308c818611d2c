import { describe, expect, it } from 'vitest'
import { CalloutError } from '../errors.ts'
import { isStoreUnreachable } from './reachability.ts'
import { toStoreError } from './store-error.ts'

const driver = (code: string | undefined, message = 'x') =>
  Object.assign(new Error(message), code === undefined ? {} : { code })

describe('isStoreUnreachable', () => {
  it('is true for a database that cannot be reached or is restarting', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03', '08006']) {
      expect(isStoreUnreachable(toStoreError(driver(code), 'read', 'postgres://db'))).toBe(true)
    }
    const terminated = driver(undefined, 'Connection terminated unexpectedly')
    expect(isStoreUnreachable(toStoreError(terminated, 'read', 'postgres://db'))).toBe(true)
  })

  it('is false for failures no retry cures, and for anything that is not a store error', () => {
    for (const code of ['28P01', '3D000', '42501', 'SQLITE_CORRUPT', undefined]) {
      expect(isStoreUnreachable(toStoreError(driver(code), 'read', 'postgres://db'))).toBe(false)
    }
    expect(isStoreUnreachable(new CalloutError('MASTER_KEY_INVALID', 'wrong key'))).toBe(false)
    expect(isStoreUnreachable(driver('ECONNREFUSED'))).toBe(false)
    expect(isStoreUnreachable(undefined)).toBe(false)
    expect(isStoreUnreachable('ECONNREFUSED')).toBe(false)
  })
})
