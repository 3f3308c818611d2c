import { hrtime } from 'node:process'
import { summarizeLatency, type LatencySummary } from './stats.ts'

/** One request of a scenario: resolves to the HTTP status after the body was consumed. */
export type Operation = () => Promise<number>

/** Options for {@link runLoad}. */
export interface LoadOptions {
  /** Concurrent async loops (each awaits one request at a time, like a keep-alive client). */
  readonly concurrency: number
  /** Stop starting new requests after this long. */
  readonly durationMs: number
  /** Hard cap on requests, so that a round stays bounded whatever the speed. */
  readonly maxRequests?: number
}

/** What one round measured. */
export interface LoadResult {
  readonly requests: number
  readonly elapsedMs: number
  readonly rps: number
  readonly latency: LatencySummary
  /** CPU time this process spent per request (user + system), in microseconds. */
  readonly cpuUsPerRequest: number
  /** Responses that were not 2xx, and thrown errors. */
  readonly failures: number
  readonly firstFailure?: string
}

/**
 * Runs `op` from `concurrency` async loops for `durationMs` (or `maxRequests`), recording each
 * request's latency with `process.hrtime.bigint()`. A fixed number of loops, not a `Promise.all`
 * over every request: memory stays flat and the generator costs the same for every scenario.
 *
 * @example
 * const r = await runLoad(() => request(url).then(async (res) => (await res.body.text(), res.statusCode)), { concurrency: 64, durationMs: 1000 })
 */
export async function runLoad(op: Operation, options: LoadOptions): Promise<LoadResult> {
  const cap = options.maxRequests ?? 5_000_000
  const samples = new Float64Array(Math.min(cap, 2_000_000))
  let started = 0
  let recorded = 0
  let failures = 0
  let firstFailure: string | undefined
  const cpu0 = process.cpuUsage()
  const t0 = hrtime.bigint()
  const deadline = t0 + BigInt(Math.round(options.durationMs * 1e6))
  const loop = async (): Promise<void> => {
    for (;;) {
      const start = hrtime.bigint()
      if (start >= deadline || started >= cap) return
      started++
      try {
        const status = await op()
        if (status < 200 || status > 299) {
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
      if (recorded < samples.length) samples[recorded++] = Number(hrtime.bigint() - start)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, loop))
  const elapsedMs = Number(hrtime.bigint() - t0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  return {
    requests: started,
    elapsedMs,
    rps: started / (elapsedMs / 1000),
    latency: summarizeLatency(samples.subarray(0, recorded)),
    cpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, started),
    failures,
    ...(firstFailure === undefined ? {} : { firstFailure }),
  }
}
