/**
 * `callout export` round-trips: `apply → export → apply` in the same environment changes nothing,
 * with the secrets' own reference names, for the shipped example and for a config with many
 * secret references; a definition stored without reference names still exports, with generated
 * names listed on stderr.
 */
import { generateKeyPairSync } from 'node:crypto'
import { copyFileSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { comparable } from '../../src/definitions/comparable.test-helper.ts'
import { parseConfig, type Definitions } from '../../src/definitions/index.ts'
import { Secret } from '../../src/secrets/secret.ts'
import { openStore } from '../../src/store/index.ts'
import { rawSqlite } from '../helpers/raw-sql.ts'
import { runCli, spawnCli, tempHome, writeText, type CliRun, type TempHome } from './helpers.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/callout.yaml', import.meta.url))

const pem = (): string =>
  generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString()

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'

/** Several secret references of every kind, and settings away from their defaults. */
const MANY_REFERENCES = `
version: 1
authProviders:
  Idp:
    type: oauth2
    tokenUrl: https://idp.example.com/oauth/token
    consumerKey: client-1
    consumerSecret: \${env:API_CLIENT_SECRET}
    usePkce: false
  Sf:
    type: salesforce
    loginUrl: https://login.salesforce.com
    consumerKey: 3MVG9example
    consumerSecret: \${env:SF_CONSUMER_SECRET}
externalCredentials:
  ApiAuth:
    protocol: oauth2
    flow: client-credentials
    authProvider: Idp
    scope: api:read
    principals:
      Service: { type: named }
  SfJwt:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: Sf
    jwt: { validitySeconds: 120 }
    principals:
      Integration:
        type: named
        parameters: { username: int@acme.example }
        secrets: { privateKey: '\${file:keys/jwt.pem}' }
  Keyed:
    protocol: custom
    authHeaders:
      X-Api-Key: '{!$Credential.Keyed.apiKey}'
      X-Literal: "'cost $\${5}'"
    principals:
      Primary: { type: named, secrets: { apiKey: '\${env:WEATHER_API_KEY}' } }
      Backup: { type: named, sequence: 9, secrets: { apiKey: '\${env:WEATHER_API_KEY}' } }
namedCredentials:
  Api:
    url: https://api.example.com/v1
    externalCredential: ApiAuth
    timeoutMs: 30000
    redirects: manual
    clientCertificate:
      cert: '${CERT.replaceAll('\n', '\\n')}'
      key: '\${file:keys/client.key}'
      passphrase: \${env:CLIENT_KEY_PASSPHRASE}
  Sf: { url: https://acme.my.salesforce.com, externalCredential: SfJwt, label: Target org }
  Weather: { url: https://weather.example.com, externalCredential: Keyed }
  Erp:
    url: https://erp.example.com/api/
    identityType: named-principal
    protocol: password
    username: svc-callout
    password: \${env:ERP_PASSWORD}
`.replace(`'${CERT.replaceAll('\n', '\\n')}'`, JSON.stringify(CERT))

const SECRETS = {
  API_CLIENT_SECRET: 'canary-api-client-secret',
  SF_CONSUMER_SECRET: 'canary-sf-consumer-secret',
  WEATHER_API_KEY: 'canary-weather-key',
  CLIENT_KEY_PASSPHRASE: 'canary-passphrase',
  ERP_PASSWORD: 'canary-erp-password',
}

/** The counts line of `callout apply`. */
function counts(run: CliRun): string {
  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  return /: (\d+ created, \d+ updated, \d+ unchanged, \d+ deleted)$/m.exec(run.stdout)?.[1] ?? ''
}

describe('callout export round-trips', () => {
  let t: TempHome
  let env: Record<string, string | undefined>
  beforeEach(async () => {
    t = await tempHome()
    env = { ...t.env, ...SECRETS }
    expect((await runCli(['init'], env)).code).toBe(0)
    await mkdir(join(t.dir, 'keys'))
    await writeText(t.dir, 'keys/jwt.pem', pem())
    await writeText(t.dir, 'keys/client.key', pem())
  })
  afterEach(async () => {
    await t.remove()
  })

  it('a config with many secret references: apply → export → apply changes nothing', async () => {
    await writeText(t.dir, 'callout.yaml', MANY_REFERENCES)
    const cwd = { cwd: t.dir }
    expect(counts(await runCli(['apply', '-f', 'callout.yaml'], env, cwd))).toBe(
      '10 created, 0 updated, 0 unchanged, 0 deleted',
    )
    const exported = await runCli(['export', '-o', 'exported.yaml'], env, cwd)
    expect(exported.stderr).toBe('')
    expect(exported.code).toBe(0)
    const text = await readFile(join(t.dir, 'exported.yaml'), 'utf8')
    // The config's own names, in the same shell; nothing generated, no secret, no default.
    for (const name of Object.keys(SECRETS)) expect(text).toContain(`\${env:${name}}`)
    expect(text).toContain('${file:keys/jwt.pem}')
    expect(text).toContain('${file:keys/client.key}')
    expect(text).not.toContain('CALLOUT_')
    for (const value of [...Object.values(SECRETS), 'PRIVATE KEY'])
      expect(text).not.toContain(value)
    for (const fallback of [
      'enabled:',
      'generateAuthorizationHeader',
      'allowInsecureHttp',
      'tokenUrl: https://login',
    ])
      expect(text).not.toContain(fallback)
    expect(text).toContain('usePkce: false')
    expect(text).toContain('timeoutMs: 30000')

    expect(counts(await runCli(['apply', '-f', 'exported.yaml'], env, cwd))).toBe(
      '0 created, 0 updated, 10 unchanged, 0 deleted',
    )
    // A second export writes the same file: export is a fixed point.
    const again = await runCli(['export'], env, cwd)
    expect(again.stdout).toBe(text)

    // Exported into another folder, file references still name the same files.
    await mkdir(join(t.dir, 'elsewhere'))
    expect((await runCli(['export', '-o', 'elsewhere/out.yaml'], env, cwd)).code).toBe(0)
    const moved = await readFile(join(t.dir, 'elsewhere', 'out.yaml'), 'utf8')
    expect(moved).toContain(`\${file:${join(t.dir, 'keys', 'jwt.pem')}}`)
    expect(
      counts(await runCli(['apply', '-f', 'out.yaml'], env, { cwd: join(t.dir, 'elsewhere') })),
    ).toBe('0 created, 0 updated, 10 unchanged, 0 deleted')
  })

  it('a renamed reference is a change, and the stored name is covered by the row integrity tag', async () => {
    await writeText(t.dir, 'callout.yaml', MANY_REFERENCES)
    const cwd = { cwd: t.dir }
    counts(await runCli(['apply', '-f', 'callout.yaml'], env, cwd))
    await writeText(
      t.dir,
      'renamed.yaml',
      MANY_REFERENCES.replace('${env:API_CLIENT_SECRET}', '${env:IDP_SECRET}'),
    )
    expect(
      counts(
        await runCli(
          ['apply', '-f', 'renamed.yaml'],
          { ...env, IDP_SECRET: SECRETS.API_CLIENT_SECRET },
          cwd,
        ),
      ),
    ).toBe('0 created, 1 updated, 9 unchanged, 0 deleted')
    expect((await runCli(['export'], env, cwd)).stdout).toContain('${env:IDP_SECRET}')

    // Someone with database access but no master key renames the reference: refused.
    rawSqlite(
      join(t.home, 'callout.db'),
      `UPDATE auth_providers SET definition = replace(definition, 'IDP_SECRET', 'STOLEN') WHERE name = 'Idp'`,
    )
    const tampered = await runCli(['export'], env, cwd)
    expect(tampered.code).toBe(1)
    expect(tampered.stderr).toMatch(/^error STORE_TAMPERED: .*authProvider Idp/)
    expect(tampered.stdout).toBe('')
  })

  it('definitions stored without reference names export with generated names, listed on stderr', async () => {
    // What a Callout before reference names (or the library with inline secrets) stored.
    const parsed = parseConfig(MANY_REFERENCES, { env, baseDir: t.dir, onWarning: () => {} })
    const defs = withoutReferences(parsed)
    expect(JSON.stringify(comparable(defs))).toBe(JSON.stringify(comparable(parsed)))
    const store = await openStore({ home: t.home, env })
    try {
      await store.applyDefinitions(defs)
    } finally {
      await store.close()
    }
    const cwd = { cwd: t.dir }
    const exported = await runCli(['export', '-o', 'exported.yaml'], env, cwd)
    expect(exported.code).toBe(0)
    const generated = [...exported.stderr.matchAll(/^ {2}(CALLOUT_\w+) {2}\((\S+)\)$/gm)].map(
      (m) => m[1]!,
    )
    expect(generated).toContain('CALLOUT_AUTH_PROVIDER_IDP_CONSUMER_SECRET')
    expect(generated).toContain('CALLOUT_NAMED_CREDENTIAL_API_CLIENT_CERTIFICATE_PASSPHRASE')
    expect(exported.stderr).toMatch(
      /^note: 8 secrets were stored without the name of the reference they were read from/,
    )
    expect(exported.stderr).not.toMatch(/canary/)
    const text = await readFile(join(t.dir, 'exported.yaml'), 'utf8')
    for (const name of generated) expect(text).toContain(`\${env:${name}}`)
    expect(text).not.toContain('${file:')

    // With the generated variables set to the same values, the file applies; the first apply
    // stores the reference names (an update of each definition with secrets), the next is a no-op.
    const values = new Map<string, string>()
    const pemByFile = {
      CALLOUT_EXTERNAL_CREDENTIAL_SF_JWT_INTEGRATION_PRIVATE_KEY: 'keys/jwt.pem',
      CALLOUT_NAMED_CREDENTIAL_API_CLIENT_CERTIFICATE_KEY: 'keys/client.key',
    }
    for (const name of generated) {
      const file = pemByFile[name as keyof typeof pemByFile]
      values.set(
        name,
        file !== undefined
          ? (await readFile(join(t.dir, file), 'utf8')).trimEnd()
          : secretFor(name),
      )
    }
    const targetEnv = { ...t.env, ...Object.fromEntries(values) }
    expect(counts(await runCli(['apply', '-f', 'exported.yaml'], targetEnv, cwd))).toBe(
      '0 created, 6 updated, 4 unchanged, 0 deleted',
    )
    await runCli(['export', '-o', 'again.yaml'], targetEnv, cwd)
    expect(counts(await runCli(['apply', '-f', 'again.yaml'], targetEnv, cwd))).toBe(
      '0 created, 0 updated, 10 unchanged, 0 deleted',
    )
  })
})

/** The definitions with every Secret replaced by one of the same value and no reference. */
function withoutReferences(defs: Definitions): Definitions {
  const strip = (value: unknown): unknown => {
    if (value instanceof Secret) return new Secret(value.reveal())
    if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, strip(v)]))
    if (Array.isArray(value)) return value.map(strip)
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strip(v)]))
    return value
  }
  return strip(defs) as Definitions
}

/** The canary value behind a generated variable, by the field it names. */
function secretFor(generated: string): string {
  if (generated.includes('IDP')) return SECRETS.API_CLIENT_SECRET
  if (generated.includes('AUTH_PROVIDER_SF')) return SECRETS.SF_CONSUMER_SECRET
  if (generated.includes('KEYED')) return SECRETS.WEATHER_API_KEY
  if (generated.includes('PASSPHRASE')) return SECRETS.CLIENT_KEY_PASSPHRASE
  if (generated.includes('ERP')) return SECRETS.ERP_PASSWORD
  throw new Error(`no value for ${generated}`)
}

describe('examples/callout.yaml round-trips through the real bin', () => {
  let t: TempHome
  beforeEach(async () => {
    t = await tempHome()
  })
  afterEach(async () => {
    await t.remove()
  })

  it('apply → export → apply: the second apply changes nothing', async () => {
    const env = {
      ...t.env,
      SF_CONSUMER_KEY: '3MVG9example',
      SF_CONSUMER_SECRET: 'canary-sf-secret',
      IDP_CLIENT_ID: 'callout',
      IDP_CLIENT_SECRET: 'canary-idp-secret',
      WEATHER_API_KEY: 'canary-weather-key',
      ERP_PASSWORD: 'canary-erp-password',
    }
    copyFileSync(EXAMPLE, join(t.dir, 'callout.yaml'))
    await mkdir(join(t.dir, 'keys'))
    await writeText(t.dir, 'keys/sf-integration.key', pem())
    const cwd = { cwd: t.dir }
    expect((await runCli(['init'], env, cwd)).code).toBe(0)
    expect(counts(await runCli(['apply', '-f', 'callout.yaml'], env, cwd))).toMatch(
      /^(\d+) created, 0 updated, 0 unchanged, 0 deleted$/,
    )
    const exported = await spawnCli(['export', '-o', 'exported.yaml'], env, cwd)
    expect(exported.stderr).toBe('')
    const text = await readFile(join(t.dir, 'exported.yaml'), 'utf8')
    for (const name of [
      'SF_CONSUMER_SECRET',
      'IDP_CLIENT_SECRET',
      'WEATHER_API_KEY',
      'ERP_PASSWORD',
    ])
      expect(text).toContain(`\${env:${name}}`)
    expect(text).toContain('${file:keys/sf-integration.key}')
    expect(text).not.toMatch(/canary|CALLOUT_/)
    const second = counts(await spawnCli(['apply', '-f', 'exported.yaml'], env, cwd))
    expect(second).toMatch(/^0 created, 0 updated, (\d+) unchanged, 0 deleted$/)
    expect(second).not.toMatch(/ 0 unchanged/)
  })
})
