import { describe, expect, it } from 'vitest'
import {
  isLightningHost,
  isLoginHost,
  isMyDomainHost,
  salesforceEndpoints,
  salesforceHostKind,
  salesforceJwtAudience,
} from './salesforce.ts'

describe('hosts', () => {
  it.each([
    ['https://login.salesforce.com', true],
    ['https://test.salesforce.com/services/oauth2/token', true],
    ['https://LOGIN.salesforce.com', true],
    ['https://acme.my.salesforce.com', false],
    ['https://login.salesforce.com.evil.test', false],
    ['not a url', false],
  ])('isLoginHost(%s) = %s', (url, expected) => expect(isLoginHost(url)).toBe(expected))

  it.each([
    ['https://acme.lightning.force.com', true],
    ['https://acme--c.visual.force.com', true],
    ['https://acme--c.vf.force.com', true],
    ['https://acme.my.site.com/shop', true],
    ['https://lightning.force.com', false],
    ['https://acme.my.salesforce.com', false],
    ['https://acme.lightning.force.com.evil.test', false],
    ['::', false],
  ])('isLightningHost(%s) = %s', (url, expected) => expect(isLightningHost(url)).toBe(expected))
})

describe('salesforceHostKind (which URLs take the token instance_url as API origin)', () => {
  it.each([
    ['https://login.salesforce.com', undefined, 'login'],
    ['https://test.salesforce.com/services', 'https://login.salesforce.com', 'login'],
    ['https://acme.my.salesforce.com', 'https://acme.my.salesforce.com', 'login'],
    ['http://127.0.0.1:4000', 'http://127.0.0.1:4000/', 'login'],
    ['https://acme.lightning.force.com', undefined, 'ui'],
    ['https://acme.my.site.com/shop', 'https://acme.my.site.com/shop', 'ui'],
    ['https://acme.my.salesforce.com', 'https://login.salesforce.com', 'api'],
    ['https://api.example.com', 'not a url', 'api'],
  ] as const)('%s with loginUrl %s is %s', (url, loginUrl, kind) => {
    expect(salesforceHostKind(url, loginUrl)).toBe(kind)
  })

  it('isMyDomainHost', () => {
    expect(isMyDomainHost('https://acme.my.salesforce.com')).toBe(true)
    expect(isMyDomainHost('https://my.salesforce.com')).toBe(false)
    expect(isMyDomainHost('https://acme.my.salesforce.com.evil.test')).toBe(false)
  })
})

describe('login URLs', () => {
  it('puts the OAuth endpoints below the login URL, a site path included', () => {
    expect(salesforceEndpoints(new URL('https://acme.my.site.com/partners/'))).toEqual({
      issuer: 'https://acme.my.site.com',
      authorizeUrl: 'https://acme.my.site.com/partners/services/oauth2/authorize',
      tokenUrl: 'https://acme.my.site.com/partners/services/oauth2/token',
      userInfoUrl: 'https://acme.my.site.com/partners/services/oauth2/userinfo',
      revokeUrl: 'https://acme.my.site.com/partners/services/oauth2/revoke',
      introspectUrl: 'https://acme.my.site.com/partners/services/oauth2/introspect',
    })
  })

  it('the jwt-bearer audience is the login origin (and site path)', () => {
    expect(salesforceJwtAudience(undefined)).toBe('https://login.salesforce.com')
    expect(salesforceJwtAudience('https://test.salesforce.com/')).toBe(
      'https://test.salesforce.com',
    )
    expect(salesforceJwtAudience('https://acme.my.site.com/partners/')).toBe(
      'https://acme.my.site.com/partners',
    )
  })
})
