/**
 * Small statistics over recorded samples: nearest-rank percentiles on a sorted copy (exact, not
 * approximated — the sample counts here are at most a few hundred thousand) and the median of
 * round results.
 */

/**
 * The nearest-rank percentile `p` (0–100) of `sorted` (ascending). `NaN` when empty.
 *
 * @example
 * percentile([1, 2, 3, 4], 50) // 2
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/**
 * The median of `values` (mean of the middle two for an even count). `NaN` when empty.
 *
 * @example
 * median([3, 1, 2]) // 2
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Spread of round results: (max − min) / median, as a fraction. `NaN` when empty.
 *
 * @example
 * spread([9, 10, 11]) // 0.2
 */
export function spread(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  return (Math.max(...values) - Math.min(...values)) / median(values)
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

/**
 * p50, p99 and max of latency samples recorded in nanoseconds.
 *
 * @example
 * summarizeLatency(Float64Array.from([1e6, 2e6])) // { p50Ms: 1, p99Ms: 2, maxMs: 2 }
 */
export function summarizeLatency(samplesNs: Float64Array): LatencySummary {
  const sorted = Float64Array.from(samplesNs).sort()
  return {
    p50Ms: percentile(sorted, 50) / 1e6,
    p99Ms: percentile(sorted, 99) / 1e6,
    maxMs: (sorted[sorted.length - 1] ?? Number.NaN) / 1e6,
  }
}
