import { hrtime } from 'node:process'
import type { Operation } from './load.ts'
import type { Upstream } from './upstream-process.ts'
import { median } from './stats.ts'
import type { UpstreamStats } from './upstream-protocol.ts'

/** One burst: `callouts` requests started at once, awaited together. */
export interface BurstResult {
  readonly drainMs: number
  readonly ok: number
  readonly failures: number
  readonly firstFailure?: string
}

/**
 * Starts `count` operations at once and waits for all (bodies consumed): the time to drain.
 *
 * @example
 * const { drainMs, ok } = await burst(op, 1000)
 */
export async function burst(op: Operation, count: number): Promise<BurstResult> {
  let ok = 0
  let failures = 0
  let firstFailure: string | undefined
  const t0 = hrtime.bigint()
  await Promise.all(
    Array.from({ length: count }, async () => {
      try {
        const status = await op()
        if (status >= 200 && status <= 299) ok++
        else {
          failures++
          firstFailure ??= `HTTP ${status}`
        }
      } catch (error) {
        failures++
        firstFailure ??=
          error instanceof Error
            ? `${(error as { code?: string }).code ?? error.name}: ${error.message}`
            : String(error)
      }
    }),
  )
  return {
    drainMs: Number(hrtime.bigint() - t0) / 1e6,
    ok,
    failures,
    ...(firstFailure === undefined ? {} : { firstFailure }),
  }
}

/** One repetition of the in-process storm. */
export interface StormRound {
  /** The same burst, direct, with a valid token in hand (no 401, no refresh). */
  readonly direct: BurstResult
  /** The burst through the broker right after the upstream revoked the cached token. */
  readonly storm: BurstResult
  readonly upstream: UpstreamStats
}

/**
 * The refresh storm in one process: the upstream revokes the token the broker has cached, then
 * `callouts` concurrent callouts each get a 401, share one refresh, and retry. The upstream
 * counts token requests (expected: exactly 1 per round).
 *
 * @example
 * const rounds = await refreshStorm({ upstream, broker: op, direct: (token) => op2(token), callouts: 1000, repeats: 3 })
 */
export async function refreshStorm(options: {
  readonly upstream: Upstream
  readonly broker: Operation
  readonly direct: (token: string) => Operation
  readonly callouts: number
  readonly repeats: number
}): Promise<StormRound[]> {
  const rounds: StormRound[] = []
  for (let i = 0; i < options.repeats; i++) {
    const token = await options.upstream.current()
    if (token === null) throw new Error('the upstream has no current token before the storm')
    const direct = await burst(options.direct(token), options.callouts)
    await options.upstream.revoke()
    await options.upstream.reset()
    const storm = await burst(options.broker, options.callouts)
    rounds.push({ direct, storm, upstream: await options.upstream.stats() })
  }
  return rounds
}

/** The median drain time of the rounds' storms and direct bursts. */
export function stormDrain(rounds: readonly StormRound[]): { direct: number; storm: number } {
  return {
    direct: median(rounds.map((r) => r.direct.drainMs)),
    storm: median(rounds.map((r) => r.storm.drainMs)),
  }
}
