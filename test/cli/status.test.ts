/**
 * `callout status` shows what the next callout meets: a browser-flow credential without a refresh
 * token whose session died is "Needs re-authentication", never "Authenticated … expires in".
 * `apply` and `auth` warn at once about a browser flow's scope that gets no refresh token.
 */
import type { EmulatedOrg, Emulator } from '@callout/salesforce-emulator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authorize } from '../../packages/salesforce-emulator/test/helpers/oauth.ts'
import { main } from '../../src/cli/main.ts'
import { Secret } from '../../src/secrets/secret.ts'
import { openStore } from '../../src/store/index.ts'
import {
  captureIo,
  freePort,
  printedUrl,
  runCli,
  waitFor,
  writeText,
  type TempHome,
} from './helpers.ts'
import { startTargetOrg } from './target-org.ts'

const USER = { username: 'admin@target.example', password: 'Target-Pass-1' }

describe('callout status on a browser flow without a refresh token', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let t: TempHome
  let env: Record<string, string | undefined>
  let redirectUri: string
  let config: string

  beforeAll(async () => {
    redirectUri = `http://localhost:${await freePort()}/oauth/callback`
    ;({ emulator, org, t } = await startTargetOrg({
      users: [USER],
      connectedApps: [{ name: 'Browser', callbackUrls: [redirectUri] }],
    }))
    env = { ...t.env, SF_SECRET: org.connectedApp('Browser').consumerSecret }
    config = await writeText(
      t.dir,
      'callout.yaml',
      `
authProviders:
  TargetBrowser:
    type: salesforce
    loginUrl: ${org.loginUrl}
    consumerKey: ${org.connectedApp('Browser').consumerKey}
    consumerSecret: '\${env:SF_SECRET}'
externalCredentials:
  ApiOnly:
    protocol: oauth2
    flow: browser
    authProvider: TargetBrowser
    scope: api
    principals: { Admin: { type: named } }
  Planted:
    protocol: oauth2
    flow: browser
    authProvider: TargetBrowser
    scope: api
    principals: { Admin: { type: named } }
namedCredentials:
  Short: { url: ${org.instanceUrl}, externalCredential: ApiOnly }
  Old: { url: ${org.instanceUrl}, externalCredential: Planted }
`,
    )
    expect((await runCli(['init'], env)).code).toBe(0)
  })
  afterAll(async () => {
    await emulator?.close()
    await t?.remove()
  })

  it('apply warns at once that the scope gets no refresh token, once per ExternalCredential', async () => {
    const run = await runCli(['apply', '-f', config], env)
    expect(run.code).toBe(0)
    const warnings = run.stderr.trimEnd().split('\n')
    expect(warnings).toEqual([
      'warning: externalCredentials.ApiOnly: the scope "api" lacks refresh_token: no refresh token is issued, so the credential stops working when the session times out (often 2 hours) — add refresh_token to the scope (e.g. "refresh_token api") and allow "Perform requests at any time" on the Connected App, then run callout auth Short',
      expect.stringMatching(
        /^warning: externalCredentials\.Planted: the scope "api" lacks refresh_token: .* then run callout auth Old$/,
      ),
    ])
  })

  it('auth warns before printing the URL; status then shows the expiry and the missing refresh token', async () => {
    const cap = captureIo(env)
    const running = main(
      ['auth', 'Short', '--redirect-uri', redirectUri, '--no-open', '--timeout', '30'],
      cap.io,
    )
    await waitFor(() => cap.stdout().includes('waiting for the callback'))
    expect(cap.stderr()).toMatch(
      /^warning: the scope "api" lacks refresh_token: .* then run callout auth Short\n$/,
    )
    const outcome = await authorize(printedUrl(cap.stdout())!, USER)
    expect((await fetch(outcome.location)).status).toBe(200)
    expect(await running).toBe(0)

    const status = await runCli(['status', 'Short'], env)
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(
      /Admin: Authenticated as admin@target\.example \(expires in 1[12]\d min, no refresh token: re-authenticate then;/,
    )
  })

  it('after the org expires the session, the callout fails with NEEDS_REAUTH and status says so, without "expires in"', async () => {
    emulator.faults.expireSessions()
    const call = await runCli(['get', 'callout:Short/services/data/v61.0/limits'], env)
    expect(call.code).toBe(1)
    expect(call.stderr).toMatch(/^error NEEDS_REAUTH: /)
    const status = await runCli(['status', 'Short'], env)
    expect(status.code).toBe(1)
    expect(status.stdout).toContain('Admin: Needs re-authentication')
    expect(status.stdout).not.toContain('Authenticated as')
    expect(status.stdout).not.toContain('expires in')
    const json = JSON.parse((await runCli(['status', 'Short', '--json'], env)).stdout) as {
      principals: { status: string; expiresAt?: number }[]
    }[]
    expect(json[0]?.principals[0]?.status).toBe('needs-reauth')
    expect(json[0]?.principals[0]?.expiresAt).toBeUndefined()
    // The next callout meets the same answer, with no token request.
    const before = emulator.requestLog.tokenRequests()
    expect((await runCli(['get', 'callout:Short/services/data/v61.0/limits'], env)).stderr).toMatch(
      /^error NEEDS_REAUTH: /,
    )
    expect(emulator.requestLog.tokenRequests()).toBe(before)
  })

  it('a session past its timeout with no refresh token is needs-reauth before any callout', async () => {
    const store = await openStore({ home: t.home, env })
    try {
      const issuedAt = Date.now() - 3 * 3600_000
      await store.compareAndSetCredential(
        {
          externalCredential: 'Planted',
          principal: 'Admin',
          userId: '',
          status: 'authenticated',
          accessToken: new Secret('planted-access-token'),
          tokenType: 'Bearer',
          issuedAt,
          scope: 'api',
          instanceUrl: org.instanceUrl,
          identity: { username: USER.username },
        },
        0,
      )
    } finally {
      await store.close()
    }
    const status = await runCli(['status', 'Old'], env)
    expect(status.code).toBe(1)
    expect(status.stdout).toContain(
      'Admin: Needs re-authentication (the session expired and no refresh token is stored)',
    )
    expect(status.stdout).not.toMatch(/expires in|expired \d+ min ago/)
    expect(status.stdout).not.toContain('planted-access-token')
  })

  it('doctor says what is wrong and what to do without repeating itself', async () => {
    const run = await runCli(['doctor', 'Short'], env)
    const line = run.stdout.split('\n').find((l) => l.startsWith('warn Short: the scope'))
    expect(line).toBe(
      'warn Short: the scope "api" lacks refresh_token: no refresh token is issued, so the credential stops working when the session times out (often 2 hours) — add refresh_token to the scope (e.g. "refresh_token api") and allow "Perform requests at any time" on the Connected App, then run callout auth Short',
    )
  })
})
