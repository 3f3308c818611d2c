/**
 * A profiling harness for `callout serve`, not part of `npm run bench`: starts the bench upstream
 * and the proxy (compiled, or `--from src` through tsx; or the bare Node pass-through, `--target bare`) with extra Node flags (e.g.
 * `--cpu-prof`), drives it with wrk for a fixed time, prints its CPU time per request, then stops
 * it with SIGTERM so that Node writes the profile.
 *
 *   node --import tsx bench/profile-proxy.ts --node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/p
 *   node --import tsx bench/profile-summary.ts /tmp/p/<file>.cpuprofile
 */
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { request } from 'undici'
import { calloutCommand, stopChild, waitForOutput, type ProxyFrom } from './proxy.ts'
import { cliEnv, applyWithClientKey, createBenchHome } from './setup.ts'
import { startUpstream } from './upstream-process.ts'

const run = promisify(execFile)
const { values: args } = parseArgs({
  options: {
    'node-arg': { type: 'string', multiple: true, default: [] },
    target: { type: 'string', default: 'proxy' },
    from: { type: 'string', default: 'dist' },
    entry: { type: 'string' },
    connections: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '5' },
  },
})

/** User and system CPU time of a process, in ms (100 clock ticks per second). */
async function cpu(pid: number): Promise<{ user: number; system: number }> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 }
}

const upstream = await startUpstream()
const home = await createBenchHome(upstream.origin)
const env = cliEnv(home)
let child: ChildProcess | undefined
try {
  const key = await applyWithClientKey(home, 'bench')
  const callout =
    args.entry !== undefined
      ? [args.entry]
      : await calloutCommand(args.from as ProxyFrom, (m) => console.error(m))
  const serve = spawn(process.execPath, [...args['node-arg'], ...callout, 'serve', '--port', '0'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  child = serve
  const origin = (await waitForOutput(serve, /listening on (http:\S+)/, 60_000))[1]!
  let url = `${origin}/callout/Api/x`
  const warm = await request(url, { headers: { 'proxy-authorization': `Bearer ${key}` } })
  await warm.body.dump()
  let pid = serve.pid!
  if (args.target === 'bare') {
    const bare = fork(
      fileURLToPath(new URL('./proxy-passthrough.ts', import.meta.url)),
      [upstream.origin, (await upstream.current()) ?? ''],
      {
        execArgv: ['--import', 'tsx', ...args['node-arg']],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      },
    )
    serve.kill('SIGTERM')
    child = bare
    const port = await new Promise<number>((resolve) =>
      bare.once('message', (m: { port: number }) => resolve(m.port)),
    )
    url = `http://127.0.0.1:${port}/callout/Api/x`
    pid = bare.pid!
  }
  await upstream.reset()
  const cpu0 = await cpu(pid)
  const { stdout } = await run('wrk', [
    '-t2',
    `-c${args.connections}`,
    `-d${args.seconds}s`,
    '--latency',
    '-H',
    `Proxy-Authorization: Bearer ${key}`,
    url,
  ])
  const cpu1 = await cpu(pid)
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN)
  const per = (ms: number): string => ((ms * 1000) / requests).toFixed(1)
  console.log(stdout)
  console.log(
    `${args.target} CPU per request: ${per(cpu1.user - cpu0.user)} µs user, ${per(cpu1.system - cpu0.system)} µs system`,
  )
  console.log(`upstream: ${JSON.stringify(await upstream.stats())}`)
  if (args.target === 'proxy') {
    // Garbage collection and heap, from the proxy's own Prometheus metrics.
    const metrics = await request(`${origin}/metrics`)
    const text = await metrics.body.text()
    for (const line of text.split('\n')) {
      if (
        /^nodejs_gc_duration_seconds_(sum|count)|^nodejs_heap_size_used_bytes|^process_resident_memory_bytes/.test(
          line,
        )
      ) {
        console.log(line)
      }
    }
  }
} finally {
  await stopChild(child)
  await upstream.close()
  await home.remove()
}
