/**
 * `callout auth <Name> --user <id>` on a per-user credential prints only that user's connection,
 * with two users connected: a real browser flow against the Salesforce emulator for each.
 */
import type { EmulatedOrg, Emulator } from '@callout/salesforce-emulator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'
import { authorize } from '../../packages/salesforce-emulator/test/helpers/oauth.ts'
import { captureIo, freePort, printedUrl, runCli, waitFor, type TempHome } from './helpers.ts'
import { initAndApply, startTargetOrg } from './target-org.ts'

const ALICE = { username: 'alice@target.example', password: 'Alice-Pass-1' }
const BOB = { username: 'bob@target.example', password: 'Bob-Pass-1' }

describe('callout auth --user on a per-user credential', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let t: TempHome
  let env: Record<string, string | undefined>
  let redirectUri: string

  beforeAll(async () => {
    redirectUri = `http://localhost:${await freePort()}/oauth/callback`
    ;({ emulator, org, t } = await startTargetOrg({
      users: [ALICE, BOB],
      connectedApps: [{ name: 'Crm', callbackUrls: [redirectUri] }],
    }))
    env = { ...t.env, CRM_SECRET: org.connectedApp('Crm').consumerSecret }
    const { applied } = await initAndApply(
      t,
      env,
      `
authProviders:
  Target:
    type: salesforce
    loginUrl: ${org.loginUrl}
    consumerKey: ${org.connectedApp('Crm').consumerKey}
    consumerSecret: '\${env:CRM_SECRET}'
externalCredentials:
  CrmAuth:
    protocol: oauth2
    flow: browser
    authProvider: Target
    scope: api refresh_token
    principals: { EachUser: { type: per-user } }
namedCredentials:
  Crm: { url: ${org.instanceUrl}, externalCredential: CrmAuth }
`,
    )
    expect(applied.stderr).toBe('')
  })
  afterAll(async () => {
    await emulator?.close()
    await t?.remove()
  })

  /** Runs `callout auth Crm --user <user>` and logs in as `login` in the emulator. */
  async function connect(user: string, login: typeof ALICE): Promise<string> {
    const cap = captureIo(env)
    const running = main(
      [
        'auth',
        'Crm',
        '--user',
        user,
        '--redirect-uri',
        redirectUri,
        '--no-open',
        '--timeout',
        '30',
      ],
      cap.io,
    )
    await waitFor(() => cap.stdout().includes('waiting for the callback'))
    const outcome = await authorize(printedUrl(cap.stdout())!, login)
    expect((await fetch(outcome.location)).status).toBe(200)
    const code = await running
    expect(cap.stderr()).toBe('')
    expect(code).toBe(0)
    return cap.stdout()
  }

  it('prints only the connection of the user it authenticated, with another user connected', async () => {
    const first = await connect('alice', ALICE)
    expect(first).toContain(`Crm: Authenticated as ${ALICE.username}\n`)

    const second = await connect('bob', BOB)
    expect(second).toContain(`Crm: Authenticated as ${BOB.username}\n`)
    expect(second).not.toContain(ALICE.username)

    // Both connections are stored; `status --user` narrows to one, plain `status` shows both.
    const all = await runCli(['status', 'Crm'], env)
    expect(all.stdout).toContain(ALICE.username)
    expect(all.stdout).toContain(BOB.username)
    const onlyBob = await runCli(['status', 'Crm', '--user', 'bob'], env)
    expect(onlyBob.code).toBe(0)
    expect(onlyBob.stdout).toContain(BOB.username)
    expect(onlyBob.stdout).not.toContain(ALICE.username)

    // Re-authenticating alice prints alice only.
    const again = await connect('alice', ALICE)
    expect(again).toContain(`Crm: Authenticated as ${ALICE.username}\n`)
    expect(again).not.toContain(BOB.username)
  })
})
