import { fork, type ChildProcess } from 'node:child_process'
import { hrtime } from 'node:process'
import { fileURLToPath } from 'node:url'
import { CALLOUT_URL, openBenchBroker, type BenchHome, type BenchStore } from './setup.ts'
import type { StormChildMessage, StormGo } from './storm-child.ts'
import type { BurstResult } from './storm.ts'
import type { Upstream } from './upstream-process.ts'
import type { UpstreamStats } from './upstream-protocol.ts'

/** What the multi-process storm measured. */
export interface MultiStormResult {
  readonly processes: number
  readonly callouts: number
  /** From `go` to the last process's `done`. */
  readonly drainMs: number
  /** Each process's own drain time (its burst, measured inside it). */
  readonly perProcessDrainMs: readonly number[]
  readonly ok: number
  readonly failures: number
  readonly firstFailure?: string
  readonly upstream: UpstreamStats
}

const CHILD = fileURLToPath(new URL('./storm-child.ts', import.meta.url))
const READY_TIMEOUT_MS = 60_000

function waitFor<T extends StormChildMessage['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<StormChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`storm child did not send ${type} in time`)),
      READY_TIMEOUT_MS,
    )
    const onMessage = (message: StormChildMessage): void => {
      if (message.type === 'error') {
        cleanup()
        reject(new Error(`storm child failed: ${message.message}`))
      } else if (message.type === type) {
        cleanup()
        resolve(message as Extract<StormChildMessage, { type: T }>)
      }
    }
    const onExit = (code: number | null): void => {
      cleanup()
      reject(new Error(`storm child exited (code ${code}) before ${type}`))
    }
    const cleanup = (): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

/**
 * The refresh storm across processes sharing one store: the parent applies the config and
 * obtains the first token; `processes` children open brokers on the same store, each reads the
 * stored token (a warm-up callout); the upstream revokes it; on `go` each child fires
 * `callouts / processes` callouts at once. Exactly one token request is expected in total: one
 * process takes the store lease and refreshes, the others re-read and use its token.
 *
 * @example
 * const r = await multiProcessStorm({ upstream, home, where: { kind: 'sqlite', url }, processes: 4, callouts: 1000 })
 */
export async function multiProcessStorm(options: {
  readonly upstream: Upstream
  readonly home: BenchHome
  readonly where: BenchStore
  readonly processes: number
  readonly callouts: number
}): Promise<MultiStormResult> {
  const { upstream, home, where, processes, callouts } = options
  const setup = await openBenchBroker(home, where, { applyConfig: true })
  try {
    const res = await setup.broker.request(CALLOUT_URL)
    await res.body.dump()
    if (res.statusCode !== 200)
      throw new Error(`multi-process warm-up answered HTTP ${res.statusCode}`)
  } finally {
    await setup.close()
  }
  const env = {
    ...process.env,
    BENCH_HOME_JSON: JSON.stringify({
      home: home.home,
      configPath: home.configPath,
      masterKey: home.masterKey,
      env: home.env,
    }),
    BENCH_STORE_JSON: JSON.stringify(where),
  }
  const children = Array.from({ length: processes }, () =>
    fork(CHILD, [], {
      execArgv: ['--import', 'tsx'],
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  try {
    await Promise.all(children.map((c) => waitFor(c, 'ready')))
    await upstream.revoke()
    await upstream.reset()
    const share = Math.floor(callouts / processes)
    const done = children.map((c) => waitFor(c, 'done'))
    const t0 = hrtime.bigint()
    children.forEach((c, i) => {
      const go: StormGo = {
        type: 'go',
        callouts: i === 0 ? callouts - share * (processes - 1) : share,
      }
      c.send(go)
    })
    const results: BurstResult[] = (await Promise.all(done)).map((m) => m.result)
    const drainMs = Number(hrtime.bigint() - t0) / 1e6
    const firstFailure = results.find((r) => r.firstFailure !== undefined)?.firstFailure
    return {
      processes,
      callouts,
      drainMs,
      perProcessDrainMs: results.map((r) => r.drainMs),
      ok: results.reduce((n, r) => n + r.ok, 0),
      failures: results.reduce((n, r) => n + r.failures, 0),
      ...(firstFailure === undefined ? {} : { firstFailure }),
      upstream: await upstream.stats(),
    }
  } finally {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve()
            c.once('exit', () => resolve())
            if (c.connected) c.disconnect()
          }),
      ),
    )
  }
}
