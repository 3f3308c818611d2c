import { generateKeyPairSync } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { openBroker } from '../../callout/open-broker.ts'
import { CalloutError, isCalloutError } from '../../errors.ts'
import { createMasterKeyFile } from '../../secrets/index.ts'
import { println, type CliIo } from '../io.ts'
import { applyCommand } from './apply.ts'

/** The part of `@callout/salesforce-emulator` the demo uses. */
interface DemoEmulator {
  org(name?: string): {
    readonly instanceUrl: string
    readonly loginUrl: string
    connectedApp(name?: string): { readonly consumerKey: string }
  }
  readonly requestLog: { tokenRequests(grantType?: string): number }
  readonly faults: { expireSessions(): void }
  close(): Promise<void>
}
type StartEmulator = (seed: unknown) => Promise<DemoEmulator>

const EMULATOR_PACKAGE = '@callout/salesforce-emulator'
const USERNAME = 'integration@target.example'

/**
 * `callout demo`: the whole org-to-org story on this machine. Starts a local Salesforce org (the
 * emulator), creates a demo home (`./.callout-demo`, recreated on every run) with its own master
 * key and SQLite store, applies a JWT bearer credential, makes callouts, expires the org's
 * sessions to show the broker recovering, and prints the credential's status.
 *
 * @example
 * // $ npm run demo
 */
export async function demoCommand(io: CliIo, options: { home?: string } = {}): Promise<void> {
  const home = resolve(io.cwd, options.home ?? '.callout-demo')
  const step = (n: number, text: string): void => println(io, `[${n}/7] ${text}`)

  step(1, 'starting a local Salesforce org (emulator) on a loopback port')
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const startEmulator = await loadEmulator()
  const emulator = await startEmulator({
    orgs: [
      {
        name: 'target',
        users: [{ username: USERNAME, name: 'Integration User' }],
        connectedApps: [
          {
            name: 'Callout',
            callbackUrls: ['http://localhost:7171/oauth/callback'],
            certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            adminPreAuthorized: true,
          },
        ],
        records: {
          Account: [
            { Name: 'Acme Corporation', Industry: 'Manufacturing' },
            { Name: 'Globex', Industry: 'Energy' },
            { Name: 'Initech', Industry: 'Technology' },
          ],
        },
      },
    ],
  })
  try {
    const org = emulator.org('target')
    println(io, `      instance ${org.instanceUrl}`)

    step(2, `creating the demo home ${home} (master key 0600, SQLite store)`)
    await rm(home, { recursive: true, force: true })
    await createMasterKeyFile(home)
    await mkdir(join(home, 'keys'), { recursive: true, mode: 0o700 })
    await writeFile(
      join(home, 'keys', 'target-jwt.key'),
      privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      { mode: 0o600 },
    )
    const configPath = join(home, 'callout.yaml')
    await writeFile(configPath, demoConfig(org.loginUrl, org.connectedApp('Callout').consumerKey))
    const env = {
      ...io.env,
      CALLOUT_HOME: home,
      CALLOUT_MASTER_KEY: undefined,
      CALLOUT_STORE: undefined,
    }
    const demoIo: CliIo = { ...io, env, cwd: home }

    step(
      3,
      'applying callout.yaml (JWT bearer flow; the private key is read from a file and stored encrypted)',
    )
    await applyCommand(demoIo, { file: configPath })

    const broker = await openBroker({ env })
    try {
      step(4, "broker.fetch('callout:Target/services/data/v61.0/query?q=SELECT Name FROM Account')")
      const res = await broker.fetch(
        'callout:Target/services/data/v61.0/query?q=' +
          encodeURIComponent('SELECT Name, Industry FROM Account ORDER BY Name'),
      )
      const result = (await res.json()) as {
        totalSize: number
        records: { Name: string; Industry: string }[]
      }
      println(io, `      HTTP ${res.status}: ${result.totalSize} accounts`)
      for (const r of result.records) println(io, `        ${r.Name} (${r.Industry})`)

      step(5, 'creating an Account with a POST through the same credential')
      const created = await broker.fetch('callout:Target/services/data/v61.0/sobjects/Account', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Name: 'Callout Demo Inc.' }),
      })
      println(io, `      HTTP ${created.status}: ${JSON.stringify(await created.json())}`)

      step(6, 'expiring every session in the org; the next callout gets 401 INVALID_SESSION_ID')
      const before = emulator.requestLog.tokenRequests()
      emulator.faults.expireSessions()
      const again = await broker.fetch('callout:Target/services/data/v61.0/limits')
      const minted = emulator.requestLog.tokenRequests() - before
      println(
        io,
        `      HTTP ${again.status} after the broker minted ${minted} new token(s) and retried once`,
      )
      await again.body?.cancel()

      const refused = await broker.fetch('callout:Target/../../etc/passwd').then(
        async (res) => {
          await res.body?.cancel()
          throw new CalloutError(
            'INTERNAL',
            'The broker accepted a URL that climbs above the credential; report this as a bug.',
          )
        },
        (error: unknown) => error,
      )
      if (!isCalloutError(refused)) throw refused
      println(
        io,
        `      a hostile URL is refused: ${refused.code} (${String(refused.details.rule ?? '')})`,
      )

      step(7, 'status')
      for (const line of await statusLines(broker)) println(io, `      ${line}`)
    } finally {
      await broker.close()
    }
  } finally {
    await emulator.close()
  }
  println(io, `done. The demo home stays in ${home}; try: CALLOUT_HOME=${home} npx callout status`)
  println(
    io,
    'note: the emulator stopped with the demo, so callouts from that home now fail to connect.',
  )
}

async function loadEmulator(): Promise<StartEmulator> {
  try {
    const mod = (await import(EMULATOR_PACKAGE)) as { startEmulator: StartEmulator }
    return mod.startEmulator
  } catch (cause) {
    throw new CalloutError(
      'DEPENDENCY_MISSING',
      `callout demo needs ${EMULATOR_PACKAGE}, a dependency of callout that could not be loaded: reinstall callout (npm install callout) so that its dependencies are installed too.`,
      { cause },
    )
  }
}

async function statusLines(broker: Awaited<ReturnType<typeof openBroker>>): Promise<string[]> {
  const { formatStatus } = await import('./status.ts')
  return formatStatus(await broker.status())
}

function demoConfig(loginUrl: string, consumerKey: string): string {
  return `# Written by \`callout demo\`: one org calling another with the JWT bearer flow.
authProviders:
  TargetOrg:
    type: salesforce
    loginUrl: ${loginUrl}
    consumerKey: ${consumerKey}
externalCredentials:
  TargetAuth:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetOrg
    principals:
      Integration:
        type: named
        parameters: { username: ${USERNAME} }
        secrets: { privateKey: '\${file:keys/target-jwt.key}' }
namedCredentials:
  Target:
    url: ${loginUrl}
    externalCredential: TargetAuth
`
}
