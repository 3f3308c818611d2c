import { describe, expect, it } from 'vitest'
import { authProvider, namedCredential } from '../../../test/helpers/callout-fixtures.ts'
import { apiOrigin, needsInstanceOrigin } from './api-origin.ts'

const sf = authProvider({ type: 'salesforce', loginUrl: 'https://login.salesforce.com' })
const instance = 'https://acme.my.salesforce.com'

describe('apiOrigin (Salesforce instance_url)', () => {
  it.each([
    ['https://login.salesforce.com', true],
    ['https://test.salesforce.com', true],
    ['https://acme.lightning.force.com', true],
    ['https://acme--dev.sandbox.lightning.force.com', true],
    ['https://acme--c.vf.force.com', true],
    ['https://acme.my.salesforce.com', false],
    ['https://api.example.com', false],
  ])('%s needs the instance origin: %s', (url, expected) => {
    expect(needsInstanceOrigin(namedCredential({ url }), sf)).toBe(expected)
  })

  it('treats the provider login URL (a My Domain or an emulator) as a login host', () => {
    const p = authProvider({ type: 'salesforce', loginUrl: 'http://127.0.0.1:4000' })
    expect(needsInstanceOrigin(namedCredential({ url: 'http://127.0.0.1:4000' }), p)).toBe(true)
  })

  it('never applies to other provider types', () => {
    expect(
      needsInstanceOrigin(namedCredential({ url: 'https://login.salesforce.com' }), authProvider()),
    ).toBe(false)
    expect(
      needsInstanceOrigin(namedCredential({ url: 'https://login.salesforce.com' }), undefined),
    ).toBe(false)
  })

  it('swaps the origin, keeping path and query', () => {
    const nc = namedCredential({ url: 'https://acme.lightning.force.com' })
    const url = new URL('https://acme.lightning.force.com/services/data/v61.0/query?q=x')
    expect(apiOrigin(url, nc, sf, instance).href).toBe(
      'https://acme.my.salesforce.com/services/data/v61.0/query?q=x',
    )
  })

  it('leaves the URL alone without an instance URL, or with a bad one, or a downgrade', () => {
    const nc = namedCredential({ url: 'https://login.salesforce.com' })
    const url = new URL('https://login.salesforce.com/services/data/')
    expect(apiOrigin(url, nc, sf, undefined)).toBe(url)
    expect(apiOrigin(url, nc, sf, 'not a url')).toBe(url)
    expect(apiOrigin(url, nc, sf, 'http://evil.example.com')).toBe(url)
  })
})
