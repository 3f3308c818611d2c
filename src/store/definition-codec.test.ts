import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import { joinDefinition, REFERENCES_KEY, splitDefinition } from './definition-codec.ts'

describe('splitDefinition / joinDefinition', () => {
  it('moves secrets out of the document and back, at any depth', () => {
    const def = {
      name: 'Ext',
      principals: [
        {
          name: 'P',
          secrets: { password: new Secret('pw'), 'odd key.with dots': new Secret('k') },
        },
      ],
      list: [new Secret('in-array'), 'plain'],
      cert: { key: new Secret('pem') },
      skipped: undefined,
    }
    const split = splitDefinition(def, 'x')
    expect(split.document).not.toMatch(/pw|in-array|pem/)
    expect(split.document).toBe(
      '{"cert":{},"list":[null,"plain"],"name":"Ext","principals":[{"name":"P","secrets":{}}]}',
    )
    const joined = joinDefinition<typeof def>(split.document, new Secret(split.secrets ?? ''), 'x')
    expect(joined.principals[0]?.secrets.password.reveal()).toBe('pw')
    expect(joined.principals[0]?.secrets['odd key.with dots'].reveal()).toBe('k')
    expect((joined.list[0] as Secret).reveal()).toBe('in-array')
    expect(joined.cert.key.reveal()).toBe('pem')
    expect('skipped' in joined).toBe(false)
  })

  it('is canonical: key order does not matter', () => {
    expect(splitDefinition({ b: 1, a: { d: 2, c: 3 } }, 'x')).toEqual(
      splitDefinition({ a: { c: 3, d: 2 }, b: 1 }, 'x'),
    )
  })

  it('handles __proto__ keys as plain data', () => {
    const def = JSON.parse('{"name":"A","claims":{"__proto__":{"polluted":true}}}') as object
    const split = splitDefinition(def, 'x')
    const joined = joinDefinition<Record<string, unknown>>(split.document, undefined, 'x')
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    expect(Object.keys(joined['claims'] as object)).toEqual(['__proto__'])
  })

  it('round-trips arbitrary JSON data', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const def = { name: 'A', value }
        const split = splitDefinition(def, 'x')
        const joined = joinDefinition<{ value: unknown }>(split.document, undefined, 'x')
        expect(joined.value).toEqual(JSON.parse(JSON.stringify(value)))
      }),
      { numRuns: 200 },
    )
  })

  it.each([
    ['a bigint', { n: 1n }],
    ['a function', { f: () => 1 }],
    ['a symbol', { s: Symbol('x') }],
    ['NaN', { n: Number.NaN }],
    ['Infinity', { n: Infinity }],
    ['a Map', { m: new Map() }],
    ['a Date', { d: new Date() }],
    ['deep nesting', JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) as object],
  ])('rejects %s with CONFIG_INVALID', (_label, value) => {
    try {
      splitDefinition({ name: 'A', value }, 'authProvider A')
      expect.unreachable()
    } catch (error) {
      expect(isCalloutError(error, 'CONFIG_INVALID')).toBe(true)
    }
  })

  it('rejects cycles', () => {
    const a: Record<string, unknown> = { name: 'A' }
    a['self'] = a
    expect(() => splitDefinition(a, 'x')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    )
  })

  it('refuses malformed stored rows with STORE_ERROR, never quoting the secrets', () => {
    for (const [doc, secrets] of [
      ['not json', undefined],
      ['1', undefined],
      ['{}', 'canary-not-json'],
      ['{}', '{"a":1}'],
      ['{}', '[[[],"x"]]'],
      ['{}', '[[["a",{}],"x"]]'],
      ['{"a":1}', '[[["a","b"],"x"]]'],
      ['{}', '[["a","x"]]'],
    ] as const) {
      try {
        joinDefinition(doc, secrets === undefined ? undefined : new Secret(secrets), 'x')
        expect.unreachable()
      } catch (error) {
        expect(isCalloutError(error, 'STORE_ERROR')).toBe(true)
        expect(String((error as Error).message) + String((error as Error).cause)).not.toContain(
          'canary',
        )
      }
    }
  })

  it("keeps each secret's reference name in the document (never its value) and restores it", () => {
    const def = {
      name: 'Ext',
      consumerSecret: new Secret('canary-value-1', { reference: '${env:API_CLIENT_SECRET}' }),
      principals: [
        { secrets: { key: new Secret('canary-value-2', { reference: '${file:/k.pem}' }) } },
      ],
      plain: new Secret('canary-value-3'),
    }
    const split = splitDefinition(def, 'x')
    expect(split.document).not.toContain('canary')
    expect(JSON.parse(split.document)).toEqual({
      name: 'Ext',
      principals: [{ secrets: {} }],
      [REFERENCES_KEY]: [
        [['consumerSecret'], '${env:API_CLIENT_SECRET}'],
        [['principals', 0, 'secrets', 'key'], '${file:/k.pem}'],
      ],
    })
    const joined = joinDefinition<typeof def>(split.document, new Secret(split.secrets ?? ''), 'x')
    expect(REFERENCES_KEY in joined).toBe(false)
    expect(joined.consumerSecret.reference).toBe('${env:API_CLIENT_SECRET}')
    expect(joined.consumerSecret.reveal()).toBe('canary-value-1')
    expect(joined.principals[0]?.secrets.key.reference).toBe('${file:/k.pem}')
    expect(joined.plain.reference).toBeUndefined()
    // A document written before references were kept loads its secrets without one.
    const old = joinDefinition<typeof def>(
      JSON.stringify({ name: 'Ext' }),
      new Secret(split.secrets ?? ''),
      'x',
    )
    expect(old.consumerSecret.reference).toBeUndefined()
    expect(old.consumerSecret.reveal()).toBe('canary-value-1')
  })

  it('refuses a definition that carries the reserved references key, and malformed references', () => {
    expect(() => splitDefinition({ name: 'A', [REFERENCES_KEY]: [] }, 'x')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    )
    for (const references of ['"x"', '[1]', '[[["a"]]]', '[[["a"],1]]', '[["a","b"]]']) {
      expect(() =>
        joinDefinition(`{"${REFERENCES_KEY}":${references}}`, new Secret('[[["a"],"v"]]'), 'x'),
      ).toThrow(expect.objectContaining({ code: 'STORE_ERROR' }))
    }
  })
})
