import { describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import type { CalloutError } from '../errors.ts'
import { parseConfig } from './config-file.ts'

const CANARY = 'canary-known-secret-51c2'

function failure(text: string, env: Record<string, string> = {}, format: 'yaml' | 'json' = 'yaml') {
  try {
    parseConfig(text, { format, env, source: 'callout.yaml', onWarning: () => {} })
  } catch (error) {
    expect(isCalloutError(error)).toBe(true)
    const e = error as CalloutError
    expect(e.message).not.toContain(CANARY)
    return {
      code: e.code,
      message: e.message,
      issues: e.details.issues as { path: string; message: string; line?: number }[],
      references: e.details.references as { reference: string; path: string }[] | undefined,
    }
  }
  throw new Error('expected an error')
}

describe('a config file with several problems reports them all at once', () => {
  it('a missing ${env:…}, a key typo and a URL rule: three issues, in file order, with lines', () => {
    const f = failure(
      `authProviders:
  Idp:
    type: oauth2
    tokenUrl: https://idp.example.com/token
    consumerKey: client-1
    consumerSecret: \${env:IDP_SECRET}
externalCredentials:
  ApiAuth:
    protocol: oauth2
    flow: client-credentials
    authProvider: Idp
    scpoe: api
    principals: { Service: { type: named } }
namedCredentials:
  Api: { url: 'http://api.example.com/v1', externalCredential: ApiAuth }
`,
    )
    expect(f.code).toBe('CONFIG_INVALID')
    expect(f.issues.map((i) => [i.path, i.line])).toEqual([
      ['authProviders.Idp.consumerSecret', 6],
      ['externalCredentials.ApiAuth.scpoe', 12],
      ['namedCredentials.Api.url', 15],
    ])
    expect(f.issues[0]?.message).toMatch(
      /\$\{env:IDP_SECRET\} cannot be resolved: .*IDP_SECRET is not set/,
    )
    expect(f.issues[1]?.message).toContain('did you mean "scope"?')
    expect(f.issues[2]?.message).toMatch(/http/)
    expect(f.references).toEqual([
      expect.objectContaining({
        reference: '${env:IDP_SECRET}',
        path: 'authProviders.Idp.consumerSecret',
      }),
    ])
    expect(f.message).toContain('The configuration in callout.yaml has 3 problems:')
    expect(f.message).toContain('  externalCredentials.ApiAuth.scpoe (line 12): is not a known key')
  })

  it('a missing file, a wrong type and an unknown top-level key, with a known secret never shown', () => {
    const f = failure(
      `version: 1
namedCredential:
  Typo: { url: https://typo.example.com }
externalCredentials:
  Basic:
    protocol: basic
    principals:
      Main:
        type: named
        parameters: { username: u }
        secrets: { password: '\${file:/nonexistent/callout-test/pw}' }
namedCredentials:
  Api: { url: https://api.example.com, externalCredential: Basic, timeoutMs: fast, headers: { X-Known: "'\${env:KNOWN}'" } }
`,
      { KNOWN: CANARY },
    )
    expect(f.code).toBe('CONFIG_INVALID')
    expect(f.issues.map((i) => [i.path, i.line])).toEqual([
      ['namedCredential', 2],
      ['externalCredentials.Basic.principals.Main.secrets.password', 11],
      ['namedCredentials.Api.timeoutMs', 13],
    ])
    expect(f.issues[0]?.message).toContain('did you mean "namedCredentials"?')
    expect(f.issues[1]?.message).toContain('does not exist')
    expect(f.issues[2]?.message).toContain('must be a number')
  })

  it('a malformed reference, an unknown key and a definition that is not defined', () => {
    const f = failure(
      `externalCredentials:
  Keyed:
    protocol: custom
    principals: { Default: { type: named, secrets: { apiKey: '\${ENV:API_KEY}' } } }
namedCredentials:
  Api: { url: https://api.example.com, externalCredential: Keyd, timeoutMS: 5000 }
`,
    )
    expect(f.issues.map((i) => [i.path, i.line])).toEqual([
      ['externalCredentials.Keyed.principals.Default.secrets.apiKey', 4],
      // Same line: in the order found (schema, then cross-references).
      ['namedCredentials.Api.timeoutMS', 6],
      ['namedCredentials.Api.externalCredential', 6],
    ])
    expect(f.issues.find((i) => i.path.endsWith('timeoutMS'))?.message).toContain('"timeoutMs"')
    expect(f.issues.find((i) => i.path.endsWith('externalCredential'))?.message).toContain('Keyd')
  })

  it('a value whose reference is missing gets no second issue (empty, not a URL, not PEM)', () => {
    const f = failure(
      `authProviders:
  Idp: { type: oauth2, tokenUrl: '\${env:TOKEN_URL}', consumerKey: k, clientPrivateKey: '\${env:IDP_KEY_PEM}' }
namedCredentials:
  Api: { url: '\${env:API_URL}', identityType: anonymous }
`,
    )
    expect(f.code).toBe('CONFIG_REFERENCE_MISSING')
    expect(f.issues.map((i) => [i.path, i.line])).toEqual([
      ['authProviders.Idp.tokenUrl', 2],
      ['authProviders.Idp.clientPrivateKey', 2],
      ['namedCredentials.Api.url', 4],
    ])
    expect(f.message).toContain(
      '  namedCredentials.Api.url (line 4): ${env:API_URL} cannot be resolved',
    )
  })

  it('finds lines in JSON too', () => {
    const f = failure(
      `{
  "namedCredentials": {
    "Api": {
      "url": "\${env:API_URL}",
      "identityType": "anonymous",
      "enabeld": true
    }
  }
}`,
      {},
      'json',
    )
    expect(f.code).toBe('CONFIG_INVALID')
    expect(f.issues.map((i) => [i.path, i.line])).toEqual([
      ['namedCredentials.Api.url', 4],
      ['namedCredentials.Api.enabeld', 6],
    ])
  })

  it('an object input has no lines, and still gets every problem', () => {
    try {
      parseConfig(
        {
          namedCredentials: { Api: { url: '${env:NOPE}', identityType: 'anonymous', lable: 'x' } },
        },
        { env: {} },
      )
      expect.unreachable()
    } catch (error) {
      const issues = (error as CalloutError).details.issues as { path: string; line?: number }[]
      expect(issues).toEqual([
        {
          path: 'namedCredentials.Api.lable',
          message: expect.stringContaining('"label"') as string,
        },
        {
          path: 'namedCredentials.Api.url',
          message: expect.stringContaining('${env:NOPE}') as string,
        },
      ])
    }
  })
})
