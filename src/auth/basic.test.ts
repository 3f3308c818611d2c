import { describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import { basicAuthorization } from './basic.ts'

describe('basicAuthorization', () => {
  it('matches the RFC 7617 example', () => {
    expect(basicAuthorization('Aladdin', new Secret('open sesame'))).toBe(
      'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==',
    )
  })
  it('encodes UTF-8 (RFC 7617 §2.1 example)', () => {
    expect(basicAuthorization('test', new Secret('123£'))).toBe('Basic dGVzdDoxMjPCow==')
  })
  it('allows ":" in the password', () => {
    expect(
      Buffer.from(basicAuthorization('u', new Secret('a:b')).slice(6), 'base64').toString(),
    ).toBe('u:a:b')
  })
  it.each([
    ['a:b', 'canary1'],
    ['a\r\nb', 'canary2'],
    ['a', 'canary3\n'],
    ['a\0', 'canary4'],
  ])('rejects %j / %j', (u, p) => {
    let err: unknown
    try {
      basicAuthorization(u, new Secret(p))
    } catch (e) {
      err = e
    }
    expect(isCalloutError(err, 'CONFIG_INVALID')).toBe(true)
    expect((err as Error).message).not.toContain('canary')
  })
})
