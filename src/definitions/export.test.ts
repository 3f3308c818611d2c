import { generateKeyPairSync } from 'node:crypto'
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
