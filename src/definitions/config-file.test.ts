import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import type { CalloutError } from '../errors.ts'
import { loadConfigFile, parseConfig } from './config-file.ts'
import { DEFAULTS } from './model.ts'

const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString()

const ENV = { IDP_KEY: 'idp-client', IDP_SECRET: 'idp-s3cret', SF_SECRET: 'sf-s3cret' }

const FULL = `
authProviders:
  Idp: { type: oidc, issuer: 'https://idp.example.com', consumerKey: '\${env:IDP_KEY}', consumerSecret: '\${env:IDP_SECRET}' }
  SfTarget: { type: salesforce, loginUrl: 'https://login.salesforce.com', consumerKey: '3MVG9abc', consumerSecret: '\${env:SF_SECRET}', defaultScopes: 'api refresh_token' }
externalCredentials:
  ApiAuth: { protocol: oauth2, flow: client-credentials, authProvider: Idp, scope: 'api:read', principals: { Service: { type: named } } }
  SfAuth: { protocol: oauth2, flow: jwt-bearer, authProvider: SfTarget, principals: { Integration: { type: named, parameters: { username: 'integration@acme.example' }, secrets: { privateKey: '\${file:./keys/server.key}' } } } }
namedCredentials:
  Api: { url: 'https://api.example.com/v1', externalCredential: ApiAuth }
`

let dir: string

function expectError(fn: () => unknown, code: string): CalloutError {
  try {
    fn()
  } catch (error) {
    expect(isCalloutError(error)).toBe(true)
    expect((error as CalloutError).code).toBe(code)
    return error as CalloutError
  }
  throw new Error('expected an error')
}

async function expectRejection(promise: Promise<unknown>, code: string): Promise<CalloutError> {
  try {
    await promise
  } catch (error) {
    expect(isCalloutError(error)).toBe(true)
    expect((error as CalloutError).code).toBe(code)
    return error as CalloutError
  }
  throw new Error('expected a rejection')
}

function paths(error: CalloutError): string[] {
  return (error.details.issues as { path: string }[]).map((i) => i.path)
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'callout-config-'))
  mkdirSync(join(dir, 'keys'))
  writeFileSync(join(dir, 'keys', 'server.key'), `${PEM}\n`)
  writeFileSync(join(dir, 'callout.yaml'), FULL)
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('loadConfigFile', () => {
  it('loads the full example: providers, credentials, references, Salesforce endpoints', async () => {
    const defs = await loadConfigFile(join(dir, 'callout.yaml'), { env: ENV })
    const idp = defs.authProviders.get('Idp')
    expect(idp?.consumerKey).toBe('idp-client')
    expect(idp?.consumerSecret?.reveal()).toBe('idp-s3cret')
    expect(idp?.issuer).toBe('https://idp.example.com')
    expect(idp?.clientAuth).toBe('client_secret_post')
    expect(idp?.usePkce).toBe(true)
    const sf = defs.authProviders.get('SfTarget')
    expect(sf).toMatchObject({
      type: 'salesforce',
      loginUrl: 'https://login.salesforce.com',
      authorizeUrl: 'https://login.salesforce.com/services/oauth2/authorize',
      tokenUrl: 'https://login.salesforce.com/services/oauth2/token',
      userInfoUrl: 'https://login.salesforce.com/services/oauth2/userinfo',
      revokeUrl: 'https://login.salesforce.com/services/oauth2/revoke',
      introspectUrl: 'https://login.salesforce.com/services/oauth2/introspect',
      defaultScopes: 'api refresh_token',
    })
    const sfAuth = defs.externalCredentials.get('SfAuth')
    expect(sfAuth?.flow).toBe('jwt-bearer')
    expect(sfAuth?.jwt).toEqual({
      validitySeconds: DEFAULTS.jwtValiditySeconds,
      algorithm: 'RS256',
    })
    const principal = sfAuth?.principals[0]
    expect(principal).toMatchObject({ name: 'Integration', type: 'named', sequence: 1 })
    expect(principal?.parameters).toEqual({ username: 'integration@acme.example' })
    // ${file:} is relative to the config file's directory, trailing newline trimmed.
    expect(principal?.secrets.privateKey?.reveal()).toBe(PEM.replace(/\n+$/, ''))
    const api = defs.namedCredentials.get('Api')
    expect(api).toEqual({
      name: 'Api',
      label: 'Api',
      url: 'https://api.example.com/v1',
      externalCredential: 'ApiAuth',
      generateAuthorizationHeader: true,
      allowMergeFieldsInHeader: false,
      allowMergeFieldsInBody: false,
      headers: [],
      timeoutMs: 10_000,
      redirects: 'follow-trusted',
      allowedHosts: [],
      allowRedirectsOutsideBasePath: false,
      enabled: true,
      allowInsecureHttp: false,
    })
    expect(Object.isFrozen(api)).toBe(true)
    expect(Object.isFrozen(sfAuth?.principals)).toBe(true)
    expect(Object.isFrozen(principal?.parameters)).toBe(true)
    expect(Object.isFrozen(defs)).toBe(true)
  })

  it('reads .json files as JSON', async () => {
    const file = join(dir, 'callout.json')
    writeFileSync(
      file,
      JSON.stringify({
        externalCredentials: { Open: { protocol: 'none' } },
        namedCredentials: { Open: { url: 'https://open.example.com', externalCredential: 'Open' } },
      }),
    )
    const defs = await loadConfigFile(file)
    expect(defs.namedCredentials.get('Open')?.url).toBe('https://open.example.com')
  })

  it('rejects a missing file with CONFIG_INVALID', async () => {
    const error = await expectRejection(loadConfigFile(join(dir, 'nope.yaml')), 'CONFIG_INVALID')
    expect(error.message).toContain('does not exist')
    expect(paths(error)).toEqual(['(file)'])
  })

  it('rejects a directory', async () => {
    const error = await expectRejection(loadConfigFile(dir), 'CONFIG_INVALID')
    expect(error.message).toContain('is a directory')
  })

  it('rejects a file over 1 MiB before reading it', async () => {
    const file = join(dir, 'big.yaml')
    writeFileSync(file, `# ${'x'.repeat(DEFAULTS.maxConfigBytes)}\n`)
    const error = await expectRejection(loadConfigFile(file), 'CONFIG_INVALID')
    expect(error.message).toContain('limit')
  })

  it('reports a missing ${file:} reference relative to the config directory', async () => {
    const file = join(dir, 'missing-key.yaml')
    writeFileSync(file, FULL.replace('./keys/server.key', './keys/absent.key'))
    const error = await expectRejection(
      loadConfigFile(file, { env: ENV }),
      'CONFIG_REFERENCE_MISSING',
    )
    expect(error.message).toContain('${file:./keys/absent.key}')
    expect(error.message).toContain(join(dir, 'keys', 'absent.key'))
    expect(paths(error)).toEqual([
      'externalCredentials.SfAuth.principals.Integration.secrets.privateKey',
    ])
  })
})

describe('parseConfig syntax', () => {
  it('reports a YAML syntax error with line and column', () => {
    const error = expectError(
      () => parseConfig('namedCredentials:\n  Api:\n    url: [unclosed\n', { format: 'yaml' }),
      'CONFIG_INVALID',
    )
    expect(error.details.line).toBeTypeOf('number')
    expect(error.details.column).toBeTypeOf('number')
    expect(error.message).toMatch(/line \d+, column \d+/)
    expect(paths(error)[0]).toMatch(/^\(line \d+, column \d+\)$/)
  })

  it('reports a duplicate YAML key (no silent last-wins for duplicate names)', () => {
    const error = expectError(
      () => parseConfig('namedCredentials:\n  Api: {}\n  Api: {}\n', { format: 'yaml' }),
      'CONFIG_INVALID',
    )
    expect(error.details.line).toBe(3)
  })

  it('reports a JSON syntax error with line and column, without quoting the source', () => {
    const error = expectError(
      () =>
        parseConfig('{\n  "namedCredentials": {\n    "Api": tops3cret\n  }\n}', { format: 'json' }),
      'CONFIG_INVALID',
    )
    expect(error.details.line).toBe(3)
    expect(error.details.column).toBeTypeOf('number')
    expect(error.message).not.toContain('tops3cret')
  })

  it('refuses a YAML alias bomb', () => {
    const bomb = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    ].join('\n')
    const error = expectError(() => parseConfig(bomb, { format: 'yaml' }), 'CONFIG_INVALID')
    expect(error.message).toContain('aliases')
  })

  it('refuses oversized text', () => {
    const error = expectError(
      () => parseConfig(`#${'x'.repeat(DEFAULTS.maxConfigBytes)}`, { format: 'yaml' }),
      'CONFIG_INVALID',
    )
    expect(paths(error)).toEqual(['(file)'])
  })

  it('treats an empty document as no definitions', () => {
    const defs = parseConfig('', { format: 'yaml' })
    expect(defs.namedCredentials.size).toBe(0)
    expect(defs.externalCredentials.size).toBe(0)
    expect(defs.authProviders.size).toBe(0)
  })

  it('rejects a top-level list', () => {
    const error = expectError(() => parseConfig('- a\n- b\n', { format: 'yaml' }), 'CONFIG_INVALID')
    expect(paths(error)).toEqual(['(root)'])
  })

  it('rejects deeply nested input without crashing', () => {
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`
    const error = expectError(
      () => parseConfig(`{"x": ${deep}}`, { format: 'json' }),
      'CONFIG_INVALID',
    )
    expect(error.message).toContain('nested')
  })
})
