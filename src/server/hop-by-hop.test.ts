import { describe, expect, it } from 'vitest'
import { appendVia, connectionNamed, viaNames, withoutHopByHop } from './hop-by-hop.ts'

describe('withoutHopByHop', () => {
  it.each([
    ['connection', { connection: 'close', a: '1' }, { a: '1' }],
    ['keep-alive', { 'keep-alive': 'timeout=5', a: '1' }, { a: '1' }],
    ['proxy-authorization', { 'proxy-authorization': 'Bearer ck_x', a: '1' }, { a: '1' }],
    ['proxy-authenticate', { 'proxy-authenticate': 'Basic', a: '1' }, { a: '1' }],
    ['te and trailer', { te: 'trailers', trailer: 'x', a: '1' }, { a: '1' }],
    ['transfer-encoding', { 'transfer-encoding': 'chunked', a: '1' }, { a: '1' }],
    ['upgrade', { upgrade: 'h2c', a: '1' }, { a: '1' }],
    ['named by Connection', { connection: 'X-Hop, close', 'x-hop': 's', a: '1' }, { a: '1' }],
    ['arrays kept', { 'set-cookie': ['a=1', 'b=2'] }, { 'set-cookie': ['a=1', 'b=2'] }],
  ])('removes %s', (_name, input, expected) => {
    expect(withoutHopByHop(input)).toEqual(expected)
  })

  it('drops extra names and upper-case names alike', () => {
    expect(
      withoutHopByHop({ Host: 'h', Via: 'v', Accept: '*/*' }, new Set(['host', 'via'])),
    ).toEqual({
      accept: '*/*',
    })
  })
})

describe('via', () => {
  it('appends and detects this proxy', () => {
    expect(appendVia(undefined, '1.1 callout-1')).toBe('1.1 callout-1')
    expect(appendVia(['1.0 a', '1.1 b'], '1.1 callout-1')).toBe('1.0 a, 1.1 b, 1.1 callout-1')
    expect(viaNames('1.1 edge, 1.1 callout-1', 'callout-1')).toBe(true)
    expect(viaNames('1.1 callout-12', 'callout-1')).toBe(false)
    expect(viaNames(undefined, 'callout-1')).toBe(false)
    expect(connectionNamed({ connection: ['a, B', 'c'] })).toEqual(new Set(['a', 'b', 'c']))
  })
})
