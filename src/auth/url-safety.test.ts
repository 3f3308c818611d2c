import { describe, expect, it } from 'vitest'
import { isAcceptableServerUrl, isLoopbackUrl, mayUseInsecureHttp } from './url-safety.ts'

describe('url safety', () => {
  it.each([
    ['http://127.0.0.1:80/', true],
    ['http://127.8.9.1/', true],
    ['http://localhost/', true],
    ['http://a.localhost/', false],
    ['http://localhost.evil.test/', false],
    ['http://[::1]:3000/', true],
    ['http://127.0.0.1.evil.test/', false],
    ['http://example.test/', false],
  ])('isLoopbackUrl(%s) = %s', (u, expected) => expect(isLoopbackUrl(new URL(u))).toBe(expected))

  it('allows insecure requests only for loopback http or the explicit switch', () => {
    expect(mayUseInsecureHttp('https://example.test', true)).toBe(false)
    expect(mayUseInsecureHttp('http://127.0.0.1:1/t', false)).toBe(true)
    expect(mayUseInsecureHttp('http://example.test/t', false)).toBe(false)
    expect(mayUseInsecureHttp('http://example.test/t', true)).toBe(true)
  })

  it('server URLs: https or loopback http, never userinfo or other schemes', () => {
    expect(isAcceptableServerUrl(new URL('https://a.test'))).toBe(true)
    expect(isAcceptableServerUrl(new URL('https://u@a.test'))).toBe(false)
    expect(isAcceptableServerUrl(new URL('ftp://a.test'))).toBe(false)
    expect(isAcceptableServerUrl(new URL('http://a.test'))).toBe(false)
    expect(isAcceptableServerUrl(new URL('http://a.test'), true)).toBe(true)
  })
})
