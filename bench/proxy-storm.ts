/**
 * The refresh storm through the proxy, scaled out: N `callout serve` processes on one PostgreSQL
 * (an isolated schema, named in the store URL as a deployment would) and 1,000 concurrent
 * requests on a revoked token, spread across them — against the same storm sent to one of those
 * processes alone, measured in the same run, rounds alternating. Each round must cause exactly one
 * token request and no failed request. A warm-up burst on every instance first, so that no side
 * pays for cold code or cold connections.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { Agent, request } from 'undici'
import { openStore } from '../src/store/open-store.ts'
import { parseMasterKey } from '../src/secrets/master-key.ts'
import { generateClientKey } from '../src/server/client-key.ts'
import { openBroker } from '../src/callout/open-broker.ts'
import { calloutCommand, waitForOutput, type ProxyFrom } from './proxy.ts'
import type { BenchHome } from './setup.ts'
import { median } from './stats.ts'
import type { Upstream } from './upstream-process.ts'

/** One storm: drain time and what the upstream saw. */
export interface ProxyStormRound {
  readonly instances: number
  readonly drainMs: number
  readonly ok: number
  readonly failures: number
  readonly firstFailure?: string
  readonly tokenRequests: number
}

/** Both sides of the scaled-out proxy storm. */
export interface ProxyStormResult {
  readonly callouts: number
  readonly instances: number
  readonly single: readonly ProxyStormRound[]
  readonly scaled: readonly ProxyStormRound[]
  readonly singleMedianMs: number
  readonly scaledMedianMs: number
}

/**
 * Runs the storm `rounds` times on one instance and on `instances` instances, alternating.
 *
 * @example
 * const r = await proxyStorm({ upstream, home, pgUrl, schema, instances: 4, callouts: 1000, rounds: 3, progress })
 */
export async function proxyStorm(options: {
  readonly upstream: Upstream
  readonly home: BenchHome
  readonly pgUrl: string
  readonly schema: string
  readonly instances: number
  readonly callouts: number
  readonly rounds: number
  readonly from: ProxyFrom
  readonly progress: (message: string) => void
}): Promise<ProxyStormResult> {
  const { upstream, home, instances, callouts } = options
  const masterKey = parseMasterKey(home.masterKey, 'bench master key')
  const store = await openStore({
    home: home.home,
    env: home.env,
    url: options.pgUrl,
    schema: options.schema,
    masterKey,
  })
  const key = generateClientKey()
  try {
    const broker = await openBroker({
      home: home.home,
      env: home.env,
      store,
      config: home.configPath,
    })
    await broker.close()
    await store.clientKeys.createClientKey({
      id: key.id,
      name: 'bench-storm',
      rules: ['Api'],
      anyUser: false,
      keyHash: key.hash,
      createdAt: Date.now(),
    })
  } finally {
    await store.close()
  }
  const storeUrl = new URL(options.pgUrl)
  storeUrl.searchParams.set('options', `-c search_path=${options.schema}`)
  const env = {
    ...process.env,
    ...home.env,
    CALLOUT_HOME: home.home,
    CALLOUT_MASTER_KEY: home.masterKey,
    CALLOUT_STORE: storeUrl.href,
  }
  const callout = await calloutCommand(options.from, options.progress)
  const children: ChildProcess[] = []
  const agent = new Agent({ connections: callouts, keepAliveTimeout: 30_000 })
  try {
    options.progress(`proxy storm: starting ${instances} callout serve processes on PostgreSQL`)
    const origins = await Promise.all(
      Array.from({ length: instances }, async () => {
        const child = spawn(
          process.execPath,
          [...callout, 'serve', '--port', '0', '--key-cache-ms', '600000'],
          { env, stdio: ['ignore', 'ignore', 'pipe'] },
        )
        children.push(child)
        return (await waitForOutput(child, /listening on (http:\S+)/, 60_000))[1]!
      }),
    )
    const headers = { 'proxy-authorization': `Bearer ${key.key}` }
    const burst = async (targets: readonly string[], count: number) => {
      let ok = 0
      let failures = 0
      let firstFailure: string | undefined
      const started = performance.now()
      await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          try {
            const res = await request(`${targets[i % targets.length]}/callout/Api/x`, {
              dispatcher: agent,
              headers,
            })
            const text = await res.body.text()
            if (res.statusCode === 200) ok++
            else {
              failures++
              firstFailure ??= `HTTP ${res.statusCode} ${text.slice(0, 200)}`
            }
          } catch (error) {
            failures++
            firstFailure ??= String(error)
          }
        }),
      )
      return { drainMs: performance.now() - started, ok, failures, firstFailure }
    }
    // Warm-up: code, client connections and upstream connections on every instance.
    for (const origin of origins) await burst([origin], 1)
    await burst(origins, callouts)
    const storm = async (targets: readonly string[]): Promise<ProxyStormRound> => {
      await upstream.revoke()
      await upstream.reset()
      const r = await burst(targets, callouts)
      const stats = await upstream.stats()
      return {
        instances: targets.length,
        drainMs: r.drainMs,
        ok: r.ok,
        failures: r.failures,
        ...(r.firstFailure === undefined ? {} : { firstFailure: r.firstFailure }),
        tokenRequests: stats.tokenRequests,
      }
    }
    const single: ProxyStormRound[] = []
    const scaled: ProxyStormRound[] = []
    for (let round = 0; round < options.rounds; round++) {
      options.progress(`proxy storm: round ${round + 1}/${options.rounds}`)
      if (round % 2 === 0) {
        single.push(await storm(origins.slice(0, 1)))
        scaled.push(await storm(origins))
      } else {
        scaled.push(await storm(origins))
        single.push(await storm(origins.slice(0, 1)))
      }
    }
    return {
      callouts,
      instances,
      single,
      scaled,
      singleMedianMs: median(single.map((r) => r.drainMs)),
      scaledMedianMs: median(scaled.map((r) => r.drainMs)),
    }
  } finally {
    await agent.close()
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve()
            c.once('exit', () => resolve())
            c.kill('SIGTERM')
          }),
      ),
    )
  }
}
