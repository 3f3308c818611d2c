/**
 * The CLI's errors give CLI advice (flags, commands that exist), spawned as the real `callout`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, spawnCli, tempHome, writeText, type TempHome } from './helpers.ts'

describe('CLI advice', () => {
  let t: TempHome
  let env: Record<string, string | undefined>

  beforeAll(async () => {
    t = await tempHome({ CRM_SECRET: 'crm-secret-value' })
    env = t.env
    const config = await writeText(
      t.dir,
      'callout.yaml',
      `
authProviders:
  Sf: { type: salesforce, loginUrl: https://login.salesforce.com, consumerKey: key, consumerSecret: '\${env:CRM_SECRET}' }
externalCredentials:
  CrmAuth:
    protocol: oauth2
    flow: browser
    authProvider: Sf
    scope: refresh_token api
    principals: { Users: { type: per-user } }
namedCredentials:
  Target: { url: 'https://acme.my.salesforce.com', externalCredential: CrmAuth }
`,
    )
    expect((await runCli(['init'], env)).code).toBe(0)
    expect((await runCli(['apply', '-f', config], env)).code).toBe(0)
  })
  afterAll(async () => {
    await t?.remove()
  })

  it('an unknown name that differs in case: CREDENTIAL_NOT_FOUND with "did you mean"', async () => {
    const run = await spawnCli(['get', 'callout:target/services/data'], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toBe(
      'error CREDENTIAL_NOT_FOUND: No Named Credential is called "target" — did you mean "Target"? (names are case-sensitive). List the names with `callout list`.\n',
    )
    const status = await runCli(['status', 'Traget'], env)
    expect(status.stderr).toMatch(/^error CREDENTIAL_NOT_FOUND: .*did you mean "Target"\?/)
    const far = await runCli(['doctor', 'Nothing'], env)
    expect(far.stderr).not.toContain('did you mean')
  })

  it('a per-user credential without --user: the CLI says --user, not the library option', async () => {
    const run = await spawnCli(['get', 'callout:Target/services/data'], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error USER_REQUIRED: .*pass the end user with --user <id>\.\n$/)
    expect(run.stderr).not.toContain('{ user')
  })

  it('a per-user credential never authenticated: callout auth <Name> --user <id>, no library call, no console', async () => {
    const run = await runCli(['get', 'callout:Target/services/data', '--user', 'bob'], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      /^error NOT_AUTHENTICATED: .* Run `callout auth Target --user bob`\.\n$/,
    )
    expect(run.stderr).not.toContain('broker.')
    expect(run.stderr).not.toContain('console')
  })

  it('a plain URL without --plain: the CLI says --plain', async () => {
    const run = await runCli(['get', 'https://example.com/'], env)
    expect(run.stderr).toMatch(/^error CALLOUT_URL_MALFORMED: .*pass --plain/)
    expect(run.stderr).not.toContain('allowPlainUrl')
  })
})
