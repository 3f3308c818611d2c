import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml, stringify } from 'yaml'
import { parseConfig } from './config-file.ts'
import { exportDefinitions, exportSecrets, upperSnake } from './export.ts'
import { comparable } from './comparable.test-helper.ts'

const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString()

const SOURCE = {
  authProviders: {
    SfTarget: {
      type: 'salesforce',
      loginUrl: 'https://login.salesforce.com',
      consumerKey: '3MVG9',
      consumerSecret: 'sf-secret',
      defaultScopes: 'api refresh_token',
    },
    Idp: {
      type: 'oidc',
      issuer: 'https://idp.example.com/',
      consumerKey: 'k',
      clientPrivateKey: PEM,
    },
  },
  externalCredentials: {
    SfAuth: {
      protocol: 'oauth2',
      flow: 'jwt-bearer',
      authProvider: 'SfTarget',
      additionalRefreshStatusCodes: [403],
      jwt: { audience: ['https://login.salesforce.com'], validitySeconds: 120 },
      principals: {
        Integration: {
          type: 'named',
          parameters: { username: 'int@acme' },
          secrets: { privateKey: PEM },
        },
      },
    },
    Keyed: {
      protocol: 'custom',
      authHeaders: { 'X-Api-Key': '{!$Credential.Keyed.apiKey}' },
      principals: {
        Default: { type: 'named', secrets: { apiKey: 'key-123' } },
        Users: { type: 'per-user', sequence: 9 },
      },
    },
    Legacy_Auth: {
      protocol: 'basic',
      principals: {
        NamedPrincipal: {
          type: 'named',
          parameters: { username: 'u' },
          secrets: { password: 'p' },
        },
      },
    },
  },
  namedCredentials: {
    Sf: {
      url: 'https://acme.my.salesforce.com',
      externalCredential: 'SfAuth',
      label: 'Salesforce',
      timeoutMs: 30_000,
      allowedHosts: ['acme.my.salesforce.com'],
    },
    Keyed: {
      url: 'https://keyed.example.com/v2',
      externalCredential: 'Keyed',
      headers: [{ name: 'X-Literal', formula: 'cost $${5}', sequence: 3 }],
      clientCertificate: {
        cert: '-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----',
        key: PEM,
        passphrase: 'pass',
      },
    },
    Local: {
      url: 'http://127.0.0.1:8080',
      externalCredential: 'Legacy_Auth',
      enabled: false,
      redirects: 'manual',
    },
  },
}

describe('exportDefinitions', () => {
  it('names env vars CALLOUT_<KIND>_<NAME>_<FIELD> in upper snake case', () => {
    expect(upperSnake('SfTarget')).toBe('SF_TARGET')
    expect(upperSnake('privateKey')).toBe('PRIVATE_KEY')
    expect(upperSnake('HTTPServer2Key')).toBe('HTTP_SERVER2_KEY')
    expect(upperSnake('Legacy_Auth')).toBe('LEGACY_AUTH')
    const defs = parseConfig(SOURCE, { allowInlineSecrets: true })
    const exported = exportDefinitions(defs)
    expect(exported.authProviders.SfTarget?.consumerSecret).toBe(
      '${env:CALLOUT_AUTH_PROVIDER_SF_TARGET_CONSUMER_SECRET}',
    )
    expect(exportSecrets(defs).map((s) => [s.env, s.path])).toEqual([
      ['CALLOUT_AUTH_PROVIDER_SF_TARGET_CONSUMER_SECRET', 'authProviders.SfTarget.consumerSecret'],
      ['CALLOUT_AUTH_PROVIDER_IDP_CLIENT_PRIVATE_KEY', 'authProviders.Idp.clientPrivateKey'],
      [
        'CALLOUT_EXTERNAL_CREDENTIAL_SF_AUTH_INTEGRATION_PRIVATE_KEY',
        'externalCredentials.SfAuth.principals.Integration.secrets.privateKey',
      ],
      [
        'CALLOUT_EXTERNAL_CREDENTIAL_KEYED_DEFAULT_API_KEY',
        'externalCredentials.Keyed.principals.Default.secrets.apiKey',
      ],
      [
        'CALLOUT_EXTERNAL_CREDENTIAL_LEGACY_AUTH_NAMED_PRINCIPAL_PASSWORD',
        'externalCredentials.Legacy_Auth.principals.NamedPrincipal.secrets.password',
      ],
      [
        'CALLOUT_NAMED_CREDENTIAL_KEYED_CLIENT_CERTIFICATE_KEY',
        'namedCredentials.Keyed.clientCertificate.key',
      ],
      [
        'CALLOUT_NAMED_CREDENTIAL_KEYED_CLIENT_CERTIFICATE_PASSPHRASE',
        'namedCredentials.Keyed.clientCertificate.passphrase',
      ],
    ])
  })

  it('contains no secret value', () => {
    const defs = parseConfig(SOURCE, { allowInlineSecrets: true })
    const text = stringify(exportDefinitions(defs))
    for (const secret of ['sf-secret', 'key-123', 'pass\n', 'PRIVATE KEY'])
      expect(text).not.toContain(secret)
  })

  it('round-trips: export → YAML → parse with the env vars set → equal model', () => {
    const defs = parseConfig(SOURCE, { allowInlineSecrets: true })
    const yaml = stringify(exportDefinitions(defs))
    const env = Object.fromEntries(exportSecrets(defs).map((s) => [s.env, s.secret.reveal()]))
    const again = parseConfig(yaml, { format: 'yaml', env })
    expect(comparable(again)).toEqual(comparable(defs))
    // A literal ${ in a formula survives (escaped as $${ in the export).
    expect(
      again.namedCredentials.get('Keyed')?.headers.find((h) => h.name === 'X-Literal')?.formula,
    ).toBe('cost ${5}')
    expect(
      (parseYaml(yaml) as { namedCredentials: { Keyed: { headers: { formula: string }[] } } })
        .namedCredentials.Keyed.headers[0]?.formula,
    ).toBe('cost $${5}')
  })

  it('round-trips an empty set of definitions', () => {
    const defs = parseConfig({})
    expect(comparable(parseConfig(stringify(exportDefinitions(defs)), { format: 'yaml' }))).toEqual(
      comparable(defs),
    )
  })
})

describe('exportDefinitions keeps the references the definitions were applied from', () => {
  const REFERENCED = `
authProviders:
  Idp:
    type: oauth2
    tokenUrl: https://idp.example.com/token
    consumerKey: client-1
    consumerSecret: \${env:API_CLIENT_SECRET}
externalCredentials:
  Basic:
    protocol: basic
    principals:
      Main:
        type: named
        parameters: { username: u }
        secrets: { password: '\${file:secrets/pw.txt}' }
      Mixed:
        type: named
        sequence: 7
        parameters: { username: v }
        secrets: { password: 'pre-\${env:API_CLIENT_SECRET}' }
namedCredentials:
  Api: { url: https://api.example.com, externalCredential: Basic }
`
  const ENV = { API_CLIENT_SECRET: 'the-client-secret' }

  it('writes ${env:…} as written, ${file:…} relative to the export, and generates only for the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'callout-export-'))
    try {
      mkdirSync(join(dir, 'secrets'))
      writeFileSync(join(dir, 'secrets', 'pw.txt'), 'file-password\n')
      const defs = parseConfig(REFERENCED, { env: ENV, baseDir: dir })
      const exported = exportDefinitions(defs, { baseDir: dir })
      expect(exported.authProviders.Idp?.consumerSecret).toBe('${env:API_CLIENT_SECRET}')
      const principals = exported.externalCredentials.Basic?.principals as Record<
        string,
        { secrets: { password: string } }
      >
      expect(principals.Main?.secrets.password).toBe('${file:secrets/pw.txt}')
      // A value assembled from text and a reference names no single variable: one is generated.
      expect(principals.Mixed?.secrets.password).toBe(
        '${env:CALLOUT_EXTERNAL_CREDENTIAL_BASIC_MIXED_PASSWORD}',
      )
      expect(exportSecrets(defs, { baseDir: dir }).map((s) => [s.reference, s.generated])).toEqual([
        ['${env:API_CLIENT_SECRET}', false],
        ['${file:secrets/pw.txt}', false],
        ['${env:CALLOUT_EXTERNAL_CREDENTIAL_BASIC_MIXED_PASSWORD}', true],
      ])
      // From elsewhere, the file is named by its absolute path, so the export still resolves.
      const elsewhere = exportDefinitions(defs, {
        baseDir: '/nonexistent',
      })
      expect(
        (elsewhere.externalCredentials.Basic?.principals as typeof principals).Main?.secrets
          .password,
      ).toBe(`\${file:${join(dir, 'secrets', 'pw.txt')}}`)
      // Parsing the export in the same environment gives the same definitions.
      const env = {
        ...ENV,
        CALLOUT_EXTERNAL_CREDENTIAL_BASIC_MIXED_PASSWORD: 'pre-the-client-secret',
      }
      const again = parseConfig(stringify(exported), { env, baseDir: dir })
      expect(comparable(again)).toEqual(comparable(defs))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('never takes a name the config already uses for a generated one', () => {
    const defs = parseConfig(
      {
        authProviders: {
          A: {
            type: 'oauth2',
            tokenUrl: 'https://a.example.com/token',
            consumerKey: 'k',
            consumerSecret: '${env:CALLOUT_AUTH_PROVIDER_B_CONSUMER_SECRET}',
          },
          B: {
            type: 'oauth2',
            tokenUrl: 'https://b.example.com/token',
            consumerKey: 'k',
            consumerSecret: 'inline',
          },
        },
      },
      { env: { CALLOUT_AUTH_PROVIDER_B_CONSUMER_SECRET: 'a-secret' }, allowInlineSecrets: true },
    )
    expect(exportSecrets(defs).map((s) => s.reference)).toEqual([
      '${env:CALLOUT_AUTH_PROVIDER_B_CONSUMER_SECRET}',
      '${env:CALLOUT_AUTH_PROVIDER_B_CONSUMER_SECRET_2}',
    ])
  })

  it('leaves out every field at its default, and keeps the ones that are not', () => {
    const defs = parseConfig(SOURCE, { allowInlineSecrets: true })
    const exported = exportDefinitions(defs)
    expect(exported.authProviders.SfTarget).toEqual({
      type: 'salesforce',
      loginUrl: 'https://login.salesforce.com',
      consumerKey: '3MVG9',
      consumerSecret: '${env:CALLOUT_AUTH_PROVIDER_SF_TARGET_CONSUMER_SECRET}',
      defaultScopes: 'api refresh_token',
    })
    expect(exported.namedCredentials.Local).toEqual({
      url: 'http://127.0.0.1:8080',
      externalCredential: 'Legacy_Auth',
      enabled: false,
      redirects: 'manual',
    })
    expect(exported.namedCredentials.Sf).toEqual({
      label: 'Salesforce',
      url: 'https://acme.my.salesforce.com',
      externalCredential: 'SfAuth',
      timeoutMs: 30_000,
      allowedHosts: ['acme.my.salesforce.com'],
    })
    expect(exported.externalCredentials.SfAuth?.jwt).toEqual({
      audience: ['https://login.salesforce.com'],
      validitySeconds: 120,
    })
    expect(exported.externalCredentials.Keyed?.principals).toEqual({
      Default: {
        type: 'named',
        secrets: { apiKey: '${env:CALLOUT_EXTERNAL_CREDENTIAL_KEYED_DEFAULT_API_KEY}' },
      },
      Users: { type: 'per-user', sequence: 9 },
    })
    expect(exported.externalCredentials.Keyed?.authHeaders).toEqual([
      { name: 'X-Api-Key', formula: '{!$Credential.Keyed.apiKey}' },
    ])
    const text = stringify(exported)
    for (const fallback of [
      'usePkce',
      'allowInsecureHttp',
      'generateAuthorizationHeader',
      'tokenUrl',
    ])
      expect(text).not.toContain(fallback)
  })
})
