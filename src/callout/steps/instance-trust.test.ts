import { describe, expect, it } from 'vitest'
import { authProvider } from '../../../test/helpers/callout-fixtures.ts'
import { matchesHostPattern, trustedInstanceOrigin } from './instance-trust.ts'

describe('matchesHostPattern', () => {
  it.each([
    ['acme.my.salesforce.com', 'acme.my.salesforce.com', true],
    ['ACME.my.salesforce.com', 'acme.my.salesforce.com', true],
    ['acme.my.salesforce.com', '*.my.salesforce.com', true],
    ['a.b.my.salesforce.com', '*.my.salesforce.com', true],
    ['my.salesforce.com', '*.my.salesforce.com', false],
    ['evilmy.salesforce.com', '*.my.salesforce.com', false],
    ['acme.my.salesforce.com.evil.example', '*.my.salesforce.com', false],
    ['other.my.salesforce.com', 'acme.my.salesforce.com', false],
  ])('%s against %s → %s', (host, pattern, expected) => {
    expect(matchesHostPattern(host, pattern)).toBe(expected)
  })
})

describe('trustedInstanceOrigin', () => {
  const sf = authProvider({ type: 'salesforce' })
  it('trusts a Salesforce instance_url, by origin', () => {
    expect(trustedInstanceOrigin(sf, 'https://acme.my.salesforce.com/x')).toBe(
      'https://acme.my.salesforce.com',
    )
  })
  it.each(['oauth2', 'oidc'] as const)('never trusts one from a %s provider', (type) => {
    expect(
      trustedInstanceOrigin(authProvider({ type }), 'https://acme.my.salesforce.com'),
    ).toBeUndefined()
  })
  it('applies trustedInstanceHosts', () => {
    const pinned = authProvider({ type: 'salesforce', trustedInstanceHosts: ['*.force.com'] })
    expect(trustedInstanceOrigin(pinned, 'https://acme.my.salesforce.com')).toBeUndefined()
    expect(trustedInstanceOrigin(pinned, 'https://acme.my.force.com')).toBe(
      'https://acme.my.force.com',
    )
  })
  it('ignores a missing or unparsable instance_url', () => {
    expect(trustedInstanceOrigin(sf, undefined)).toBeUndefined()
    expect(trustedInstanceOrigin(sf, 'not a url')).toBeUndefined()
    expect(trustedInstanceOrigin(undefined, 'https://acme.my.salesforce.com')).toBeUndefined()
  })
})
