import { describe, expect, it } from 'vitest'
import { formatPath, parsePath, unknownReference } from './issues.ts'

describe('parsePath', () => {
  it.each([
    [['namedCredentials', 'Api', 'url']],
    [['externalCredentials', 'no spaces', 'principals', '9lives', 'type']],
    [['externalCredentials', 'E', 'authHeaders', '0', 'name']],
    [['a', 'x.y', 'b"q', 'c[1]']],
  ])('reads back what formatPath wrote: %j', (segments) => {
    const written = formatPath(segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s)))
    expect(parsePath(written)).toEqual(segments)
  })
})

describe('unknownReference', () => {
  it('suggests the closest name, and only a plausible one', () => {
    expect(unknownReference('AuthProvider', 'Ipd', 'authProviders', ['Idp', 'Other'])).toContain(
      'did you mean Idp?',
    )
    expect(unknownReference('AuthProvider', 'Zzzzz', 'authProviders', ['Idp'])).toBe(
      'names the AuthProvider Zzzzz, which is not defined — add it under authProviders or fix the name',
    )
  })
})
