import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { idChecksum, isValidId, makeId, toId18 } from './ids.ts'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const id15 = fc.string({ unit: fc.constantFrom(...BASE62), minLength: 15, maxLength: 15 })

describe('ids', () => {
  it('matches the published checksum vectors', () => {
    expect(toId18('00558000001N0Ke')).toBe('00558000001N0KeAAK')
    // Hand-computed: chunks a0D30|00000|1n7Pi have capitals at bits 2, none, 3 -> E, A, I.
    // (salesforce-platform.md §3.6 lists 'EAC' for this id, which contradicts its own algorithm.)
    expect(toId18('a0D30000001n7Pi')).toBe('a0D30000001n7PiEAI')
    expect(idChecksum('70130000001tcyI')).toBe('AAQ')
  })

  it('toId18 of any 15-character id validates and round-trips (property)', () => {
    fc.assert(
      fc.property(id15, (id) => {
        const long = toId18(id)
        return (
          long !== undefined &&
          long.length === 18 &&
          isValidId(long) &&
          long.startsWith(id) &&
          toId18(long) === long
        )
      }),
    )
  })

  it('accepts a case-insensitive checksum and rejects a wrong one', () => {
    const id = makeId('001', 42)
    expect(isValidId(id.slice(0, 15) + id.slice(15).toLowerCase())).toBe(true)
    expect(isValidId(id.slice(0, 15) + 'ZZZ')).toBe(id.slice(15) === 'ZZZ')
    expect(isValidId('xyz')).toBe(false)
  })
})
