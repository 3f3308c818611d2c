/**
 * `callout open <Name> <path> [--user u] [--print]` through the real CLI against the Salesforce
 * emulator: the printed link logs in once and lands on the page; the warning goes to stderr; the
 * refusals each carry their code.
 */
import type { EmulatedOrg, Emulator } from '@callout/salesforce-emulator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type TempHome } from './helpers.ts'
import { JWT_USER, initAndApply, jwtApp, startTargetOrg } from './target-org.ts'

describe('callout open', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let t: TempHome
  let env: Record<string, string | undefined>

  beforeAll(async () => {
    const server = jwtApp('Server', { adminPreAuthorized: false })
    ;({ emulator, org, t } = await startTargetOrg({
      users: [{ username: JWT_USER }],
      connectedApps: [server.app],
    }))
    env = { ...t.env }
    await server.writeKeys(t.dir)
    const { applied } = await initAndApply(
      t,
      env,
      `
authProviders:
  TargetServer: { type: salesforce, loginUrl: ${org.loginUrl}, consumerKey: ${org.connectedApp('Server').consumerKey} }
externalCredentials:
  ServerAuth:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetServer
    principals:
      Integration:
        type: named
        parameters: { username: ${JWT_USER} }
        secrets: { privateKey: '\${file:server.key}' }
  ApiOnly:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetServer
    scope: api refresh_token
    principals:
      Integration:
        type: named
        parameters: { username: ${JWT_USER} }
        secrets: { privateKey: '\${file:server.key}' }
  EachUser:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetServer
    jwt: { subject: '{!$User.Username}' }
    principals:
      Each:
        type: per-user
        secrets: { privateKey: '\${file:server.key}' }
  Open: { protocol: none }
namedCredentials:
  Server: { url: ${org.instanceUrl}, externalCredential: ServerAuth }
  ServerApiOnly: { url: ${org.instanceUrl}, externalCredential: ApiOnly }
  ServerEachUser: { url: ${org.instanceUrl}, externalCredential: EachUser }
  Plain: { url: ${org.instanceUrl}, externalCredential: Open }
`,
    )
    expect(applied.stderr).toBe('')
  }, 60_000)

  afterAll(async () => {
    await emulator?.close()
    await t?.remove()
  })

  it('--print prints a one-time link that lands on the page, with a warning on stderr', async () => {
    const run = await runCli(['open', 'Server', '/home/home.jsp', '--print'], env)
    expect(run.code).toBe(0)
    const url = run.stdout.trim()
    expect(new URL(url).pathname).toBe('/secur/frontdoor.jsp')
    expect(run.stderr).toMatch(/^warning: this is a one-time login link/)
    const otp = new URL(url).searchParams.get('otp') ?? ''
    expect(otp.length).toBeGreaterThan(20)
    expect(run.stderr).not.toContain(otp)
    const first = await fetch(url, { redirect: 'manual' })
    expect(first.headers.get('location')).toBe(`${org.instanceUrl}/home/home.jsp`)
    const second = await fetch(url, { redirect: 'manual' })
    expect(second.headers.get('location')).toMatch(/\/\?ec=302/)
  })

  it('without --print and without a terminal it refuses rather than print the link', async () => {
    const run = await runCli(['open', 'Server', '/'], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('error INVALID_ARGUMENT')
    expect(run.stderr).toContain('--print')
    expect(run.stdout).not.toContain('frontdoor.jsp')
    expect(run.stderr).not.toContain('frontdoor.jsp')
  })

  it.each([
    [['open', 'Plain', '/', '--print'], 'FRONTDOOR_NOT_SALESFORCE'],
    [['open', 'ServerApiOnly', '/', '--print'], 'FRONTDOOR_SCOPE_MISSING'],
    [['open', 'Server', 'https://evil.example/', '--print'], 'FRONTDOOR_PATH_INVALID'],
    [['open', 'Server', '//evil.example', '--print'], 'FRONTDOOR_PATH_INVALID'],
    [['open', 'Server', '/x\r\nSet-Cookie: a=b', '--print'], 'FRONTDOOR_PATH_INVALID'],
    [['open', 'ServerEachUser', '/', '--print'], 'USER_REQUIRED'],
    [['open', 'Missing', '/', '--print'], 'CREDENTIAL_NOT_FOUND'],
  ])('%j fails with %s and prints no link', async (argv, code) => {
    const run = await runCli(argv, env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`error ${code}`)
    expect(run.stdout).not.toContain('frontdoor.jsp')
  })
})
