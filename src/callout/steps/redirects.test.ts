import { describe, expect, it } from 'vitest'
import { redirectDecision, type RedirectTrust } from './redirects.ts'

const current = new URL('https://api.example.com/v1/items')
const trust: RedirectTrust = {
  policy: 'follow-trusted',
  places: [
    { origin: 'https://api.example.com', basePath: '/v1' },
    { origin: 'https://acme.my.salesforce.com', basePath: '' },
  ],
  outsideBasePath: false,
  allowedHosts: ['cdn.example.com', 'files.example.com:8443', '[::1]:9443', '127.0.0.1'],
  defaultPort: '443',
}

describe('redirectDecision', () => {
  it.each([
    // status, location, method → follow?, url, method, dropBody
    [302, '/v1/items?page=2', 'GET', true, 'https://api.example.com/v1/items?page=2', 'GET', false],
    [302, 'other', 'GET', true, 'https://api.example.com/v1/other', 'GET', false],
    [302, '/v1', 'GET', true, 'https://api.example.com/v1', 'GET', false],
    [
      301,
      'https://api.example.com/v1/x',
      'GET',
      true,
      'https://api.example.com/v1/x',
      'GET',
      false,
    ],
    [302, '/v1/x', 'POST', true, 'https://api.example.com/v1/x', 'GET', true],
    [301, '/v1/x', 'POST', true, 'https://api.example.com/v1/x', 'GET', true],
    [302, '/v1/x', 'PUT', true, 'https://api.example.com/v1/x', 'PUT', false],
    [303, '/v1/x', 'POST', true, 'https://api.example.com/v1/x', 'GET', true],
    [303, '/v1/x', 'HEAD', true, 'https://api.example.com/v1/x', 'HEAD', true],
    [307, '/v1/x', 'POST', true, 'https://api.example.com/v1/x', 'POST', false],
    [308, '/v1/x', 'PATCH', true, 'https://api.example.com/v1/x', 'PATCH', false],
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
    [302, 'https://[::1]:9443/f', 'GET', true, 'https://[::1]:9443/f', 'GET', false],
    [302, 'https://127.0.0.1/f', 'GET', true, 'https://127.0.0.1/f', 'GET', false],
    [302, '/v1/x#frag', 'GET', true, 'https://api.example.com/v1/x', 'GET', false],
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
    [
      302,
      'https://cdn.example.com:9999/f',
      'a bare allowed host on another port than the credential',
    ],
    [302, 'https://127.0.0.1:8443/f', 'a bare allowed IP on another port than the credential'],
    [302, 'https://[::1]/f', 'an allowed [::1]:port entry on another port'],
    [302, '/v2/items', 'the same origin outside the base path'],
    [302, '/', 'the origin root, above the base path'],
    [302, '/v1x', 'a sibling of the base path'],
    [302, '/v1/../admin', 'a dot segment out of the base path'],
    [302, '/v1/..;/admin', 'a ..; segment a lenient server resolves out of the base path'],
    [302, '/v1/%2e%2e;/admin', 'an encoded ..; segment'],
    [302, '/v1/%c0%ae%c0%ae/admin', 'an overlong-UTF-8 dot segment'],
  ] as [number, string | string[] | undefined, string][])(
    '%i %j is returned untouched (%s)',
    (status, location) => {
      expect(redirectDecision(status, location as string, current, 'GET', trust)).toEqual({
        follow: false,
      })
    },
  )

  it('follows a same-origin redirect outside the base path only with allowRedirectsOutsideBasePath', () => {
    const open = { ...trust, outsideBasePath: true }
    expect(redirectDecision(302, '/v2/items', current, 'GET', open)).toMatchObject({
      follow: true,
      url: new URL('https://api.example.com/v2/items'),
    })
    expect(redirectDecision(302, 'https://evil.example.net/', current, 'GET', open).follow).toBe(
      false,
    )
  })

  it('reads a bare allowedHosts entry as the credential port (80 for http)', () => {
    const http = { ...trust, defaultPort: '80' }
    const from = new URL('http://127.0.0.1/v1/x')
    expect(redirectDecision(302, 'http://127.0.0.1/f', from, 'GET', http).follow).toBe(true)
    expect(redirectDecision(302, 'http://127.0.0.1:8080/f', from, 'GET', http).follow).toBe(false)
  })

  it('returns every redirect in manual mode', () => {
    expect(redirectDecision(302, '/x', current, 'GET', { ...trust, policy: 'manual' })).toEqual({
      follow: false,
    })
  })
})
