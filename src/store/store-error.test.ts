import { describe, expect, it } from 'vitest'
import { CalloutError } from '../errors.ts'
import { toStoreError } from './store-error.ts'

describe('toStoreError', () => {
  it.each([
    ['SQLITE_READONLY', /read-only/],
    ['28P01', /password authentication failed/],
    ['3D000', /does not exist/],
    ['XX999', /see the cause/],
  ])('%s gets advice naming the store', (code, advice) => {
    const cause = Object.assign(new Error('driver text with secret-ish detail'), { code })
    const error = toStoreError(cause, 'read a credential', 'postgres://app@db/callout')
    expect(error).toMatchObject({
      code: 'STORE_ERROR',
      details: { driverCode: code, store: 'postgres://app@db/callout' },
    })
    expect(error.message).toMatch(advice)
    expect(error.message).toContain('postgres://app@db/callout')
    expect(error.message).not.toContain('driver text')
    expect(error.cause).toBe(cause)
  })

  it.each([
    ['SQLITE_BUSY', /locked by another process/],
    ['SQLITE_BUSY_SNAPSHOT', /locked by another process/],
    ['SQLITE_LOCKED', /locked/],
    ['40001', /serialization failure/],
    ['40P01', /deadlock/],
    ['55P03', /lock was not available/],
  ])('%s is STORE_BUSY, retryable', (code, advice) => {
    const cause = Object.assign(new Error('driver text'), { code })
    const error = toStoreError(cause, 'write a credential', '/srv/callout.db')
    expect(error).toMatchObject({
      code: 'STORE_BUSY',
      details: { driverCode: code, retryable: true, operation: 'write a credential' },
    })
    expect(error.message).toMatch(advice)
    expect(error.message).not.toContain('driver text')
  })

  it.each([
    ['ECONNREFUSED', /PostgreSQL is running/],
    ['ECONNRESET', /reset/],
    ['ETIMEDOUT', /timed out/],
    ['57P01', /shutting down/],
    ['57P03', /starting up/],
  ])('%s is STORE_UNREACHABLE, retryable, naming the store', (code, advice) => {
    const cause = Object.assign(new Error('driver text'), { code })
    const error = toStoreError(cause, 'read a client key', 'postgres://app@db/callout')
    expect(error).toMatchObject({
      code: 'STORE_UNREACHABLE',
      status: 503,
      details: { driverCode: code, retryable: true, store: 'postgres://app@db/callout' },
    })
    expect(error.message).toMatch(advice)
    expect(error.message).toContain('cannot be reached to read a client key')
    expect(error.message).not.toContain('driver text')
  })

  it("pg's lost connection (no code) is STORE_UNREACHABLE", () => {
    const error = toStoreError(new Error('Connection terminated unexpectedly'), 'op', 'x')
    expect(error.code).toBe('STORE_UNREACHABLE')
    expect(error.message).toMatch(/connection to the database was lost/)
  })

  it('finds the code inside an AggregateError', () => {
    const inner = Object.assign(new Error('x'), { code: 'ECONNREFUSED' })
    expect(toStoreError(new AggregateError([inner]), 'open', 'x').details['driverCode']).toBe(
      'ECONNREFUSED',
    )
  })

  it('passes Callout errors through and survives non-errors', () => {
    const original = new CalloutError('SECRET_CORRUPT', 'x')
    expect(toStoreError(original, 'op', 'x')).toBe(original)
    expect(toStoreError('a string', 'op', 'x').code).toBe('STORE_ERROR')
    expect(toStoreError(null, 'op', 'x').code).toBe('STORE_ERROR')
  })
})
