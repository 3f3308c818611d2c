import { describe, expect, it } from 'vitest'
import { redirectDecision, type RedirectTrust } from './redirects.ts'

const current = new URL('https://api.example.com/v1/items')
const trust: RedirectTrust = {
  policy: 'follow-trusted',
  origins: new Set(['https://api.example.com', 'https://acme.my.salesforce.com']),
  allowedHosts: ['cdn.example.com', 'files.example.com:8443'],
}

describe('redirectDecision', () => {
  it.each([
    // status, location, method → follow?, url, method, dropBody
    [302, '/v2/items', 'GET', true, 'https://api.example.com/v2/items', 'GET', false],
    [301, 'https://api.example.com/x', 'GET', true, 'https://api.example.com/x', 'GET', false],
    [302, '/x', 'POST', true, 'https://api.example.com/x', 'GET', true],
    [301, '/x', 'POST', true, 'https://api.example.com/x', 'GET', true],
    [302, '/x', 'PUT', true, 'https://api.example.com/x', 'PUT', false],
    [303, '/x', 'POST', true, 'https://api.example.com/x', 'GET', true],
    [303, '/x', 'HEAD', true, 'https://api.example.com/x', 'HEAD', true],
    [307, '/x', 'POST', true, 'https://api.example.com/x', 'POST', false],
    [308, '/x', 'PATCH', true, 'https://api.example.com/x', 'PATCH', false],
    [
      302,
      'https://acme.my.salesforce.com/services',
      'GET',
      true,
      'https://acme.my.salesforce.com/services',
      'GET',
      false,
    ],
    [302, 'https://cdn.example.com/f', 'GET', true, 'https://cdn.example.com/f', 'GET', false],
    [
      302,
      'https://files.example.com:8443/f',
      'GET',
      true,
      'https://files.example.com:8443/f',
      'GET',
      false,
    ],
    [302, '/x#frag', 'GET', true, 'https://api.example.com/x', 'GET', false],
  ])('%i %s (%s) is followed', (status, location, method, _follow, url, nextMethod, dropBody) => {
    const d = redirectDecision(status, location, current, method, trust)
    expect(d).toEqual({ follow: true, url: new URL(url), method: nextMethod, dropBody })
  })

  it.each([
    [302, 'https://evil.example.net/x', 'another origin'],
    [302, '//evil.example.net/x', 'scheme-relative to another origin'],
    [302, 'http://api.example.com/x', 'a downgrade to http'],
    [302, 'https://api.example.com:444/x', 'another port'],
    [302, 'https://user:pw@api.example.com/x', 'userinfo'],
    [302, 'https://api.example.com@evil.example.net/', 'userinfo trick'],
    [302, 'javascript:alert(1)', 'a non-http scheme'],
    [302, 'https://[bad', 'an unparsable location'],
    [302, '', 'an empty location'],
    [302, undefined, 'no location'],
    [302, ['/a', '/b'], 'several locations'],
    [300, '/x', 'status 300'],
    [304, '/x', 'status 304'],
    [200, '/x', 'a non-redirect'],
    [302, 'https://files.example.com/f', 'an allowed host:port entry on another port'],
  ] as [number, string | string[] | undefined, string][])(
    '%i %j is returned untouched (%s)',
    (status, location) => {
      expect(redirectDecision(status, location as string, current, 'GET', trust)).toEqual({
        follow: false,
      })
    },
  )

  it('lets an allowedHosts entry without a port match any port of that host', () => {
    expect(
      redirectDecision(302, 'https://cdn.example.com:9999/f', current, 'GET', trust).follow,
    ).toBe(true)
  })

  it('returns every redirect in manual mode', () => {
    expect(redirectDecision(302, '/x', current, 'GET', { ...trust, policy: 'manual' })).toEqual({
      follow: false,
    })
  })
})
