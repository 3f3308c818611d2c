import { describe, expect, it } from 'vitest'
import { withoutPlaceholderToken } from './port-answer.ts'
import { portJson, portLocation, portUrl, type UpstreamPlace } from './port-urls.ts'

const PORT = 'http://127.0.0.1:7071'
const SALESFORCE: UpstreamPlace[] = [
  { origin: 'https://acme.my.salesforce.com', basePath: '' },
  { origin: 'https://acme--dev.sandbox.my.salesforce.com', basePath: '' },
  { origin: 'https://login.salesforce.com', basePath: '', only: '/id/' },
]
const BASE: UpstreamPlace[] = [{ origin: 'https://api.example.com', basePath: '/v1' }]

describe('portUrl', () => {
  it.each([
    [
      'https://acme.my.salesforce.com/services/data/v61.0/',
      SALESFORCE,
      `${PORT}/services/data/v61.0/`,
    ],
    ['https://acme--dev.sandbox.my.salesforce.com/x?y=1#z', SALESFORCE, `${PORT}/x?y=1#z`],
    ['https://login.salesforce.com/id/00D/005', SALESFORCE, `${PORT}/id/00D/005`],
    ['https://login.salesforce.com/services/oauth2/authorize', SALESFORCE, undefined],
    ['https://evil.example/services/data', SALESFORCE, undefined],
    ['http://acme.my.salesforce.com/services/data', SALESFORCE, undefined],
    ['https://acme.my.salesforce.com:8443/services/data', SALESFORCE, undefined],
    ['https://user:pw@acme.my.salesforce.com/x', SALESFORCE, undefined],
    ['https://acme.my.salesforce.com.evil.example/x', SALESFORCE, undefined],
    ['https://api.example.com/v1/items', BASE, `${PORT}/items`],
    ['https://api.example.com/v1', BASE, `${PORT}/`],
    ['https://api.example.com/v10/items', BASE, undefined],
    ['https://api.example.com/other', BASE, undefined],
    ['https://api.example.com/v1/../admin', BASE, undefined],
    ['/v1/items', BASE, undefined],
    ['not a url', BASE, undefined],
  ] as const)('%s', (url, places, expected) => {
    expect(portUrl(url, places, PORT)).toBe(expected)
  })
})

describe('portLocation', () => {
  it.each([
    ['https://api.example.com/v1/items/7', BASE, `${PORT}/items/7`],
    ['/v1/items/7', BASE, `${PORT}/items/7`],
    ['/elsewhere', BASE, '/elsewhere'],
    ['items/7', BASE, 'items/7'],
    ['//evil.example/v1/x', BASE, '//evil.example/v1/x'],
    ['https://evil.example/v1/x', BASE, 'https://evil.example/v1/x'],
    [
      '/services/data/v61.0/sobjects/Account/001',
      SALESFORCE,
      '/services/data/v61.0/sobjects/Account/001',
    ],
    ['https://acme.my.salesforce.com/home/home.jsp', SALESFORCE, `${PORT}/home/home.jsp`],
  ] as const)('%s', (location, places, expected) => {
    expect(portLocation(location, places, PORT)).toBe(expected)
  })
})

describe('portJson', () => {
  it('rewrites nested strings that are URLs on the upstream, nothing else', () => {
    expect(
      portJson(
        {
          id: 'https://login.salesforce.com/id/00D/005',
          urls: { rest: 'https://acme.my.salesforce.com/services/data/v{version}/' },
          list: ['https://acme.my.salesforce.com/a', 'https://other.example/a', 7, null, true],
          text: 'see https://acme.my.salesforce.com/a',
        },
        SALESFORCE,
        PORT,
      ),
    ).toEqual({
      id: `${PORT}/id/00D/005`,
      urls: { rest: `${PORT}/services/data/v{version}/` },
      list: [`${PORT}/a`, 'https://other.example/a', 7, null, true],
      text: 'see https://acme.my.salesforce.com/a',
    })
  })
})

describe('withoutPlaceholderToken', () => {
  it.each([
    ['/id/00D/005?format=json&oauth_token=00D000000000000!ck_1', '/id/00D/005?format=json'],
    ['/id/x?oauth_token=00D000000000000%21ck_1', '/id/x'],
    ['/x?oauth_token=real-looking&b=1', '/x?oauth_token=real-looking&b=1'],
    ['/x?q=oauth_token%3D1', '/x?q=oauth_token%3D1'],
    ['/x?a=%E0&oauth_token=00D000000000000!k&c=d+e', '/x?a=%E0&c=d+e'],
    ['/x', '/x'],
  ])('%s', (url, expected) => {
    expect(withoutPlaceholderToken(url)).toBe(expected)
  })
})
