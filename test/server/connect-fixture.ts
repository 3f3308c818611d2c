/**
 * The shared fixture of the connect link tests: a Salesforce emulator org with two users, a
 * console (`callout serve`'s app on port 0) whose clock can be moved forward, and three Named
 * Credentials on it — `Crm` (browser flow, per-user principal, with the web scope), `Shared` (browser flow, one named
 * principal) and `Open` (no authentication).
 */
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { parseConfig } from '../../src/index.ts'
import { consoleRig, type ConsoleInstance, type ConsoleRig } from './console-helpers.ts'

export const ALICE = { username: 'alice@target.example', password: 'Al1ce-Pa55!' }
export const BOB = { username: 'bob@target.example', password: 'B0b-Pa55!' }

/** The running fixture. */
export interface ConnectFixture {
  readonly emulator: Emulator
  readonly org: EmulatedOrg
  readonly rig: ConsoleRig
  readonly console: ConsoleInstance
  /** Moves the console's clock forward (link expiry). */
  advance(ms: number): void
  close(): Promise<void>
}

/** Starts the emulator and the console, and applies the definitions. */
export async function connectFixture(): Promise<ConnectFixture> {
  const emulator = await startEmulator({ orgs: [{ name: 'target', users: [ALICE, BOB] }] })
  const org = emulator.org('target')
  const rig = await consoleRig()
  let offset = 0
  const c = await rig.start({ clock: { now: () => Date.now() + offset } })
  const app = org.addConnectedApp({
    name: 'CalloutConnect',
    callbackUrls: [`${c.origin}/services/authcallback/Target`],
    scopes: ['api', 'refresh_token', 'web'],
  })
  const env = { SF_SECRET: app.consumerSecret }
  await c.broker.apply(
    parseConfig(
      {
        authProviders: {
          Target: {
            type: 'salesforce',
            loginUrl: org.loginUrl,
            consumerKey: app.consumerKey,
            consumerSecret: '${env:SF_SECRET}',
          },
        },
        externalCredentials: {
          Users: {
            protocol: 'oauth2',
            flow: 'browser',
            authProvider: 'Target',
            scope: 'api refresh_token web',
            principals: { EachUser: { type: 'per-user' } },
          },
          Team: {
            protocol: 'oauth2',
            flow: 'browser',
            authProvider: 'Target',
            scope: 'api refresh_token',
            principals: { Integration: { type: 'named' } },
          },
        },
        namedCredentials: {
          Crm: { label: 'Target CRM', url: org.instanceUrl, externalCredential: 'Users' },
          Shared: { url: org.instanceUrl, externalCredential: 'Team' },
          Open: { url: org.instanceUrl, protocol: 'none' },
        },
      },
      { env, onWarning: () => {} },
    ),
  )
  return {
    emulator,
    org,
    rig,
    console: c,
    advance: (ms) => {
      offset += ms
    },
    close: async () => {
      await rig.close()
      await emulator.close()
    },
  }
}
