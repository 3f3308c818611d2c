import type { EmulatedOrg, Emulator } from '@callout/salesforce-emulator'
import { createServer, type AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'
import { authorize } from '../../packages/salesforce-emulator/test/helpers/oauth.ts'
import { captureIo, freePort, printedUrl, runCli, waitFor, type TempHome } from './helpers.ts'
import { JWT_USER, initAndApply, jwtApp, startTargetOrg } from './target-org.ts'

const USER = { username: 'admin@target.example', password: 'Target-Pass-1' }

describe('callout auth', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let t: TempHome
  let env: Record<string, string | undefined>
  let port: number
  let redirectUri: string

  beforeAll(async () => {
    port = await freePort()
    redirectUri = `http://localhost:${port}/oauth/callback`
    const server = jwtApp()
    ;({ emulator, org, t } = await startTargetOrg({
      users: [USER, { username: JWT_USER }],
      connectedApps: [{ name: 'Browser', callbackUrls: [redirectUri] }, server.app],
    }))
    env = { ...t.env, SF_SECRET: org.connectedApp('Browser').consumerSecret }
    await server.writeKeys(t.dir)
    const { applied } = await initAndApply(
      t,
      env,
      `
authProviders:
  TargetBrowser:
    type: salesforce
    loginUrl: ${org.loginUrl}
    consumerKey: ${org.connectedApp('Browser').consumerKey}
    consumerSecret: '\${env:SF_SECRET}'
  TargetServer: { type: salesforce, loginUrl: ${org.loginUrl}, consumerKey: ${org.connectedApp('Server').consumerKey} }
externalCredentials:
  BrowserAuth:
    protocol: oauth2
    flow: browser
    authProvider: TargetBrowser
    scope: api refresh_token
    principals: { Admin: { type: named } }
  ServerAuth:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetServer
    principals:
      Integration:
        type: named
        parameters: { username: ${JWT_USER} }
        secrets: { privateKey: '\${file:server.key}' }
  BrokenAuth:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetServer
    principals:
      Integration:
        type: named
        parameters: { username: ${JWT_USER} }
        secrets: { privateKey: '\${file:other.key}' }
  Basic:
    protocol: basic
    principals:
      Main: { type: named, parameters: { username: u }, secrets: { password: '\${env:SF_SECRET}' } }
namedCredentials:
  Target: { url: ${org.instanceUrl}, externalCredential: BrowserAuth }
  Server: { url: ${org.instanceUrl}, externalCredential: ServerAuth }
  Plain: { url: ${org.instanceUrl}, externalCredential: Basic }
  Broken: { url: ${org.instanceUrl}, externalCredential: BrokenAuth }
`,
    )
    expect(applied.stderr).toBe('')
  })
  afterAll(async () => {
    await emulator?.close()
    await t?.remove()
  })

  it('before authenticating, status says to run callout auth', async () => {
    const run = await runCli(['status', 'Target'], env)
    expect(run.stdout).toContain('Admin: Not authenticated: run callout auth Target')
  })

  it('browser flow: prints the URL, takes the callback and prints "Authenticated as <username>"', async () => {
    const cap = captureIo(env)
    const running = main(
      ['auth', 'Target', '--redirect-uri', redirectUri, '--no-open', '--timeout', '30'],
      cap.io,
    )
    await waitFor(() => cap.stdout().includes('waiting for the callback'))
    const url = printedUrl(cap.stdout())
    expect(url).toBeDefined()
    const authorizeUrl = new URL(url!)
    expect(authorizeUrl.origin).toBe(new URL(org.loginUrl).origin)
    expect(authorizeUrl.searchParams.get('redirect_uri')).toBe(redirectUri)
    expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authorizeUrl.searchParams.get('state')).toMatch(/.{16,}/)

    const outcome = await authorize(url!, USER)
    expect(outcome.location.startsWith(`${redirectUri}?`)).toBe(true)
    const page = await fetch(outcome.location)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('You can close this window')

    const code = await running
    expect(cap.stderr()).toBe('')
    expect(code).toBe(0)
    expect(cap.stdout()).toContain(`Target: Authenticated as ${USER.username}`)

    const status = await runCli(['status', 'Target'], env)
    expect(status.code).toBe(0)
    expect(status.stdout).toContain(`Admin: Authenticated as ${USER.username}`)
    const call = await runCli(['get', 'callout:Target/services/data/v61.0/limits'], env)
    expect(call.code).toBe(0)
  })

  it('a stray callback with a bogus state and code gets a 400 page and a note; the real callback still completes', async () => {
    const cap = captureIo(env)
    const running = main(
      ['auth', 'Target', '--redirect-uri', redirectUri, '--no-open', '--timeout', '30'],
      cap.io,
    )
    await waitFor(() => cap.stdout().includes('waiting for the callback'))
    const page = await fetch(`${redirectUri}?code=forged-code&state=not-the-state`)
    expect(page.status).toBe(400)
    const html = await page.text()
    expect(html).toContain('not this login')
    expect(html).not.toContain('forged-code')
    await waitFor(() => cap.stderr().includes('note: ignored a request to the callback URL'))
    const outcome = await authorize(printedUrl(cap.stdout())!, USER)
    expect((await fetch(outcome.location)).status).toBe(200)
    expect(await running).toBe(0)
    expect(cap.stdout()).toContain(`Target: Authenticated as ${USER.username}`)
  })

  it('the callback server answers 404 to anything but the callback, and keeps waiting', async () => {
    const cap = captureIo(env)
    const running = main(
      ['auth', 'Target', '--redirect-uri', redirectUri, '--no-open', '--timeout', '30'],
      cap.io,
    )
    await waitFor(() => cap.stdout().includes('waiting for the callback'))
    expect((await fetch(`http://localhost:${port}/other?code=a&state=b`)).status).toBe(404)
    expect((await fetch(`${redirectUri}?code=a`)).status).toBe(404)
    expect((await fetch(redirectUri, { method: 'POST', body: 'code=a&state=b' })).status).toBe(404)
    const outcome = await authorize(printedUrl(cap.stdout())!, USER)
    expect((await fetch(outcome.location)).status).toBe(200)
    expect(await running).toBe(0)
  })

  it('an error callback (the user denied) is an error with exit 1', async () => {
    const cap = captureIo(env)
    const running = main(
      ['auth', 'Target', '--redirect-uri', redirectUri, '--no-open', '--timeout', '30'],
      cap.io,
    )
    await waitFor(() => cap.stdout().includes('waiting for the callback'))
    const state = new URL(printedUrl(cap.stdout())!).searchParams.get('state')!
    const page = await fetch(
      `${redirectUri}?error=access_denied&error_description=end-user+denied+authorization&state=${state}`,
    )
    expect(page.status).toBe(400)
    expect(await running).toBe(1)
    expect(cap.stderr()).toMatch(/^error [A-Z_]+: /)
  })

  it('--timeout 1 with no callback is AUTHORIZATION_FAILED telling to run it again', async () => {
    const run = await runCli(
      ['auth', 'Target', '--redirect-uri', redirectUri, '--no-open', '--timeout', '1'],
      env,
    )
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error AUTHORIZATION_FAILED: .*callout auth/)
    expect(run.stderr).toMatch(/again/)
    // the port is free again
    const next = await runCli(
      ['auth', 'Target', '--redirect-uri', redirectUri, '--no-open', '--timeout', '1'],
      env,
    )
    expect(next.stderr).toMatch(/^error AUTHORIZATION_FAILED: /)
  })

  it.each([['0'], ['-5'], ['abc'], ['99999']])(
    '--timeout %s is INVALID_ARGUMENT',
    async (value) => {
      const run = await runCli(['auth', 'Target', '--no-open', '--timeout', value], env)
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: --timeout/)
    },
  )

  it.each([
    ['https://localhost:7171/cb'],
    ['http://evil.example:7171/cb'],
    ['http://localhost:7171/cb?x=1'],
    ['not a url'],
  ])('--redirect-uri %s is INVALID_ARGUMENT', async (uri) => {
    const run = await runCli(['auth', 'Target', '--no-open', '--redirect-uri', uri], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: --redirect-uri/)
  })

  it('a redirect URI whose port is in use is INVALID_ARGUMENT asking for another', async () => {
    const busy = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r))
    const { port: busyPort } = busy.address() as AddressInfo
    try {
      const run = await runCli(
        ['auth', 'Target', '--no-open', '--redirect-uri', `http://127.0.0.1:${busyPort}/cb`],
        env,
      )
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: Port \d+ is in use; pass --redirect-uri/)
    } finally {
      await new Promise<void>((r) => busy.close(() => r()))
    }
  })

  it('an unknown --prompt is a usage error (exit 2)', async () => {
    const run = await runCli(['auth', 'Target', '--prompt', 'none'], env)
    expect(run.code).toBe(2)
  })

  it('an unknown credential is CREDENTIAL_NOT_FOUND', async () => {
    const run = await runCli(['auth', 'Nope', '--no-open'], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error CREDENTIAL_NOT_FOUND: /)
  })

  it('after the refresh token is revoked: the callout fails with NEEDS_REAUTH and status exits 1', async () => {
    expect((await runCli(['get', 'callout:Target/services/data/v61.0/limits'], env)).code).toBe(0)
    emulator.faults.revokeRefreshTokens()
    emulator.faults.expireSessions()
    const call = await runCli(['get', 'callout:Target/services/data/v61.0/limits'], env)
    expect(call.code).toBe(1)
    expect(call.stderr).toMatch(/^error NEEDS_REAUTH: .*callout auth Target/)
    const status = await runCli(['status', 'Target'], env)
    expect(status.code).toBe(1)
    expect(status.stdout).toContain('Admin: Needs re-authentication')
    // Advice names the Named Credential (what callout auth takes), never the ExternalCredential.
    expect(status.stdout).not.toContain('callout auth BrowserAuth')
    expect(status.stdout).not.toContain('console')
  })

  it('jwt-bearer: obtains a token now and prints the principal status', async () => {
    const run = await runCli(['auth', 'Server'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`Server Integration: Authenticated as ${JWT_USER}`)
  })

  it('a protocol with no token (basic) is refused with INVALID_ARGUMENT', async () => {
    const run = await runCli(['auth', 'Plain'], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: Plain uses basic credentials/)
  })

  it('jwt-bearer with a key the app does not trust fails now, not at the first callout', async () => {
    const run = await runCli(['auth', 'Broken'], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error (?!INTERNAL)[A-Z_]+: /)
    expect(run.stderr).not.toContain('PRIVATE KEY')
    const status = await runCli(['status', 'Broken'], env)
    expect(status.stdout).not.toContain('Authenticated')
  })
})
