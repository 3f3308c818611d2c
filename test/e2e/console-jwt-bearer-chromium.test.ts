/**
 * In real headless Chromium against the Salesforce emulator: an admin creates a JWT bearer
 * External Credential through the console's form — JWT lifetime and key id, a formula header, a
 * principal with its username and a pasted PEM private key — and a Named Credential on it, then
 * sends a callout from the test panel. The emulator checks the assertion's signature against the
 * Connected App's certificate and answers as the principal's user; its Apex REST route echoes the
 * header the formula computed. The stored definition equals what the config file gives.
 */
import { generateKeyPairSync } from 'node:crypto'
import type { EmulatedOrg, Emulator } from '@callout/salesforce-emulator'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportDefinitions, parseConfig } from '../../src/definitions/index.ts'
import { ADMIN, PASSWORD, type ConsoleInstance } from '../server/console-helpers.ts'
import {
  CONSOLE_ARTIFACTS as ARTIFACTS,
  expectAccessible,
  logInToConsole,
  startConsoleInChromium,
  type ConsoleInChromium,
} from './helpers/chromium.ts'

const USER = 'integration@target.example'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const PEM_CANARY = PEM.split('\n')[4]!

let started: ConsoleInChromium
let emulator: Emulator
let org: EmulatedOrg
let c: ConsoleInstance
let page: Page

beforeAll(async () => {
  started = await startConsoleInChromium({
    orgs: [
      {
        name: 'target',
        users: [{ username: USER, name: 'Integration User' }],
        connectedApps: [
          {
            name: 'ServerToServer',
            callbackUrls: ['http://127.0.0.1:9/services/authcallback/SfJwt'],
            scopes: ['api'],
            certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            adminPreAuthorized: true,
          },
        ],
      },
    ],
  })
  ;({ emulator, console: c, page } = started)
  org = emulator.org('target')
  org.registerApexRoute('GET', '/echo', (req) => ({
    body: { user: req.user.username, org: req.headers['x-org'] ?? null },
  }))
}, 60_000)
afterAll(async () => {
  await started?.close()
})

async function submitCard(): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.click('form.card button[type="submit"]')])
}

describe('a JWT bearer External Credential made in the console', () => {
  it('logs in and creates the Auth Provider', async () => {
    await logInToConsole(page, c.origin, { username: ADMIN, password: PASSWORD })
    await page.goto(`${c.origin}/auth-providers/new`)
    await page.fill('#name', 'SfTarget')
    await page.selectOption('#type', 'salesforce')
    await page.fill('#consumerKey', org.connectedApp('ServerToServer').consumerKey)
    await page.fill('#loginUrl', org.loginUrl)
    await submitCard()
    expect(c.broker.definitions.authProviders.has('SfTarget')).toBe(true)
  })

  it('creates the External Credential with a header and a pasted private key', async () => {
    await page.goto(`${c.origin}/external-credentials/new`)
    await expectAccessible(page)
    await page.fill('#name', 'SfJwt')
    await page.selectOption('#protocol', 'oauth2')
    await page.selectOption('#flow', 'jwt-bearer')
    await page.selectOption('#authProvider', 'SfTarget')
    await page.fill('#jwtValiditySeconds', '120')
    await page.fill('#jwtKeyId', 'console-key-1')
    await page.fill('#h0-name', 'X-Org')
    await page.fill('#h0-formula', "'org-' & {!$Credential.SfJwt.org}")
    await page.fill('#p0-name', 'Service')
    await page.fill('#p0-parameters', `username=${USER}\norg=acme`)
    await page.fill('#p0-privateKey', PEM)
    await page.screenshot({ path: `${ARTIFACTS}20-jwt-bearer-form.png`, fullPage: true })
    await submitCard()
    expect(new URL(page.url()).pathname).toBe('/external-credentials/SfJwt')
    expect(await page.textContent('main')).toContain('Stored, never shown: privateKey.')
    expect(await page.inputValue('#jwtKeyId')).toBe('console-key-1')
    expect(await page.inputValue('#h0-formula')).toBe("'org-' & {!$Credential.SfJwt.org}")
    expect(await page.inputValue('#p0-privateKey')).toBe('')
    expect(await page.content()).not.toContain(PEM_CANARY)
    await expectAccessible(page)
  })

  it('stores what the config file gives', () => {
    const fromFile = parseConfig(
      {
        authProviders: {
          SfTarget: {
            type: 'salesforce',
            loginUrl: org.loginUrl,
            consumerKey: org.connectedApp('ServerToServer').consumerKey,
          },
        },
        externalCredentials: {
          SfJwt: {
            protocol: 'oauth2',
            flow: 'jwt-bearer',
            authProvider: 'SfTarget',
            jwt: { validitySeconds: 120, keyId: 'console-key-1' },
            authHeaders: { 'X-Org': "'org-' & {!$Credential.SfJwt.org}" },
            principals: {
              Service: {
                type: 'named',
                parameters: { username: USER, org: 'acme' },
                secrets: { privateKey: '${env:SF_JWT_KEY}' },
              },
            },
          },
        },
      },
      { env: { SF_JWT_KEY: PEM } },
    )
    const stored = exportDefinitions(c.broker.definitions).externalCredentials.SfJwt
    const expected = exportDefinitions(fromFile).externalCredentials.SfJwt
    const principal = (ec: unknown) =>
      (ec as { principals: { Service: Record<string, unknown> } }).principals.Service
    // The key typed in the form has no reference of its own: the export names one.
    expect({ ...stored, principals: undefined }).toEqual({ ...expected, principals: undefined })
    expect({ ...principal(stored), secrets: undefined }).toEqual({
      ...principal(expected),
      secrets: undefined,
    })
    const key =
      c.broker.definitions.externalCredentials.get('SfJwt')!.principals[0]!.secrets.privateKey
    expect(key?.reveal()).toBe(PEM.trim())
  })

  it('calls the org as the principal’s user, with the header, from the test panel', async () => {
    await page.goto(`${c.origin}/named-credentials/new-full`)
    await page.fill('#label', 'Target as integration user')
    await page.fill('#name', 'Target')
    await page.fill('#url', org.instanceUrl)
    await page.selectOption('#externalCredential', 'SfJwt')
    await submitCard()
    expect(new URL(page.url()).pathname).toBe('/named-credentials/Target')
    await page.fill('#path', '/services/apexrest/echo')
    await Promise.all([
      page.waitForNavigation(),
      page.click('form[action$="/test"] button:not([name])'),
    ])
    expect(await page.textContent('#test-status')).toContain('200')
    expect(JSON.parse((await page.textContent('#test-body')) ?? '')).toEqual({
      user: USER,
      org: 'org-acme',
    })
    expect(emulator.requestLog.tokenRequests(JWT_BEARER)).toBe(1)
    await page.screenshot({ path: `${ARTIFACTS}21-jwt-bearer-callout.png`, fullPage: true })
  })
})
