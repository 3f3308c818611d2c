import { runLoad, type LoadResult, type Operation } from './load.ts'
import type { ResultRow } from './report.ts'
import { median, spread } from './stats.ts'

/** A side-by-side measurement: the direct baseline and the broker doing the same job. */
export interface PairOptions {
  readonly scenario: string
  readonly concurrency: number
  readonly rounds: number
  readonly durationMs: number
  readonly warmupMs: number
  readonly baseline: Operation
  readonly broker: Operation
}

/** Every round of both sides. */
export interface PairResult {
  readonly scenario: string
  readonly concurrency: number
  readonly rounds: readonly { readonly baseline: LoadResult; readonly broker: LoadResult }[]
}

/**
 * Warms both sides up (JIT, connection pools), then runs `rounds` rounds of each, alternating
 * the order (baseline first, then broker first, …) so that drift on a noisy machine hits both.
 *
 * @example
 * const result = await measurePair({ scenario: 'request c=64', concurrency: 64, rounds: 5, durationMs: 1000, warmupMs: 1000, baseline, broker })
 */
export async function measurePair(options: PairOptions): Promise<PairResult> {
  const load = { concurrency: options.concurrency, durationMs: options.warmupMs }
  await runLoad(options.baseline, load)
  await runLoad(options.broker, load)
  const measure = { concurrency: options.concurrency, durationMs: options.durationMs }
  const rounds: { baseline: LoadResult; broker: LoadResult }[] = []
  for (let i = 0; i < options.rounds; i++) {
    if (i % 2 === 0) {
      const baseline = await runLoad(options.baseline, measure)
      const broker = await runLoad(options.broker, measure)
      rounds.push({ baseline, broker })
    } else {
      const broker = await runLoad(options.broker, measure)
      const baseline = await runLoad(options.baseline, measure)
      rounds.push({ baseline, broker })
    }
  }
  return { scenario: options.scenario, concurrency: options.concurrency, rounds }
}

/** Failures recorded in any round of a pair (a correctness problem, not a performance one). */
export function pairFailures(result: PairResult): string[] {
  const out: string[] = []
  result.rounds.forEach((r, i) => {
    for (const side of ['baseline', 'broker'] as const) {
      const load = r[side]
      if (load.failures > 0) {
        out.push(
          `${result.scenario} round ${i + 1} ${side}: ${load.failures} failed (${load.firstFailure ?? '?'})`,
        )
      }
    }
  })
  return out
}

/** Targets for {@link pairRows}. */
export interface PairTargets {
  /** Minimum broker/baseline throughput ratio. */
  readonly minThroughputRatio: number
  /** Maximum added p99 latency in ms (checked at concurrency 1 only). */
  readonly maxAddedP99Ms?: number
}

/**
 * Result rows for a pair: throughput (ratio = median of the per-round ratios, so each ratio
 * compares rounds run back to back), CPU per request, and at concurrency 1 the added p50/p99.
 *
 * @example
 * rows.push(...pairRows(result, { minThroughputRatio: 0.95, maxAddedP99Ms: 0.1 }))
 */
export function pairRows(result: PairResult, targets: PairTargets): ResultRow[] {
  const side = (s: 'baseline' | 'broker', pick: (r: LoadResult) => number): number[] =>
    result.rounds.map((r) => pick(r[s]))
  const paired = (
    pick: (r: LoadResult) => number,
    combine: (b: number, a: number) => number,
  ): number => median(result.rounds.map((r) => combine(pick(r.broker), pick(r.baseline))))
  const rpsRatio = paired(
    (r) => r.rps,
    (b, a) => b / a,
  )
  const scenario = result.scenario
  const rows: ResultRow[] = [
    {
      scenario,
      metric: 'throughput',
      unit: 'req/s',
      baseline: median(side('baseline', (r) => r.rps)),
      broker: median(side('broker', (r) => r.rps)),
      ratio: rpsRatio,
      compare: 'ratio',
      target: `≥ ${targets.minThroughputRatio}`,
      verdict: rpsRatio >= targets.minThroughputRatio ? 'PASS' : 'MISS',
      spread: spread(result.rounds.map((r) => r.broker.rps / r.baseline.rps)),
    },
    {
      scenario,
      metric: 'client CPU',
      unit: 'µs/req',
      baseline: median(side('baseline', (r) => r.cpuUsPerRequest)),
      broker: median(side('broker', (r) => r.cpuUsPerRequest)),
      ratio: paired(
        (r) => r.cpuUsPerRequest,
        (b, a) => b / a,
      ),
      compare: 'ratio',
      target: 'info',
      verdict: 'INFO',
    },
  ]
  if (result.concurrency === 1) {
    const addedP50 = paired(
      (r) => r.latency.p50Ms,
      (b, a) => b - a,
    )
    const addedP99 = paired(
      (r) => r.latency.p99Ms,
      (b, a) => b - a,
    )
    rows.push({
      scenario,
      metric: 'latency p50',
      unit: 'ms',
      baseline: median(side('baseline', (r) => r.latency.p50Ms)),
      broker: median(side('broker', (r) => r.latency.p50Ms)),
      ratio: addedP50,
      compare: 'added',
      target: 'info',
      verdict: 'INFO',
    })
    rows.push({
      scenario,
      metric: 'latency p99',
      unit: 'ms',
      baseline: median(side('baseline', (r) => r.latency.p99Ms)),
      broker: median(side('broker', (r) => r.latency.p99Ms)),
      ratio: addedP99,
      compare: 'added',
      target: targets.maxAddedP99Ms === undefined ? 'info' : `≤ +${targets.maxAddedP99Ms} ms`,
      verdict:
        targets.maxAddedP99Ms === undefined
          ? 'INFO'
          : addedP99 <= targets.maxAddedP99Ms
            ? 'PASS'
            : 'MISS',
    })
  }
  return rows
}
