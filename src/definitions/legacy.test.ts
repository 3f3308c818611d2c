import { describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import type { CalloutError } from '../errors.ts'
import { parseConfig } from './config-file.ts'
import { comparable } from './comparable.test-helper.ts'

const ENV = {
  SF_SECRET: 'sf-secret',
  LEGACY_PASSWORD: 'pw-123',
  KEY: '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----',
}
const PROVIDERS = `
authProviders:
  SfTarget: { type: salesforce, loginUrl: 'https://login.salesforce.com', consumerKey: '3MVG9', consumerSecret: '\${env:SF_SECRET}' }
`
const parse = (yaml: string) => parseConfig(yaml, { env: ENV, onWarning: () => {} })

function invalid(yaml: string): { path: string; message: string }[] {
  try {
    parse(yaml)
  } catch (error) {
    expect(isCalloutError(error, 'CONFIG_INVALID')).toBe(true)
    return (error as CalloutError).details.issues as { path: string; message: string }[]
  }
  throw new Error('expected CONFIG_INVALID')
}

describe('legacy shorthand', () => {
  it('named-principal oauth2 expands to exactly the hand-written new form', () => {
    const legacy = parse(`${PROVIDERS}
namedCredentials:
  Target:
    url: 'https://target.my.salesforce.com'
    identityType: named-principal
    protocol: oauth2
    authProvider: SfTarget
    scope: 'refresh_token full'
`)
    const modern = parse(`${PROVIDERS}
externalCredentials:
  Target_Auth:
    protocol: oauth2
    flow: browser
    authProvider: SfTarget
    scope: 'refresh_token full'
    principals: { NamedPrincipal: { type: named } }
namedCredentials:
  Target: { url: 'https://target.my.salesforce.com', externalCredential: Target_Auth }
`)
    expect(comparable(legacy)).toEqual(comparable(modern))
  })

  it('password protocol expands to basic with username parameter and password secret', () => {
    const legacy = parse(`
namedCredentials:
  Legacy: { url: 'https://legacy.example.com/api', protocol: password, username: svc, password: '\${env:LEGACY_PASSWORD}' }
`)
    const modern = parse(`
externalCredentials:
  Legacy_Auth:
    protocol: basic
    principals: { NamedPrincipal: { type: named, parameters: { username: svc }, secrets: { password: '\${env:LEGACY_PASSWORD}' } } }
namedCredentials:
  Legacy: { url: 'https://legacy.example.com/api', externalCredential: Legacy_Auth }
`)
    expect(comparable(legacy)).toEqual(comparable(modern))
    expect(
      legacy.externalCredentials.get('Legacy_Auth')?.principals[0]?.secrets.password?.reveal(),
    ).toBe('pw-123')
  })

  it('per-user oauth2 creates a PerUser principal; anonymous creates protocol none with no principal', () => {
    const defs = parse(`${PROVIDERS}
namedCredentials:
  Mine: { url: 'https://x.example.com', identityType: per-user, protocol: oauth2, authProvider: SfTarget }
  Open: { url: 'https://open.example.com', identityType: anonymous }
`)
    expect(defs.externalCredentials.get('Mine_Auth')?.principals).toEqual([
      { name: 'PerUser', type: 'per-user', sequence: 1, parameters: {}, secrets: {} },
    ])
    expect(defs.externalCredentials.get('Open_Auth')).toMatchObject({
      protocol: 'none',
      principals: [],
    })
    expect(defs.namedCredentials.get('Open')?.externalCredential).toBe('Open_Auth')
  })

  it('jwt-bearer flow takes username and privateKey', () => {
    const defs = parse(`${PROVIDERS}
namedCredentials:
  S2S: { url: 'https://t.example.com', protocol: oauth2, flow: jwt-bearer, authProvider: SfTarget, username: 'int@acme', privateKey: '\${env:KEY}' }
`)
    const p = defs.externalCredentials.get('S2S_Auth')?.principals[0]
    expect(p?.parameters).toEqual({ username: 'int@acme' })
    expect(p?.secrets.privateKey?.reveal()).toBe(ENV.KEY)
  })

  it('refuses a name collision with an existing ExternalCredential', () => {
    const issues = invalid(`
externalCredentials:
  Legacy_Auth: { protocol: none }
namedCredentials:
  Legacy: { url: 'https://legacy.example.com', identityType: anonymous }
`)
    expect(issues.map((i) => i.path)).toEqual(['namedCredentials.Legacy'])
    expect(issues[0]?.message).toContain('Legacy_Auth')
  })

  it('refuses jwt-exchange, naming the replacement', () => {
    const issues = invalid(`
namedCredentials:
  X: { url: 'https://x.example.com', protocol: jwt-exchange }
`)
    expect(issues).toEqual([
      {
        path: 'namedCredentials.X.protocol',
        message: expect.stringContaining('jwt-bearer') as string,
        line: 3,
      },
    ])
  })

  it('refuses legacy fields mixed with externalCredential', () => {
    const issues = invalid(`
externalCredentials: { E: { protocol: none } }
namedCredentials:
  X: { url: 'https://x.example.com', externalCredential: E, protocol: password, username: u }
`)
    expect(issues.map((i) => i.path).sort()).toEqual([
      'namedCredentials.X.protocol',
      'namedCredentials.X.username',
    ])
  })

  it('checks legacy requirements at the Named Credential path', () => {
    const issues = invalid(`
namedCredentials:
  A: { url: 'https://a.example.com', protocol: password }
  B: { url: 'https://b.example.com', protocol: oauth2, authProvider: Nope }
  C: { url: 'https://c.example.com', identityType: anonymous, protocol: password }
  D: { url: 'https://d.example.com', identityType: per-user, protocol: password, username: u }
  E: { url: 'https://e.example.com', identityType: named-principal }
  F: { url: 'https://f.example.com', protocol: none, username: u }
`)
    expect(issues.map((i) => i.path).sort()).toEqual([
      'namedCredentials.A.password',
      'namedCredentials.A.username',
      'namedCredentials.B.authProvider',
      'namedCredentials.C.identityType',
      'namedCredentials.D.username',
      'namedCredentials.E.protocol',
      'namedCredentials.F.username',
    ])
  })
})
