import { describe, expect, it } from 'vitest'
import { CalloutError } from '../errors.ts'
import { Cooldown } from './cooldown.ts'

describe('Cooldown', () => {
  const error = new CalloutError('TOKEN_ENDPOINT_ERROR', 'down')

  it('is active until its end and then clears itself', () => {
    const c = new Cooldown()
    c.start('k', 1_000, error)
    expect(c.active('k', 999)?.error.code).toBe('TOKEN_ENDPOINT_ERROR')
    expect(c.active('k', 1_000)).toBeUndefined()
    expect(c.active('k', 0)).toBeUndefined()
  })

  it('keeps keys apart and clears on demand', () => {
    const c = new Cooldown()
    c.start('a', 1_000, error)
    c.start('b', 1_000, error)
    expect(c.active('c', 0)).toBeUndefined()
    c.clear('a')
    expect(c.active('a', 0)).toBeUndefined()
    expect(c.active('b', 0)?.until).toBe(1_000)
    c.clearAll()
    expect(c.active('b', 0)).toBeUndefined()
  })
})
