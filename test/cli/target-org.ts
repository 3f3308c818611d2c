/**
 * The set-up the CLI tests share: the Salesforce emulator with one org, `target`, a temporary
 * Callout home beside it, and the `callout init` + `callout apply` that configure the home.
 */
import {
  startEmulator,
  type ConnectedAppSeed,
  type EmulatedOrg,
  type Emulator,
  type OrgSeed,
} from '@callout/salesforce-emulator'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
import { rsaKeyPair, runCli, tempHome, writeText, type CliRun, type TempHome } from './helpers.ts'

/** The user the jwt-bearer credentials of the CLI tests act as. */
export const JWT_USER = 'integration@target.example'

/** The emulator, its org `target`, and a temporary Callout home (not yet initialised). */
export interface TargetOrg {
  readonly emulator: Emulator
  readonly org: EmulatedOrg
  readonly t: TempHome
  /** Closes the emulator and removes the home. */
  close(): Promise<void>
}

/** Starts the emulator with the org `target` seeded with `seed`, and creates a temporary home. */
export async function startTargetOrg(seed: Omit<OrgSeed, 'name'>): Promise<TargetOrg> {
  const emulator = await startEmulator({ orgs: [{ name: 'target', ...seed }] })
  const t = await tempHome()
  return {
    emulator,
    org: emulator.org('target'),
    t,
    close: async () => {
      await emulator.close()
      await t.remove()
    },
  }
}

/** A connected app for the jwt-bearer flow, and the private keys a test writes beside its config. */
export interface JwtApp {
  /** The app's seed: it trusts the certificate of `server.key`. */
  readonly app: ConnectedAppSeed
  /** Writes `server.key` (the app's key) and `other.key` (a key no app trusts), mode 0600. */
  writeKeys(dir: string): Promise<void>
}

/** A jwt-bearer connected app named `name` (default `Server`), pre-authorized unless told. */
export function jwtApp(name = 'Server', options: { adminPreAuthorized?: boolean } = {}): JwtApp {
  const { publicPem, privatePem } = rsaKeyPair()
  return {
    app: {
      name,
      callbackUrls: ['http://localhost:1717/cb'],
      certificate: publicPem,
      ...(options.adminPreAuthorized === false ? {} : { adminPreAuthorized: true }),
    },
    writeKeys: async (dir) => {
      await writeFile(join(dir, 'server.key'), privatePem, { mode: 0o600 })
      await writeFile(join(dir, 'other.key'), rsaKeyPair().privatePem, { mode: 0o600 })
    },
  }
}

/**
 * Writes `yaml` to `callout.yaml` in the home's folder, then runs `callout init` (expecting exit 0)
 * and `callout apply -f callout.yaml`; returns the config's path and the apply run, for the test to
 * check.
 */
export async function initAndApply(
  t: TempHome,
  env: Record<string, string | undefined>,
  yaml: string,
): Promise<{ config: string; applied: CliRun }> {
  const config = await writeText(t.dir, 'callout.yaml', yaml)
  expect((await runCli(['init'], env)).code).toBe(0)
  return { config, applied: await runCli(['apply', '-f', config], env, { cwd: t.dir }) }
}
