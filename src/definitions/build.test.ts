import { generateKeyPairSync } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import type { CalloutError } from '../errors.ts'
import type { ConfigWarning } from './build.ts'
import { parseConfig } from './config-file.ts'
import { DEFAULTS, NAME_PATTERN } from './model.ts'

const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString()

/** A valid base document; tests override pieces of it. */
type Entries = Record<string, Record<string, unknown>>
interface Doc {
  authProviders: Entries
  externalCredentials: Entries
  namedCredentials: Entries
}

function base(): Doc {
  return {
    authProviders: {
      Idp: {
        type: 'oauth2',
        consumerKey: 'client',
        consumerSecret: 'sec',
        tokenUrl: 'https://idp.example.com/token',
      },
    },
    externalCredentials: {
      ApiAuth: {
        protocol: 'oauth2',
        flow: 'client-credentials',
        authProvider: 'Idp',
        principals: { Service: { type: 'named' } },
      },
    },
    namedCredentials: { Api: { url: 'https://api.example.com/v1', externalCredential: 'ApiAuth' } },
  }
}

function parse(doc: object, onWarning?: (w: ConfigWarning) => void) {
  return parseConfig(doc, { allowInlineSecrets: true, onWarning: onWarning ?? (() => {}) })
}

function invalid(doc: object): {
  error: CalloutError
  issues: { path: string; message: string }[]
} {
  try {
    parse(doc)
  } catch (error) {
    expect(isCalloutError(error, 'CONFIG_INVALID')).toBe(true)
    const e = error as CalloutError
    const issues = e.details.issues as { path: string; message: string }[]
    for (const i of issues) expect(e.message).toContain(`${i.path}: ${i.message}`)
    return { error: e, issues }
  }
  throw new Error('expected CONFIG_INVALID')
}

function issueAt(doc: object, path: string): string {
  const { issues } = invalid(doc)
  const found = issues.find((i) => i.path === path)
  expect(found, `issues: ${JSON.stringify(issues)}`).toBeDefined()
  return found?.message ?? ''
}

describe('schema: types, keys, names', () => {
  it('accepts the base document', () => {
    expect(parse(base()).namedCredentials.get('Api')?.url).toBe('https://api.example.com/v1')
  })

  it('reports wrong types with the path', () => {
    const doc = base()
    doc.namedCredentials.Api!.timeoutMs = 'ten'
    doc.namedCredentials.Api!.enabled = 'yes'
    const { issues } = invalid(doc)
    expect(issues.map((i) => i.path).sort()).toEqual([
      'namedCredentials.Api.enabled',
      'namedCredentials.Api.timeoutMs',
    ])
    expect(issues.find((i) => i.path.endsWith('timeoutMs'))?.message).toContain(
      'must be a number, not a string',
    )
  })

  it('reports a missing required field', () => {
    const doc = base()
    delete doc.namedCredentials.Api!.url
    expect(issueAt(doc, 'namedCredentials.Api.url')).toContain('is required')
  })

  it('rejects an unknown key, naming it and the closest valid key', () => {
    const doc = base()
    doc.authProviders.Idp!.consumerSecrt = 'x'
    doc.namedCredentials.Api!.timeoutMS = 5
    const { issues } = invalid(doc)
    expect(issues).toContainEqual({
      path: 'authProviders.Idp.consumerSecrt',
      message: 'is not a known key — did you mean "consumerSecret"?',
    })
    expect(issues).toContainEqual({
      path: 'namedCredentials.Api.timeoutMS',
      message: 'is not a known key — did you mean "timeoutMs"?',
    })
  })

  it('rejects an unknown top-level section', () => {
    expect(issueAt({ ...base(), namedCredential: {} }, 'namedCredential')).toContain(
      'did you mean "namedCredentials"?',
    )
  })

  it.each([
    '1Api',
    'my-api',
    'Api.v2',
    '',
    '__proto__',
    'a b',
    'Ä',
    'x'.repeat(DEFAULTS.maxNameLength + 1),
  ])('rejects the bad name %j', (name) => {
    const doc = base()
    doc.namedCredentials = JSON.parse(
      JSON.stringify({ [name]: doc.namedCredentials.Api }),
    ) as Entries
    const { issues } = invalid(doc)
    expect(
      issues.some((i) => i.path.startsWith('namedCredentials') && i.message.includes('name')),
    ).toBe(true)
  })

  it('accepts prototype-looking names as plain names', () => {
    const doc = base()
    doc.namedCredentials = {
      constructor: doc.namedCredentials.Api!,
      toString: doc.namedCredentials.Api!,
    }
    const defs = parse(doc)
    expect([...defs.namedCredentials.keys()]).toEqual(['constructor', 'toString'])
    expect(({} as Record<string, unknown>).url).toBeUndefined()
  })

  it('suggests the closest enum value', () => {
    const doc = base()
    doc.externalCredentials.ApiAuth!.flow = 'client_credentials'
    expect(issueAt(doc, 'externalCredentials.ApiAuth.flow')).toContain(
      'did you mean "client-credentials"?',
    )
  })

  it('checks timeoutMs is 1..120000', () => {
    for (const [value, ok] of [
      [0, false],
      [1, true],
      [DEFAULTS.maxTimeoutMs, true],
      [DEFAULTS.maxTimeoutMs + 1, false],
      [1.5, false],
    ] as const) {
      const doc = base()
      doc.namedCredentials.Api!.timeoutMs = value
      if (ok) expect(parse(doc).namedCredentials.get('Api')?.timeoutMs).toBe(value)
      else issueAt(doc, 'namedCredentials.Api.timeoutMs')
    }
  })

  it('checks additional refresh status codes: 4xx and 6xx–999 only, deduplicated and sorted', () => {
    for (const bad of [200, 302, 399, 500, 503, 1000]) {
      const doc = base()
      doc.externalCredentials.ApiAuth!.additionalRefreshStatusCodes = [bad]
      issueAt(doc, 'externalCredentials.ApiAuth.additionalRefreshStatusCodes[0]')
    }
    const doc = base()
    doc.externalCredentials.ApiAuth!.additionalRefreshStatusCodes = [601, 400, 403, 400, 999]
    expect(parse(doc).externalCredentials.get('ApiAuth')?.additionalRefreshStatusCodes).toEqual([
      400, 403, 601, 999,
    ])
  })

  it('property: any string as a name either validates or fails with CONFIG_INVALID', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 90 }), (name) => {
        const doc = { externalCredentials: { [name]: { protocol: 'none' } } }
        const valid = NAME_PATTERN.test(name) && name.length <= DEFAULTS.maxNameLength
        try {
          const defs = parse(JSON.parse(JSON.stringify(doc)) as object)
          return valid && defs.externalCredentials.has(name)
        } catch (error) {
          return !valid && isCalloutError(error, 'CONFIG_INVALID')
        }
      }),
      { numRuns: 300 },
    )
  })
})

describe('URL rules', () => {
  it('rejects http:// to a public host, with the switch named in the fix', () => {
    const doc = base()
    doc.namedCredentials.Api!.url = 'http://api.example.com/v1'
    expect(issueAt(doc, 'namedCredentials.Api.url')).toContain('allowInsecureHttp: true')
  })

  it('allows http:// to loopback hosts without a warning', () => {
    for (const url of [
      'http://127.0.0.1:8080/x',
      'http://localhost:3000',
      'http://[::1]:9000',
      'http://127.5.6.7',
    ]) {
      const warnings: ConfigWarning[] = []
      const doc = base()
      doc.namedCredentials.Api!.url = url
      expect(
        parse(doc, (w) => warnings.push(w)).namedCredentials.get('Api')?.allowInsecureHttp,
      ).toBe(false)
      expect(warnings).toEqual([])
    }
  })

  it('allows http:// to a public host with allowInsecureHttp, and warns', () => {
    const warnings: ConfigWarning[] = []
    const doc = base()
    doc.namedCredentials.Api!.url = 'http://api.example.com/v1'
    doc.namedCredentials.Api!.allowInsecureHttp = true
    const nc = parse(doc, (w) => warnings.push(w)).namedCredentials.get('Api')
    expect(nc?.url).toBe('http://api.example.com/v1')
    expect(nc?.allowInsecureHttp).toBe(true)
    expect(warnings.map((w) => w.path)).toEqual(['namedCredentials.Api.url'])
  })

  it('rejects http:// provider endpoints unless allowed on that provider', () => {
    const doc = base()
    doc.authProviders.Idp!.tokenUrl = 'http://idp.example.com/token'
    issueAt(doc, 'authProviders.Idp.tokenUrl')
    doc.authProviders.Idp!.allowInsecureHttp = true
    expect(parse(doc).authProviders.get('Idp')?.tokenUrl).toBe('http://idp.example.com/token')
  })

  it.each([
    ['https://api.example.com/v1?x=1', 'query'],
    ['https://user:pw@api.example.com', 'userinfo'],
    ['https://api.example.com/#frag', 'fragment'],
    ['ftp://api.example.com', 'scheme'],
    ['api.example.com', 'absolute'],
    ['https://api.example.com/a b', 'whitespace'],
  ])('rejects the Named Credential URL %s (%s)', (url, word) => {
    const doc = base()
    doc.namedCredentials.Api!.url = url
    expect(issueAt(doc, 'namedCredentials.Api.url')).toContain(word)
  })

  it('never echoes userinfo from a URL', () => {
    const doc = base()
    doc.namedCredentials.Api!.url = 'https://user:hunter2pw@api.example.com'
    const { error } = invalid(doc)
    expect(JSON.stringify({ m: error.message, d: error.details })).not.toContain('hunter2pw')
  })

  it('normalises a trailing slash away', () => {
    for (const [url, expected] of [
      ['https://api.example.com/v1/', 'https://api.example.com/v1'],
      ['https://api.example.com/', 'https://api.example.com'],
      ['https://API.example.com:443', 'https://api.example.com'],
    ]) {
      const doc = base()
      doc.namedCredentials.Api!.url = url
      expect(parse(doc).namedCredentials.get('Api')?.url).toBe(expected)
    }
  })

  it('checks allowedHosts', () => {
    const doc = base()
    doc.namedCredentials.Api!.allowedHosts = [
      'EU.example.com',
      'api.example.com:8443',
      'https://x.com',
      'h:99999',
    ]
    const { issues } = invalid(doc)
    expect(issues.map((i) => i.path)).toEqual([
      'namedCredentials.Api.allowedHosts[2]',
      'namedCredentials.Api.allowedHosts[3]',
    ])
    doc.namedCredentials.Api!.allowedHosts = ['EU.example.com', 'api.example.com:8443']
    expect(parse(doc).namedCredentials.get('Api')?.allowedHosts).toEqual([
      'eu.example.com',
      'api.example.com:8443',
    ])
  })
})

describe('plain http', () => {
  it('is allowed for literal loopback hosts and localhost, not for *.localhost', () => {
    for (const url of ['http://127.0.0.1:8080', 'http://[::1]:8080', 'http://localhost:8080']) {
      const doc = base()
      doc.namedCredentials.Api!.url = url
      expect(parse(doc).namedCredentials.get('Api')?.url).toBe(url)
    }
    const doc = base()
    doc.namedCredentials.Api!.url = 'http://api.localhost:8080'
    expect(invalid(doc).issues.map((i) => i.path)).toEqual(['namedCredentials.Api.url'])
  })
})

describe('trustedInstanceHosts', () => {
  it('is checked, lower-cased, and only for type salesforce', () => {
    const doc = base()
    doc.authProviders.Sf = {
      type: 'salesforce',
      consumerKey: 'client',
      consumerSecret: 'sec',
      loginUrl: 'https://login.salesforce.com',
      trustedInstanceHosts: ['Acme.My.Salesforce.com', '*.force.com', 'https://x.com', 'h:443'],
    }
    expect(invalid(doc).issues.map((i) => i.path)).toEqual([
      'authProviders.Sf.trustedInstanceHosts[2]',
      'authProviders.Sf.trustedInstanceHosts[3]',
    ])
    doc.authProviders.Sf.trustedInstanceHosts = ['Acme.My.Salesforce.com', '*.force.com']
    expect(parse(doc).authProviders.get('Sf')?.trustedInstanceHosts).toEqual([
      'acme.my.salesforce.com',
      '*.force.com',
    ])
    doc.authProviders.Idp!.trustedInstanceHosts = ['*.force.com']
    expect(invalid(doc).issues.map((i) => i.path)).toEqual([
      'authProviders.Idp.trustedInstanceHosts',
    ])
  })
})

describe('cross-references and protocol rules', () => {
  it('NamedCredential → unknown ExternalCredential', () => {
    const doc = base()
    doc.namedCredentials.Api!.externalCredential = 'Nope'
    expect(issueAt(doc, 'namedCredentials.Api.externalCredential')).toContain('Nope')
  })

  it('NamedCredential without externalCredential or legacy fields', () => {
    const doc = base()
    delete doc.namedCredentials.Api!.externalCredential
    issueAt(doc, 'namedCredentials.Api.externalCredential')
  })

  it('ExternalCredential → unknown AuthProvider', () => {
    const doc = base()
    doc.externalCredentials.ApiAuth!.authProvider = 'Ghost'
    expect(issueAt(doc, 'externalCredentials.ApiAuth.authProvider')).toContain('Ghost')
  })

  it('oauth2 needs a flow and an authProvider', () => {
    const doc = base()
    delete doc.externalCredentials.ApiAuth!.flow
    delete doc.externalCredentials.ApiAuth!.authProvider
    const { issues } = invalid(doc)
    expect(issues.map((i) => i.path).sort()).toEqual([
      'externalCredentials.ApiAuth.authProvider',
      'externalCredentials.ApiAuth.flow',
    ])
  })

  it('oauth2-only fields are refused on other protocols', () => {
    issueAt(
      { externalCredentials: { E: { protocol: 'none', flow: 'browser' } } },
      'externalCredentials.E.flow',
    )
  })

  it('jwt-bearer needs a privateKey secret and a subject', () => {
    const doc = base()
    doc.externalCredentials.ApiAuth!.flow = 'jwt-bearer'
    const { issues } = invalid(doc)
    expect(issues.map((i) => i.path).sort()).toEqual([
      'externalCredentials.ApiAuth.principals.Service.parameters.username',
      'externalCredentials.ApiAuth.principals.Service.secrets.privateKey',
    ])
    doc.externalCredentials.ApiAuth!.principals = {
      Service: {
        type: 'named',
        parameters: { username: 'u@x' },
        secrets: { privateKey: 'not a pem' },
      },
    }
    expect(
      issueAt(doc, 'externalCredentials.ApiAuth.principals.Service.secrets.privateKey'),
    ).toContain('PEM')
    doc.externalCredentials.ApiAuth!.principals = {
      Service: { type: 'named', parameters: { username: 'u@x' }, secrets: { privateKey: PEM } },
    }
    expect(parse(doc).externalCredentials.get('ApiAuth')?.jwt?.validitySeconds).toBe(
      DEFAULTS.jwtValiditySeconds,
    )
  })

  it('jwt-bearer refuses HS256: it signs with a private key', () => {
    const doc = base()
    doc.externalCredentials.ApiAuth!.flow = 'jwt-bearer'
    doc.externalCredentials.ApiAuth!.jwt = { algorithm: 'HS256' }
    doc.externalCredentials.ApiAuth!.principals = {
      Service: { type: 'named', parameters: { username: 'u@x' }, secrets: { privateKey: PEM } },
    }
    expect(issueAt(doc, 'externalCredentials.ApiAuth.jwt.algorithm')).toContain('RS256')
  })

  it('protocol jwt needs a privateKey for RS256/ES256 and a sharedSecret of ≥ 32 bytes for HS256', () => {
    const ec = (jwt: object | undefined, secrets: Record<string, string>) => ({
      externalCredentials: {
        J: {
          protocol: 'jwt',
          ...(jwt === undefined ? {} : { jwt }),
          principals: { P: { type: 'named', secrets } },
        },
      },
    })
    expect(
      issueAt(ec(undefined, {}), 'externalCredentials.J.principals.P.secrets.privateKey'),
    ).toContain('for protocol jwt')
    const hs = { algorithm: 'HS256' }
    const { issues } = invalid(ec(hs, { privateKey: PEM }))
    expect(issues.map((i) => i.path)).toEqual([
      'externalCredentials.J.principals.P.secrets.sharedSecret',
    ])
    expect(
      issueAt(
        ec(hs, { sharedSecret: 'x'.repeat(31) }),
        'externalCredentials.J.principals.P.secrets.sharedSecret',
      ),
    ).toContain('32 bytes')
    const ok = parse(ec(hs, { sharedSecret: 'é'.repeat(16) })) // 32 UTF-8 bytes
    expect(ok.externalCredentials.get('J')?.jwt?.algorithm).toBe('HS256')
    expect(ok.externalCredentials.get('J')?.principals[0]?.secrets.privateKey).toBeUndefined()
  })
  it('basic needs username and password on a named principal', () => {
    const doc = {
      externalCredentials: { B: { protocol: 'basic', principals: { P: { type: 'named' } } } },
    }
    const { issues } = invalid(doc)
    expect(issues.map((i) => i.path).sort()).toEqual([
      'externalCredentials.B.principals.P.parameters.username',
      'externalCredentials.B.principals.P.secrets.password',
    ])
  })

  it('the password flow needs username and password, and warns', () => {
    const doc = base()
    doc.externalCredentials.ApiAuth!.flow = 'password'
    issueAt(doc, 'externalCredentials.ApiAuth.principals.Service.secrets.password')
    doc.externalCredentials.ApiAuth!.principals = {
      Service: { type: 'named', parameters: { username: 'u' }, secrets: { password: 'p' } },
    }
    const warnings: ConfigWarning[] = []
    parse(doc, (w) => warnings.push(w))
    expect(warnings.map((w) => w.path)).toEqual(['externalCredentials.ApiAuth.flow'])
  })

  it('client-credentials refuses per-user principals', () => {
    const doc = base()
    doc.externalCredentials.ApiAuth!.principals = { Users: { type: 'per-user' } }
    issueAt(doc, 'externalCredentials.ApiAuth.principals.Users.type')
  })

  it('a protocol other than none needs a principal', () => {
    issueAt(
      { externalCredentials: { C: { protocol: 'custom' } } },
      'externalCredentials.C.principals',
    )
  })

  it('parameter and secret names may not collide', () => {
    issueAt(
      {
        externalCredentials: {
          C: {
            protocol: 'custom',
            principals: { P: { type: 'named', parameters: { key: 'a' }, secrets: { key: 'b' } } },
          },
        },
      },
      'externalCredentials.C.principals.P.secrets.key',
    )
  })

  it('aws-sigv4 needs sigv4 settings and keys', () => {
    const { issues } = invalid({
      externalCredentials: { A: { protocol: 'aws-sigv4', principals: { P: { type: 'named' } } } },
    })
    expect(issues.map((i) => i.path).sort()).toEqual([
      'externalCredentials.A.principals.P.parameters.accessKeyId',
      'externalCredentials.A.principals.P.secrets.secretAccessKey',
      'externalCredentials.A.sigv4',
    ])
  })

  it('salesforce needs loginUrl; oidc needs issuer; oauth2 needs tokenUrl', () => {
    const { issues } = invalid({
      authProviders: {
        Sf: { type: 'salesforce', consumerKey: 'k' },
        Oidc: { type: 'oidc', consumerKey: 'k' },
        Plain: { type: 'oauth2', consumerKey: 'k' },
      },
    })
    expect(issues.map((i) => i.path).sort()).toEqual([
      'authProviders.Oidc.issuer',
      'authProviders.Plain.tokenUrl',
      'authProviders.Sf.loginUrl',
    ])
  })

  it('salesforce explicit endpoints win over the login host defaults; My Domain with a trailing slash', () => {
    const defs = parse({
      authProviders: {
        Sf: {
          type: 'salesforce',
          consumerKey: 'k',
          loginUrl: 'https://acme.my.salesforce.com/',
          authorizeUrl: 'https://sso.acme.example/authorize',
        },
      },
    })
    expect(defs.authProviders.get('Sf')).toMatchObject({
      loginUrl: 'https://acme.my.salesforce.com',
      authorizeUrl: 'https://sso.acme.example/authorize',
      tokenUrl: 'https://acme.my.salesforce.com/services/oauth2/token',
      clientAuth: 'none',
    })
  })

  it('clientAuth requires the matching credential', () => {
    const { issues } = invalid({
      authProviders: {
        A: {
          type: 'oauth2',
          consumerKey: 'k',
          tokenUrl: 'https://t.example.com',
          clientAuth: 'client_secret_basic',
        },
        B: {
          type: 'oauth2',
          consumerKey: 'k',
          tokenUrl: 'https://t.example.com',
          clientAuth: 'private_key_jwt',
        },
      },
    })
    expect(issues.map((i) => i.path).sort()).toEqual([
      'authProviders.A.consumerSecret',
      'authProviders.B.clientPrivateKey',
    ])
  })

  it('headers: mapping or list form, sequence defaults, CR/LF refused, duplicates refused', () => {
    const doc = base()
    doc.namedCredentials.Api!.headers = {
      'X-Api-Key': '{!$Credential.ApiAuth.key}',
      Accept: 'application/json',
    }
    expect(parse(doc).namedCredentials.get('Api')?.headers).toEqual([
      { name: 'X-Api-Key', formula: '{!$Credential.ApiAuth.key}', sequence: 1 },
      { name: 'Accept', formula: 'application/json', sequence: 2 },
    ])
    doc.namedCredentials.Api!.headers = [{ name: 'X-A', formula: 'a\r\nInjected: 1' }]
    issueAt(doc, 'namedCredentials.Api.headers[0].formula')
    doc.namedCredentials.Api!.headers = [{ name: 'Bad Header', formula: 'a' }]
    issueAt(doc, 'namedCredentials.Api.headers[0].name')
    doc.namedCredentials.Api!.headers = [
      { name: 'X-A', formula: 'a' },
      { name: 'x-a', formula: 'b' },
    ]
    issueAt(doc, 'namedCredentials.Api.headers[1].name')
  })

  it('lists every problem at once, one per line', () => {
    const doc = base()
    doc.namedCredentials.Api!.url = 'http://api.example.com/?q'
    doc.namedCredentials.Api!.externalCredential = 'Nope'
    doc.externalCredentials.ApiAuth!.authProvider = 'Ghost'
    const { error, issues } = invalid(doc)
    expect(issues.length).toBeGreaterThanOrEqual(4)
    expect(error.message.split('\n')).toHaveLength(issues.length + 1)
  })
})
