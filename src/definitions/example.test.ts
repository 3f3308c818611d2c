import { generateKeyPairSync } from 'node:crypto'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfigFile } from './config-file.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/callout.yaml', import.meta.url))
const ENV = {
  SF_CONSUMER_KEY: '3MVG9example',
  SF_CONSUMER_SECRET: 'sf-secret',
  IDP_CLIENT_ID: 'callout',
  IDP_CLIENT_SECRET: 'idp-secret',
  WEATHER_API_KEY: 'weather-key',
  ERP_PASSWORD: 'erp-password',
}
const dir = mkdtempSync(join(tmpdir(), 'callout-example-'))
beforeAll(() => {
  copyFileSync(EXAMPLE, join(dir, 'callout.yaml'))
  mkdirSync(join(dir, 'keys'))
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  })
  writeFileSync(join(dir, 'keys', 'sf-integration.key'), pem)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('examples/callout.yaml', () => {
  it('parses with its environment variables and key file in place', async () => {
    const warnings: unknown[] = []
    const defs = await loadConfigFile(join(dir, 'callout.yaml'), {
      env: ENV,
      onWarning: (w) => warnings.push(w),
    })
    expect([...defs.namedCredentials.keys()]).toEqual([
      'Salesforce',
      'SalesforceAsUser',
      'Api',
      'Weather',
      'LegacyErp',
      'LocalMock',
    ])
    expect([...defs.externalCredentials.keys()]).toEqual([
      'SfJwt',
      'SfBrowser',
      'ApiAuth',
      'WeatherKey',
      'LegacyErp_Auth',
      'LocalMock_Auth',
    ])
    expect(defs.namedCredentials.get('LegacyErp')?.url).toBe('https://erp.example.com/api')
    expect(
      defs.externalCredentials.get('WeatherKey')?.principals[0]?.secrets.apiKey?.reveal(),
    ).toBe('weather-key')
    expect(warnings).toEqual([])
  })

  it('fails with CONFIG_REFERENCE_MISSING when a variable is not set', async () => {
    const { SF_CONSUMER_SECRET: _omitted, ...partial } = ENV
    await expect(loadConfigFile(join(dir, 'callout.yaml'), { env: partial })).rejects.toMatchObject(
      {
        code: 'CONFIG_REFERENCE_MISSING',
        details: {
          references: [
            {
              reference: '${env:SF_CONSUMER_SECRET}',
              path: 'authProviders.SfTarget.consumerSecret',
            },
          ],
        },
      },
    )
  })
})
