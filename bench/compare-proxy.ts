/**
 * A/B harness for `callout serve`, not part of `npm run bench`: runs two builds of the proxy (each
 * a command that starts `callout`, e.g. a compiled entry) side by side on one store and one bench
 * upstream, with the bare Node pass-through as the reference, and alternates wrk rounds between
 * them (the order rotates each round), so that what a change bought is measured in one run. On a
 * loaded machine, `--together` drives a and b at the same time instead (half the connections
 * each), so that both see the same machine, and compares their CPU time per request; `--rate N`
 * sends N requests/s to each of a and b at the same time (open loop), so that CPU time per request
 * is compared at the same load (the fairest on a busy machine).
 *
 *   node --import tsx bench/compare-proxy.ts --a /tmp/before/callout.mjs --b /tmp/after/callout.mjs
 *
 * A side may carry Node flags after a `|`: `--b '/tmp/after/callout.mjs|--max-semi-space-size=2'`.
 */
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { request } from 'undici'
import { fixedRate, waitForOutput } from './proxy.ts'
import { cliEnv, applyWithClientKey, createBenchHome } from './setup.ts'
import { median } from './stats.ts'
import { startUpstream } from './upstream-process.ts'

const run = promisify(execFile)
const { values: args } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    together: { type: 'boolean', default: false },
    rate: { type: 'string' },
    /** Seconds of wrk on each side before the rounds (JIT warm-up), not counted. */
    warmup: { type: 'string', default: '5' },
  },
})
if (args.a === undefined || args.b === undefined) throw new Error('usage: --a <entry> --b <entry>')

/** User + system CPU time of a process, in ms (100 clock ticks per second). */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

async function wrk(
  url: string,
  header: string | undefined,
  connections = Number(args.connections),
): Promise<{ rps: number; n: number }> {
  const { stdout } = await run('wrk', [
    '-t2',
    `-c${connections}`,
    `-d${args.seconds}s`,
    ...(header === undefined ? [] : ['-H', header]),
    url,
  ])
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]
  if (/Non-2xx/.test(stdout) || rps === undefined) throw new Error(`wrk against ${url}: ${stdout}`)
  return { rps: Number(rps), n: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN) }
}

const upstream = await startUpstream()
const home = await createBenchHome(upstream.origin)
const env = cliEnv(home)
const children: ChildProcess[] = []
try {
  const key = await applyWithClientKey(home, 'ab')
  const header = `Proxy-Authorization: Bearer ${key}`
  const start = async (entry: string): Promise<{ url: string; pid: number }> => {
    // `entry|--flag,--flag`: Node flags for this side.
    const [file, flags] = entry.split('|') as [string, string | undefined]
    const nodeFlags = flags === undefined ? [] : flags.split(',')
    const serve = spawn(process.execPath, [...nodeFlags, file, 'serve', '--port', '0'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    children.push(serve)
    const origin = (await waitForOutput(serve, /listening on (http:\S+)/, 60_000))[1]!
    const url = `${origin}/callout/Api/x`
    const warm = await request(url, { headers: { 'proxy-authorization': `Bearer ${key}` } })
    await warm.body.dump()
    if (warm.statusCode !== 200) throw new Error(`${entry}: warm-up HTTP ${warm.statusCode}`)
    return { url, pid: serve.pid! }
  }
  const a = await start(args.a)
  const b = await start(args.b)
  const bare = fork(
    fileURLToPath(new URL('./proxy-passthrough.ts', import.meta.url)),
    [upstream.origin, (await upstream.current()) ?? ''],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  )
  children.push(bare)
  const port = await new Promise<number>((resolve) =>
    bare.once('message', (m: { port: number }) => resolve(m.port)),
  )
  const sides = [
    { name: 'a', ...a, header },
    { name: 'b', ...b, header },
    {
      name: 'bare',
      url: `http://127.0.0.1:${port}/callout/Api/x`,
      pid: bare.pid!,
      header: undefined,
    },
  ]
  if (Number(args.warmup) > 0) {
    await Promise.all(
      sides.map((side) =>
        run('wrk', [
          '-t1',
          '-c8',
          `-d${args.warmup}s`,
          ...(side.header === undefined ? [] : ['-H', side.header]),
          side.url,
        ]),
      ),
    )
  }
  const rounds: Record<string, number>[] = []
  const cpu: Record<string, number>[] = []
  for (let r = 0; r < Number(args.rounds); r++) {
    const result: Record<string, number> = {}
    const perRequest: Record<string, number> = {}
    if (args.rate !== undefined) {
      const pair = sides.slice(0, 2)
      const rate = Number(args.rate)
      const before = await Promise.all(pair.map((side) => cpuMs(side.pid)))
      await Promise.all(
        pair.map((side) =>
          fixedRate(
            side.url,
            { 'proxy-authorization': side.header!.split(': ')[1]! },
            rate,
            Number(args.seconds),
          ),
        ),
      )
      const after = await Promise.all(pair.map((side) => cpuMs(side.pid)))
      pair.forEach((side, i) => {
        result[side.name] = rate
        perRequest[side.name] = ((after[i]! - before[i]!) * 1000) / (rate * Number(args.seconds))
      })
    } else if (args.together) {
      const pair = sides.slice(0, 2)
      const before = await Promise.all(pair.map((side) => cpuMs(side.pid)))
      const runs = await Promise.all(
        pair.map((side) => wrk(side.url, side.header, Number(args.connections) / 2)),
      )
      const after = await Promise.all(pair.map((side) => cpuMs(side.pid)))
      pair.forEach((side, i) => {
        result[side.name] = runs[i]!.rps
        perRequest[side.name] = ((after[i]! - before[i]!) * 1000) / runs[i]!.n
      })
    }
    const alone =
      args.together || args.rate !== undefined
        ? [sides[2]!]
        : sides.map((_, i) => sides[(i + r) % sides.length]!)
    for (const side of alone) {
      const before = await cpuMs(side.pid)
      const { rps, n } = await wrk(side.url, side.header)
      result[side.name] = rps
      perRequest[side.name] = (((await cpuMs(side.pid)) - before) * 1000) / n
    }
    rounds.push(result)
    cpu.push(perRequest)
    console.log(
      `round ${r + 1}: ${sides.map((x) => `${x.name} ${Math.round(result[x.name]!)} req/s, ${perRequest[x.name]!.toFixed(0)} µs CPU/req`).join('; ')}`,
    )
  }
  const ratio = (x: string, y: string): string =>
    `×${median(rounds.map((r) => r[x]! / r[y]!)).toFixed(3)}`
  const cpuRatio = (x: string, y: string): string =>
    `×${median(cpu.map((r) => r[x]! / r[y]!)).toFixed(3)}`
  console.log(
    `proxy CPU per request, median of per-round ratios: b/a ${cpuRatio('b', 'a')}, a/bare ${cpuRatio('a', 'bare')}, b/bare ${cpuRatio('b', 'bare')}`,
  )
  console.log(
    `throughput, median of per-round ratios: b/a ${ratio('b', 'a')}, a/bare ${ratio('a', 'bare')}, b/bare ${ratio('b', 'bare')}`,
  )
} finally {
  for (const child of children) child.kill('SIGTERM')
  await upstream.close()
  await home.remove()
}
