import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { PrincipalStatus, StatusReport } from '../callout/status-report.ts'
import { parseConfig } from '../definitions/config-file.ts'
import type { Definitions } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import { adviceFor } from '../providers/salesforce-advice.ts'
import {
  apiCheckFinding,
  credentialFindings,
  errorFinding,
  formatFinding,
  hasFailure,
  salesforceUrlFinding,
} from './doctor-checks.ts'

const privatePem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString()

const defs: Definitions = parseConfig(
  {
    authProviders: {
      Sf: { type: 'salesforce', loginUrl: 'https://acme.my.salesforce.com', consumerKey: 'ck' },
      SfLogin: {
        type: 'salesforce',
        loginUrl: 'https://login.salesforce.com',
        consumerKey: 'ck',
        consumerSecret: '${env:S}',
      },
      Generic: {
        type: 'oauth2',
        consumerKey: 'ck',
        consumerSecret: '${env:S}',
        authorizeUrl: 'https://id.example.com/authorize',
        tokenUrl: 'https://id.example.com/token',
      },
    },
    externalCredentials: {
      Jwt: {
        protocol: 'oauth2',
        flow: 'jwt-bearer',
        authProvider: 'SfLogin',
        principals: {
          Integration: {
            type: 'named',
            parameters: { username: 'u@x.example' },
            secrets: { privateKey: '${env:PEM}' },
          },
        },
      },
      Browser: {
        protocol: 'oauth2',
        flow: 'browser',
        authProvider: 'SfLogin',
        scope: 'api refresh_token',
        principals: { Admin: { type: 'named' }, Users: { type: 'per-user' } },
      },
      GenericBrowser: {
        protocol: 'oauth2',
        flow: 'browser',
        authProvider: 'Generic',
        scope: 'api',
        principals: { Admin: { type: 'named' } },
      },
      Password: {
        protocol: 'oauth2',
        flow: 'password',
        authProvider: 'SfLogin',
        principals: {
          Main: {
            type: 'named',
            parameters: { username: 'u@x.example' },
            secrets: { password: '${env:S}' },
          },
        },
      },
      Basic: {
        protocol: 'basic',
        principals: {
          Main: { type: 'named', parameters: { username: 'u' }, secrets: { password: '${env:S}' } },
        },
      },
    },
    namedCredentials: {
      Jwt: { url: 'https://login.salesforce.com', externalCredential: 'Jwt' },
      Browser: { url: 'https://acme.my.salesforce.com', externalCredential: 'Browser' },
      GenericBrowser: { url: 'https://api.example.com', externalCredential: 'GenericBrowser' },
      Password: { url: 'https://acme.my.salesforce.com', externalCredential: 'Password' },
      Basic: { url: 'https://api.example.com', externalCredential: 'Basic', enabled: false },
    },
  },
  { env: { S: 'secret-value', PEM: privatePem }, onWarning: () => undefined },
)

function report(
  name: string,
  principals: PrincipalStatus[],
  overrides: Partial<StatusReport> = {},
): StatusReport {
  const nc = defs.namedCredentials.get(name)!
  return {
    name,
    label: nc.label,
    url: nc.url,
    enabled: nc.enabled,
    externalCredential: nc.externalCredential,
    protocol: 'oauth2',
    principals,
    ...overrides,
  }
}

const nc = (url: string) => ({ ...defs.namedCredentials.get('Browser')!, url })
const sf = defs.authProviders.get('Sf')!
const sfLogin = defs.authProviders.get('SfLogin')!

describe('formatFinding / hasFailure', () => {
  it('formats level, subject, what and the todo after an em dash', () => {
    expect(formatFinding({ level: 'warn', subject: 'A', what: 'x', todo: 'do y' })).toBe(
      'warn A: x — do y',
    )
    expect(formatFinding({ level: 'ok', subject: 'store', what: 'opened' })).toBe(
      'ok   store: opened',
    )
    expect(formatFinding({ level: 'fail', subject: 'A', what: 'x' })).toBe('fail A: x')
  })

  it('fails only on a fail', () => {
    expect(hasFailure([])).toBe(false)
    expect(hasFailure([{ level: 'warn', subject: 'a', what: 'b' }])).toBe(false)
    expect(hasFailure([{ level: 'fail', subject: 'a', what: 'b' }])).toBe(true)
  })
})

describe('salesforceUrlFinding', () => {
  it.each([
    'https://acme.lightning.force.com',
    'https://acme--c.visual.force.com',
    'https://acme--c.vf.force.com',
    'https://acme.my.site.com',
  ])('%s is a warn about the 302 / INVALID_SESSION_ID', (url) => {
    const f = salesforceUrlFinding(nc(url), sfLogin, undefined)
    expect(f.level).toBe('warn')
    expect(f.what).toContain('302 or INVALID_SESSION_ID')
    expect(f.what).toContain("the token's instance_url (known after the first token)")
    expect(f.todo).toBe(
      "set the Named Credential URL to the org's My Domain (https://<domain>.my.salesforce.com)",
    )
  })

  it('names the stored instance_url and suggests it when it is a My Domain', () => {
    const f = salesforceUrlFinding(
      nc('https://acme.lightning.force.com'),
      sfLogin,
      'https://acme.my.salesforce.com/ignored/path',
    )
    expect(f.what).toContain("the token's instance_url https://acme.my.salesforce.com instead")
    expect(f.todo).toContain("the org's My Domain, https://acme.my.salesforce.com")
  })

  it('does not echo a hostile or malformed instance_url', () => {
    for (const bad of ['javascript:alert(1)', 'not a url', 'data:text/html,<b>x</b>', '']) {
      const f = salesforceUrlFinding(nc('https://acme.lightning.force.com'), sfLogin, bad)
      expect(f.what).toContain('(known after the first token)')
      expect(f.what).not.toContain('alert')
      expect(f.what).not.toContain('<b>')
    }
  })

  it('a login host, or the provider loginUrl, is ok with the instance_url note', () => {
    for (const url of ['https://login.salesforce.com', 'https://test.salesforce.com']) {
      const f = salesforceUrlFinding(nc(url), sfLogin, 'https://acme.my.salesforce.com')
      expect(f).toEqual({
        level: 'ok',
        subject: 'Browser',
        what: `the URL ${url} is a login host, which serves no org API; API calls go to the token's instance_url https://acme.my.salesforce.com`,
      })
    }
    expect(salesforceUrlFinding(nc('https://acme.my.salesforce.com/'), sf, undefined).what).toMatch(
      /is a login host/,
    )
  })

  it('a My Domain URL is the API origin', () => {
    const f = salesforceUrlFinding(nc('https://acme.my.salesforce.com'), sfLogin, undefined)
    expect(f).toEqual({
      level: 'ok',
      subject: 'Browser',
      what: 'the URL https://acme.my.salesforce.com is the API origin',
    })
  })
})

describe('credentialFindings', () => {
  it('jwt-bearer not yet used on a login host: all ok', () => {
    const found = credentialFindings(
      report('Jwt', [
        {
          principal: 'Integration',
          type: 'named',
          status: 'not-configured',
          summary: 'Not yet used',
        },
      ]),
      defs,
    )
    expect(found.map((f) => f.level)).toEqual(['ok', 'ok', 'ok'])
    expect(found[2]?.subject).toBe('Jwt Integration')
  })

  it('needs-reauth: fail with callout auth for named, a connect link for per-user', () => {
    const found = credentialFindings(
      report('Browser', [
        { principal: 'Admin', type: 'named', status: 'needs-reauth', summary: '' },
        {
          principal: 'Users',
          type: 'per-user',
          userId: 'alice',
          status: 'needs-reauth',
          summary: '',
          lastError: { code: 'invalid_grant', message: 'expired access/refresh token', at: 1 },
        },
      ]),
      defs,
    )
    const fails = found.filter((f) => f.level === 'fail')
    expect(fails).toEqual([
      {
        level: 'fail',
        subject: 'Browser Admin',
        what: 'needs re-authentication (invalid_grant)',
        todo: 'run callout auth Browser',
        code: 'NEEDS_REAUTH',
      },
      {
        level: 'fail',
        subject: 'Browser Users [alice]',
        what: 'needs re-authentication (invalid_grant)',
        todo: 'send the user a new connect link (broker.authorizeUrl), or run callout auth Browser --user alice',
        code: 'NEEDS_REAUTH',
      },
    ])
  })

  it('error with lastError: fail with the Salesforce advice', () => {
    const found = credentialFindings(
      report('Browser', [
        {
          principal: 'Admin',
          type: 'named',
          status: 'error',
          summary: '',
          lastError: { code: 'OAUTH_CLIENT_INVALID', message: 'invalid_client_id', at: 1 },
        },
      ]),
      defs,
    )
    const fail = found.find((f) => f.level === 'fail')
    expect(fail?.code).toBe('OAUTH_CLIENT_INVALID')
    expect(fail?.todo).toBe(adviceFor('invalid_client_id'))
  })

  it('browser flow never authenticated: warn; per-user with no user: ok', () => {
    const found = credentialFindings(
      report('Browser', [
        { principal: 'Admin', type: 'named', status: 'not-configured', summary: '' },
        { principal: 'Users', type: 'per-user', status: 'not-configured', summary: '' },
      ]),
      defs,
    )
    expect(found.filter((f) => f.subject.startsWith('Browser ')).map(formatFinding)).toEqual([
      'warn Browser Admin: never authenticated — run callout auth Browser',
      'ok   Browser Users: no user has authenticated yet',
    ])
  })

  it('authenticated without a refresh token in the browser flow: warn', () => {
    const found = credentialFindings(
      report('Browser', [
        {
          principal: 'Admin',
          type: 'named',
          status: 'authenticated',
          summary: 'Authenticated as a@x.example',
          hasRefreshToken: false,
        },
      ]),
      defs,
    )
    expect(found.map((f) => f.level)).toEqual(['ok', 'ok', 'ok', 'warn'])
    expect(found[3]?.todo).toBe(
      'add refresh_token to the scope and allow "Perform requests at any time" on the Connected App, then run callout auth Browser',
    )
  })

  it('the scope warning is for Salesforce: a generic provider with scope "api" gets none', () => {
    const found = credentialFindings(
      report('GenericBrowser', [
        { principal: 'Admin', type: 'named', status: 'authenticated', summary: 'Authenticated' },
      ]),
      defs,
    )
    expect(found.map((f) => f.level)).toEqual(['ok', 'ok'])
  })

  it('the password flow: warn to move to jwt-bearer', () => {
    const found = credentialFindings(report('Password', []), defs)
    const warn = found.find((f) => f.level === 'warn')
    expect(warn?.what).toContain('password flow, which is legacy')
    expect(warn?.todo).toContain('jwt-bearer')
  })

  it('basic, disabled: warn about disabled, ok about the protocol', () => {
    const found = credentialFindings(report('Basic', [], { protocol: 'basic' }), defs)
    expect(found.map(formatFinding)).toEqual([
      'warn Basic: disabled: callouts fail with CREDENTIAL_DISABLED — set enabled: true in the config file and run callout apply, if it should be used',
      'ok   Basic: uses basic credentials; no token to refresh',
    ])
  })

  it('a missing ExternalCredential: fail CONFIG_INVALID', () => {
    const found = credentialFindings(report('Basic', [], { externalCredential: 'Gone' }), defs)
    expect(found[1]).toMatchObject({ level: 'fail', code: 'CONFIG_INVALID' })
    expect(found[1]?.what).toContain('Gone')
  })
})

describe('apiCheckFinding', () => {
  const SF = '/services/data/v61.0/'
  const sf = { salesforce: true }

  it('2xx ok, 3xx warn with the Lightning advice (Salesforce)', () => {
    expect(apiCheckFinding('T', SF, 200, '{}', sf)).toEqual({
      level: 'ok',
      subject: 'T',
      what: 'GET /services/data/v61.0/ answered 200',
    })
    const redirect = apiCheckFinding('T', SF, 302, '', sf)
    expect(redirect).toMatchObject({ level: 'warn', code: 'HTTP_302' })
    expect(redirect.todo).toContain('my.salesforce.com')
  })

  it('401: fail with INVALID_SESSION_ID advice, or the scope advice for "not valid for use with the REST API"', () => {
    expect(apiCheckFinding('T', SF, 401, '', sf)).toMatchObject({
      level: 'fail',
      code: 'HTTP_401',
      todo: adviceFor('INVALID_SESSION_ID'),
    })
    const body = JSON.stringify([
      {
        message: 'This session is not valid for use with the REST API',
        errorCode: 'INVALID_SESSION_ID',
      },
    ])
    expect(apiCheckFinding('T', SF, 401, body, sf).todo).toBe(
      adviceFor('SESSION_NOT_VALID_FOR_API'),
    )
  })

  it('another provider gets no Salesforce advice and names its checkPath', () => {
    const f = apiCheckFinding('T', '/me', 401, 'INVALID_SESSION_ID')
    expect(f).toMatchObject({ level: 'fail', what: 'GET /me answered 401', code: 'HTTP_401' })
    expect(f.todo).not.toBe(adviceFor('INVALID_SESSION_ID'))
    expect(apiCheckFinding('T', '/me', 302, '').todo).not.toContain('salesforce')
  })

  it('prefers the broker advice header; never puts the body into the finding', () => {
    const f = apiCheckFinding('T', SF, 500, 'CANARY-body <script>', {
      ...sf,
      advice: 'the broker says so',
    })
    expect(f).toEqual({
      level: 'fail',
      subject: 'T',
      what: 'GET /services/data/v61.0/ answered 500',
      todo: 'the broker says so',
      code: 'HTTP_500',
    })
    expect(apiCheckFinding('T', SF, 503, 'x'.repeat(1_000_000), sf).level).toBe('fail')
  })
})

describe('errorFinding', () => {
  it('shows the code and message, with Salesforce advice when asked', () => {
    const e = new CalloutError('NEEDS_REAUTH', 'expired access/refresh token: run callout auth T.')
    expect(errorFinding('T', e, 'could not obtain a token', true)).toEqual({
      level: 'fail',
      subject: 'T',
      what: 'could not obtain a token: NEEDS_REAUTH: expired access/refresh token: run callout auth T.',
      todo: adviceFor('invalid_grant'),
      code: 'NEEDS_REAUTH',
    })
    expect(errorFinding('T', e, 'x').todo).toBeUndefined()
  })

  it('finds the advice for the OAuth error quoted in the message', () => {
    const e = new CalloutError(
      'OAUTH_CLIENT_INVALID',
      'The authorization server rejected the client of AuthProvider "S" (invalid_client: invalid client credentials).',
    )
    expect(errorFinding('T', e, 'could not obtain a token', true).todo).toBe(
      adviceFor('invalid_client'),
    )
  })

  it('non-Callout errors are INTERNAL with their message', () => {
    expect(errorFinding('T', new Error('boom'), 'x')).toMatchObject({
      code: 'INTERNAL',
      what: 'x: INTERNAL: boom',
    })
    expect(errorFinding('T', 'weird', 'x').what).toBe('x: INTERNAL: weird')
  })
})
