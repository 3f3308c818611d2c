/**
 * `startEmulator`: one or more emulated Salesforce orgs, each on its own loopback origin, with
 * OAuth server, REST API subset and fault switches. With no seed, one org named `default` with a
 * user and a connected app, so a test starts in one line.
 *
 * @example
 * const emulator = await startEmulator()
 * const org = emulator.org()
 * // … org.instanceUrl, org.user().username, org.connectedApp().consumerKey …
 * await emulator.close()
 */
import { OrgData } from './data/org-data.ts'
import { EmulatedOrg } from './emulated-org.ts'
import type { FaultScope, FaultSwitches, LatencySettings } from './org/fault-switches.ts'
import { RequestLog } from './org/request-log.ts'
import { Clock } from './org/clock.ts'
import { OrgState } from './org/org-state.ts'
import { loadSeedFile } from './seed/load-seed-file.ts'
import type { EmulatorSeed } from './seed/seed-types.ts'
import { validateSeed } from './seed/validate-seed.ts'
import { lightningRequestListener } from './server/lightning-listener.ts'
import { close, listen, type Listener } from './server/listen.ts'
import { orgRequestListener } from './server/org-router.ts'

/** Default request body limit: 6 MB. */
export const DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024

/** Options of {@link startEmulator} that are not part of the seed. */
export interface StartOptions {
  /** Port of the first org (overrides its seed port). */
  port?: number
}

/** A running emulator. */
export interface Emulator {
  /** The orgs, in seed order. */
  readonly orgs: readonly EmulatedOrg[]
  /** An org by name, or the first org. */
  org(name?: string): EmulatedOrg
  /** The request log of every org (method, path without query, grant type, status). */
  readonly requestLog: RequestLog
  /** Fault switches applied to every org at once. */
  readonly faults: FaultSwitches
  /** The shared clock; `advance(ms)` ages tokens, codes and refresh tokens. */
  readonly clock: { now(): number; advance(ms: number): void }
  /** Stops every listener. */
  close(): Promise<void>
}

class AllOrgsFaults implements FaultSwitches {
  readonly #orgs: readonly FaultSwitches[]
  constructor(orgs: readonly FaultSwitches[]) {
    this.#orgs = orgs
  }
  expireSessions(): void {
    for (const f of this.#orgs) f.expireSessions()
  }
  expireAccessToken(token: string): boolean {
    return this.#orgs.map((f) => f.expireAccessToken(token)).some(Boolean)
  }
  revokeRefreshTokens(): void {
    for (const f of this.#orgs) f.revokeRefreshTokens()
  }
  setRotation(enabled: boolean): void {
    for (const f of this.#orgs) f.setRotation(enabled)
  }
  setInstanceUrl(url: string | null): void {
    for (const f of this.#orgs) f.setInstanceUrl(url)
  }
  setRestRedirect(to: string | null | true): void {
    for (const f of this.#orgs) f.setRestRedirect(to)
  }
  setSsoOnly(enabled: boolean): void {
    for (const f of this.#orgs) f.setSsoOnly(enabled)
  }
  setSameOrgSso(enabled: boolean): void {
    for (const f of this.#orgs) f.setSameOrgSso(enabled)
  }
  setRateLimited(enabled: boolean): void {
    for (const f of this.#orgs) f.setRateLimited(enabled)
  }
  setLatency(latency: LatencySettings): void {
    for (const f of this.#orgs) f.setLatency(latency)
  }
  failNext(count: number, options?: { status?: number; scope?: FaultScope }): void {
    for (const f of this.#orgs) f.failNext(count, options)
  }
  setBlockedSession(enabled: boolean): void {
    for (const f of this.#orgs) f.setBlockedSession(enabled)
  }
  reset(): void {
    for (const f of this.#orgs) f.reset()
  }
}

/**
 * Starts the emulator from a seed object or a seed file path (JSON/YAML). Every org listens on
 * 127.0.0.1 (port 0 unless the seed says otherwise).
 *
 * @throws {SeedError} for an invalid seed.
 */
export async function startEmulator(
  seed?: EmulatorSeed | string,
  options: StartOptions = {},
): Promise<Emulator> {
  const valid = typeof seed === 'string' ? loadSeedFile(seed) : validateSeed(seed)
  const orgSeeds =
    valid.orgs !== undefined && valid.orgs.length > 0 ? valid.orgs : [{ name: 'default' }]
  const clock = new Clock()
  const requestLog = new RequestLog()
  const listeners: Listener[] = []
  const orgs: EmulatedOrg[] = []
  try {
    for (const [index, orgSeed] of orgSeeds.entries()) {
      const state = new OrgState(
        orgSeed,
        clock,
        valid.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
        requestLog,
      )
      const port = index === 0 && options.port !== undefined ? options.port : (orgSeed.port ?? 0)
      let instanceOrigin = ''
      let loginOrigin = ''
      const instance = await listen(
        orgRequestListener(state, () => instanceOrigin),
        port,
      )
      listeners.push(instance)
      instanceOrigin = instance.origin
      loginOrigin = instance.origin
      if (orgSeed.separateLoginOrigin === true) {
        const login = await listen(orgRequestListener(state, () => loginOrigin))
        listeners.push(login)
        loginOrigin = login.origin
      }
      let lightningUrl: string | undefined
      if (orgSeed.lightning === true) {
        const lightning = await listen(lightningRequestListener(state))
        listeners.push(lightning)
        lightningUrl = lightning.origin
      }
      const data = new OrgData({
        orgId: state.orgId,
        orgName: state.name,
        instanceUrl: instanceOrigin,
        users: state.users.map((u) => state.dataUser(u)),
        customObjects: state.customObjects,
        customFields: state.customFields,
        records: state.seedRecords,
        isSandbox: state.isSandbox,
        defaultBatchSize: state.queryBatchSize,
        now: () => clock.now(),
      })
      state.bind({ instanceUrl: instanceOrigin, loginUrl: loginOrigin, lightningUrl }, data)
      orgs.push(new EmulatedOrg(state))
    }
  } catch (err) {
    await Promise.all(listeners.map(close))
    throw err
  }
  let closed: Promise<void> | undefined
  return {
    orgs,
    org(name?: string): EmulatedOrg {
      const org = name === undefined ? orgs[0] : orgs.find((o) => o.name === name)
      if (org === undefined) {
        throw new Error(`no org named ${name ?? ''}; known: ${orgs.map((o) => o.name).join(', ')}`)
      }
      return org
    },
    requestLog,
    faults: new AllOrgsFaults(orgs.map((o) => o.faults)),
    clock,
    close(): Promise<void> {
      closed ??= Promise.all(listeners.map(close)).then(() => undefined)
      return closed
    },
  }
}
