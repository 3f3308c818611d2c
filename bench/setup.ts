import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Broker } from '../src/callout/broker.ts'
import { openBroker } from '../src/callout/open-broker.ts'
import { parseMasterKey } from '../src/secrets/master-key.ts'
import { openStore } from '../src/store/open-store.ts'
import type { Store } from '../src/store/types.ts'
import { BENCH_CLIENT } from './upstream-protocol.ts'

/** The callout every scenario makes. */
export const CALLOUT_URL = 'callout:Api/x'
/** The path the direct baseline calls (the Named Credential's URL is `<origin>/api`). */
export const DIRECT_PATH = '/api/x'

/** A temp Callout home with a config file pointing at the upstream. */
export interface BenchHome {
  readonly home: string
  readonly configPath: string
  /** Base64 master key text, shared with child processes. */
  readonly masterKey: string
  /** The environment the config's `${env:…}` references read. */
  readonly env: Record<string, string>
  remove(): Promise<void>
}

/**
 * The environment for `callout` child processes on `home`: this process's, the config's
 * variables, `CALLOUT_HOME` and `CALLOUT_MASTER_KEY`.
 *
 * @example
 * spawn(process.execPath, [entry, 'serve', '--port', '0'], { env: cliEnv(home) })
 */
export function cliEnv(home: BenchHome): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...home.env,
    CALLOUT_HOME: home.home,
    CALLOUT_MASTER_KEY: home.masterKey,
  }
}

/**
 * Applies the bench config to `home`'s store with the CLI and creates a client key allowed on
 * `Api` named `name`; returns the key (`ck_…`).
 *
 * @example
 * const key = await applyWithClientKey(home, 'bench')
 */
export async function applyWithClientKey(home: BenchHome, name: string): Promise<string> {
  const run = promisify(execFile)
  const bin = fileURLToPath(new URL('../bin/callout.js', import.meta.url))
  const env = cliEnv(home)
  await run(process.execPath, [bin, 'apply', '-f', home.configPath], { env })
  const created = await run(
    process.execPath,
    [bin, 'keys', 'create', '--allow', 'Api', '--name', name],
    { env },
  )
  return created.stdout.trim()
}

/**
 * Creates a temp home and a config: an `oauth2` AuthProvider whose `tokenUrl` is the upstream's
 * `/token` (loopback http is allowed), a client-credentials ExternalCredential, and a Named
 * Credential `Api` at `<origin>/api`.
 *
 * @example
 * const home = await createBenchHome(upstream.origin)
 */
export async function createBenchHome(origin: string): Promise<BenchHome> {
  const home = await mkdtemp(join(tmpdir(), 'callout-bench-'))
  const configPath = join(home, 'callout.yaml')
  await writeFile(
    configPath,
    [
      'version: 1',
      'authProviders:',
      '  BenchAuth:',
      '    type: oauth2',
      `    tokenUrl: ${origin}/token`,
      `    consumerKey: ${BENCH_CLIENT.id}`,
      "    consumerSecret: '${env:BENCH_CLIENT_SECRET}'",
      'externalCredentials:',
      '  BenchCC:',
      '    protocol: oauth2',
      '    flow: client-credentials',
      '    authProvider: BenchAuth',
      '    principals:',
      '      Service: { type: named }',
      'namedCredentials:',
      '  Api:',
      `    url: ${origin}/api`,
      '    externalCredential: BenchCC',
      '',
    ].join('\n'),
  )
  return {
    home,
    configPath,
    masterKey: randomBytes(32).toString('base64'),
    env: { BENCH_CLIENT_SECRET: BENCH_CLIENT.secret },
    remove: () => rm(home, { recursive: true, force: true }),
  }
}

/** Where a broker keeps its state in the bench. */
export type BenchStore =
  | { readonly kind: 'memory' }
  | { readonly kind: 'sqlite'; readonly url: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string }

/** A broker and the store it was opened on (closed together). */
export interface BenchBroker {
  readonly broker: Broker
  close(): Promise<void>
}

/**
 * Opens a broker on the bench home. PostgreSQL goes through `openStore` (for its isolated
 * `schema`, which `openBroker`'s store URL cannot express) and is handed to `openBroker` as an
 * open store.
 *
 * @example
 * const { broker, close } = await openBenchBroker(home, { kind: 'memory' }, { applyConfig: true })
 */
export async function openBenchBroker(
  home: Pick<BenchHome, 'home' | 'configPath' | 'masterKey' | 'env'>,
  where: BenchStore,
  options: { readonly applyConfig: boolean },
): Promise<BenchBroker> {
  const masterKey = parseMasterKey(home.masterKey, 'bench master key')
  const config = options.applyConfig ? { config: home.configPath } : {}
  if (where.kind === 'postgres') {
    const store: Store = await openStore({
      home: home.home,
      env: home.env,
      url: where.url,
      schema: where.schema,
      masterKey,
    })
    const broker = await openBroker({ home: home.home, env: home.env, store, ...config })
    return {
      broker,
      close: async () => {
        await broker.close()
        await store.close()
      },
    }
  }
  const broker = await openBroker({
    home: home.home,
    env: home.env,
    masterKey,
    store: where.kind === 'memory' ? ':memory:' : where.url,
    ...config,
  })
  return { broker, close: () => broker.close() }
}
