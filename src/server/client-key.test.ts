import { describe, expect, it } from 'vitest'
import {
  clientKeyId,
  generateClientKey,
  hashClientKey,
  keyFromBearer,
  verifyClientKey,
} from './client-key.ts'

describe('client keys', () => {
  it('generates 256-bit keys whose hash verifies and whose id is public', () => {
    const { id, key, hash } = generateClientKey()
    expect(key).toMatch(/^ck_[0-9a-f]{12}_[0-9a-f]{64}$/)
    expect(clientKeyId(key)).toBe(id)
    expect(hash).toBe(hashClientKey(key))
    expect(hash).not.toContain(key.slice(16))
    expect(verifyClientKey(key, hash)).toBe(true)
    expect(verifyClientKey(`${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`, hash)).toBe(false)
    expect(verifyClientKey(key, 'abcd')).toBe(false)
  })

  it('finds keys in bearer headers and Salesforce-shaped placeholders', () => {
    expect(keyFromBearer('Bearer ck_a')).toBe('ck_a')
    expect(keyFromBearer('OAuth 00D000000000000!ck_a')).toBe('ck_a')
    expect(keyFromBearer('ck_a')).toBe('ck_a')
    expect(keyFromBearer('Bearer real-token')).toBeUndefined()
    expect(keyFromBearer(undefined)).toBeUndefined()
    expect(clientKeyId('ck_short')).toBeUndefined()
  })
})
