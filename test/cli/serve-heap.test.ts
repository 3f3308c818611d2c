/**
 * `callout serve` sets V8's old-generation growing factor to 1.5 on its own process (V8 otherwise
 * lets a fast-allocating heap grow to four times what is live), unless the operator chose one.
 * Observed as V8 reports it: `--trace-gc-verbose` prints the factor of each new heap limit.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveHeapFlags } from '../../src/cli/serve-heap.ts'
import { BIN, runCli, tempHome, waitFor, type TempHome } from './helpers.ts'

const SERVE_HEAP = fileURLToPath(new URL('../../src/cli/serve-heap.ts', import.meta.url))
/** V8's line for a new old-generation limit, e.g. `[HeapController] Limit: … (1.5)`. */
const LIMIT = /\[HeapController\] Limit: [^\n]*\((\d+\.\d)\)/g

/** The growing factors V8 printed in `text`. */
function factors(text: string): string[] {
  return [...text.matchAll(LIMIT)].map((m) => m[1]!)
}

/** Runs `node <flags> -e <script>` (TypeScript through tsx) and returns its stdout. */
function node(flags: readonly string[], script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--expose-gc', '--trace-gc-verbose', ...flags, '--input-type=module'],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')))
    child.on('error', reject)
    child.on('close', () => resolve(out))
    child.stdin.end(script)
  })
}

/** Tunes the heap (or not), marks the output, then runs a full collection. */
const tuneThenCollect = (tune: boolean): string =>
  `${tune ? `const { tuneHeapForServe } = await import(${JSON.stringify(SERVE_HEAP)}); tuneHeapForServe();` : ''}
   console.log('-- collecting'); globalThis.gc()`

const afterMark = (out: string): string => out.slice(out.indexOf('-- collecting'))

describe('serveHeapFlags', () => {
  it('sets --heap-growing-percent=50 when the operator chose none', () => {
    expect(serveHeapFlags([])).toEqual(['--heap-growing-percent=50'])
    expect(serveHeapFlags(['--max-semi-space-size=2', '--enable-source-maps'])).toEqual([
      '--heap-growing-percent=50',
    ])
  })

  it("keeps the operator's value from the node command line", () => {
    expect(serveHeapFlags(['--heap-growing-percent=80'])).toEqual([])
    expect(serveHeapFlags(['--heap_growing_percent=80'])).toEqual([])
  })
})

describe('tuneHeapForServe', () => {
  it('makes V8 grow the old generation by 1.5× after a full collection', async () => {
    const out = afterMark(await node([], tuneThenCollect(true)))
    expect(factors(out)).not.toHaveLength(0)
    expect(new Set(factors(out))).toEqual(new Set(['1.5']))
  })

  it("leaves an operator's --heap-growing-percent in force", async () => {
    const out = afterMark(await node(['--heap-growing-percent=80'], tuneThenCollect(true)))
    expect(new Set(factors(out))).toEqual(new Set(['1.8']))
  })
})

describe('callout serve as a process', () => {
  let t: TempHome
  beforeAll(async () => {
    t = await tempHome()
    expect((await runCli(['init'], t.env)).code).toBe(0)
  })
  afterAll(async () => {
    await t.remove()
  })

  it('runs with the 1.5 growing factor (a heap snapshot forces the full collection)', async () => {
    const child = spawn(
      process.execPath,
      ['--trace-gc-verbose', '--heapsnapshot-signal=SIGUSR2', BIN, 'serve', '--port', '0'],
      { env: t.env as NodeJS.ProcessEnv, cwd: t.dir, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    const exited = new Promise((resolve) => child.on('close', resolve))
    try {
      await waitFor(() => /listening on http:/.test(stderr), 30_000)
      const listening = stdout.length
      child.kill('SIGUSR2')
      await waitFor(() => factors(stdout.slice(listening)).length > 0, 30_000)
      expect(new Set(factors(stdout.slice(listening)))).toEqual(new Set(['1.5']))
    } finally {
      child.kill('SIGTERM')
      await exited
    }
  }, 60_000)
})
