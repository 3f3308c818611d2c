/**
 * An allocation harness for `callout serve`, not part of `npm run bench`: starts the bench upstream
 * and a compiled proxy (`--entry`, as for `bench/compare-proxy.ts`) with the inspector on, samples
 * the JS heap allocations (`HeapProfiler.startSampling`) during 4 s of wrk at 16 connections, and
 * prints the bytes allocated per request, by function and by module. With `--survivors`, objects
 * collected by a scavenge are left out: what remains survived one (candidates for promotion).
 *
 *   node --import tsx bench/alloc-proxy.ts --entry /tmp/after/callout.mjs [--survivors]
 */
import { execFile, spawn } from 'node:child_process'
import { parseArgs, promisify } from 'node:util'
import { WebSocket } from 'undici'
import { waitForOutput } from './proxy.ts'
import { cliEnv, applyWithClientKey, createBenchHome } from './setup.ts'
import { startUpstream } from './upstream-process.ts'

interface SamplingNode {
  readonly selfSize: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly children: readonly SamplingNode[]
}

const run = promisify(execFile)
const { values: args } = parseArgs({
  options: { entry: { type: 'string' }, survivors: { type: 'boolean', default: false } },
})
if (args.entry === undefined) throw new Error('usage: --entry <compiled callout entry>')

const upstream = await startUpstream()
const home = await createBenchHome(upstream.origin)
const env = cliEnv(home)
const serve = spawn(
  process.execPath,
  ['--inspect=127.0.0.1:0', args.entry, 'serve', '--port', '0', '--key-cache-ms', '60000'],
  { env, stdio: ['ignore', 'ignore', 'pipe'] },
)
try {
  const key = await applyWithClientKey(home, 'alloc')
  let stderr = ''
  serve.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const origin = (await waitForOutput(serve, /listening on (http:\S+)/, 60_000))[1]!
  const ws = new WebSocket(/(ws:\/\/\S+)/.exec(stderr)![1]!)
  await new Promise((resolve) => ws.addEventListener('open', resolve))
  let next = 0
  const waiting = new Map<number, (result: unknown) => void>()
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown }
    if (message.id !== undefined) waiting.get(message.id)?.(message.result)
  })
  const send = (method: string, params = {}): Promise<unknown> =>
    new Promise((resolve) => {
      const id = ++next
      waiting.set(id, resolve)
      ws.send(JSON.stringify({ id, method, params }))
    })
  const wrk = [
    '-t1',
    '-c16',
    '-d4s',
    '-H',
    `Proxy-Authorization: Bearer ${key}`,
    `${origin}/callout/Api/x`,
  ]
  await run('wrk', wrk) // warm-up, not sampled
  await send('HeapProfiler.enable')
  await send('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: !args.survivors,
  })
  const { stdout } = await run('wrk', wrk)
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN)
  const { profile } = (await send('HeapProfiler.stopSampling')) as {
    profile: { head: SamplingNode }
  }
  ws.close()
  const byFunction = new Map<string, number>()
  const byModule = new Map<string, number>()
  let total = 0
  const walk = (node: SamplingNode): void => {
    const url = node.callFrame.url
      .replace(/^.*node_modules\//, '~/')
      .replace(/^.*\/dist\//, 'dist/')
    const fn = `${node.callFrame.functionName || '(anonymous)'} ${url}:${node.callFrame.lineNumber + 1}`
    const module =
      /^~\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
      (url.split('/').slice(0, 2).join('/') || '(native)')
    total += node.selfSize
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + node.selfSize)
    byModule.set(module, (byModule.get(module) ?? 0) + node.selfSize)
    for (const child of node.children) walk(child)
  }
  walk(profile.head)
  const print = (title: string, map: Map<string, number>, top: number): void => {
    console.log(`\n${title} (bytes per request)`)
    for (const [name, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${(bytes / requests).toFixed(0).padStart(7)}  ${name}`)
    }
  }
  console.log(
    `${requests} requests; ${(total / requests).toFixed(0)} bytes per request ${args.survivors ? 'survived a scavenge' : 'allocated'} (sampled)`,
  )
  print('by function', byFunction, 30)
  print('by module', byModule, 20)
} finally {
  serve.kill('SIGTERM')
  await upstream.close()
  await home.remove()
}
