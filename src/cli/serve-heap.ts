/**
 * V8 heap sizing for `callout serve`, a long-running process whose memory is read by operators.
 * Between two mark-compact collections the old generation fills with requests that were in flight
 * when a scavenge ran; by default V8 lets it grow to several times what is live before collecting
 * it (the factor rises with allocation speed), so the proxy's RSS after a burst of traffic depends
 * mostly on where the collector is in that cycle. A growing factor of 1.5 collects sooner; see
 * docs/performance.md for the measured RSS and throughput.
 */
import { setFlagsFromString } from 'node:v8'

/** Old-generation growth after a mark-compact, in percent (V8's `--heap-growing-percent`). */
export const SERVE_HEAP_GROWING_PERCENT = 50

const FLAG = /^--heap[-_]growing[-_]percent(?:=|$)/

/**
 * The V8 flags `callout serve` sets on its own process: `--heap-growing-percent=50`, unless the
 * operator chose a value on the node command line (`node --heap-growing-percent=N …`; Node does
 * not accept this flag in `NODE_OPTIONS`).
 *
 * @example
 * serveHeapFlags([]) // ['--heap-growing-percent=50']
 * serveHeapFlags(['--heap-growing-percent=80']) // []
 */
export function serveHeapFlags(execArgv: readonly string[]): string[] {
  return execArgv.some((arg) => FLAG.test(arg))
    ? []
    : [`--heap-growing-percent=${SERVE_HEAP_GROWING_PERCENT}`]
}

/**
 * Applies {@link serveHeapFlags} to this process. V8 reads the growing factor each time it sets
 * the next collection's limit, so setting it at run time takes effect from the next mark-compact.
 * Returns the flags set.
 *
 * @example
 * tuneHeapForServe() // ['--heap-growing-percent=50']
 */
export function tuneHeapForServe(): string[] {
  const flags = serveHeapFlags(process.execArgv)
  for (const flag of flags) setFlagsFromString(flag)
  return flags
}
