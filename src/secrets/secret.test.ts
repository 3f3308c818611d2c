import { inspect } from 'node:util'
import { describe, expect, it, vi } from 'vitest'
import { Secret } from './secret.ts'

// The test files of a worker share its modules: load ./secret.ts afresh, over the mock below.
const compared = vi.hoisted(() => {
  vi.resetModules()
  return [] as [number, number][]
})
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>()
  return {
    ...crypto,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([a.byteLength, b.byteLength])
      return crypto.timingSafeEqual(a, b)
    },
  }
})

describe('Secret', () => {
  it('survives a duplicate install: instanceof holds across two copies of the module', async () => {
    // A second copy of the module, as a duplicate install in node_modules would load.
    const specifier: string = './secret.ts?duplicate-install'
    const copy = (await import(specifier)) as typeof import('./secret.ts')
    expect(copy.Secret).not.toBe(Secret)
    const foreign = new copy.Secret('s3cr3t')
    expect(foreign instanceof Secret).toBe(true)
    expect(new Secret('x') instanceof copy.Secret).toBe(true)
    expect(new Secret('s3cr3t').equals(foreign)).toBe(true)
    // Look-alikes are not secrets.
    expect({ reveal: () => 'x' } instanceof Secret).toBe(false)
    expect({ [Symbol.for('callout.secret')]: true } instanceof Secret).toBe(false)
    for (const value of [null, undefined, 's3cr3t', 42] as unknown[]) {
      expect(value instanceof Secret).toBe(false)
    }
  })

  it('compares with crypto.timingSafeEqual over fixed-length digests, whatever the lengths', () => {
    compared.length = 0
    expect(new Secret('abc').equals(new Secret('abc'))).toBe(true)
    expect(new Secret('abc').equals(new Secret('abd'))).toBe(false)
    expect(new Secret('abc').equals(new Secret('abcdef'))).toBe(false)
    expect(new Secret('').equals(new Secret(''))).toBe(true)
    expect(new Secret('é').equals(new Secret('e\u0301'))).toBe(false)
    expect(compared).toEqual([
      [32, 32],
      [32, 32],
      [32, 32],
      [32, 32],
      [32, 32],
    ])
    expect(new Secret('abc').equals(undefined)).toBe(false)
    expect(new Secret('abc').equals({ reveal: () => 'abc' } as unknown as Secret)).toBe(false)
  })

  it('redacts itself everywhere it is printed', () => {
    const s = new Secret('canary-secret-value')
    for (const printed of [String(s), `${s}`, JSON.stringify({ s }), inspect({ s })]) {
      expect(printed).not.toContain('canary')
    }
    expect(s.reveal()).toBe('canary-secret-value')
  })
})
