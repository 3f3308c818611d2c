/**
 * `callout serve` against the barest Node pass-through and nginx (one worker, a static
 * Authorization header) on one local upstream: wrk throughput at 64 connections, added p50/p99
 * latency at a fixed 1,000 requests/s, and the proxy's RSS with 1,000 keep-alive connections.
 * nginx and wrk are optional: their rows are SKIP when absent.
 */
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Agent, Pool, request } from 'undici'
import { skippedRow, type ResultRow } from './report.ts'
import { median, spread } from './stats.ts'
import { applyWithClientKey, cliEnv, type BenchHome } from './setup.ts'
import type { Upstream } from './upstream-process.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin/callout.js')

/** Where the proxy under test runs from: the compiled package, or the sources through tsx. */
export type ProxyFrom = 'dist' | 'src'

/**
 * The command that starts `callout` for the proxy bench. `dist`: the sources compiled by the
 * package's own build settings (`tsconfig.build.json`) into `node_modules/.cache/callout-bench/`
 * (never the checkout's `dist/`), run with plain `node` as an installed package runs; `src`: the
 * checkout's `bin/callout.js`, which loads the TypeScript through tsx.
 */
export async function calloutCommand(
  from: ProxyFrom,
  progress: (m: string) => void,
): Promise<string[]> {
  if (from === 'src') return [BIN]
  const out = join(ROOT, 'node_modules/.cache/callout-bench')
  progress('proxy: compiling the package (tsc -p tsconfig.build.json) to run it from JavaScript')
  await rm(out, { recursive: true, force: true })
  await run(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      join(out, 'dist'),
      '--declaration',
      'false',
    ],
    { cwd: ROOT },
  )
  const entry = join(out, 'callout.mjs')
  await writeFile(
    entry,
    "import { main } from './dist/cli/main.js'\nprocess.exitCode = await main(process.argv.slice(2))\n",
  )
  return [entry]
}

async function has(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`])
    return true
  } catch {
    return false
  }
}

async function wrk(url: string, header: string | undefined, seconds: number): Promise<number> {
  const args = [
    '-t2',
    '-c64',
    `-d${seconds}s`,
    ...(header === undefined ? [] : ['-H', header]),
    url,
  ]
  const { stdout } = await run('wrk', args)
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]
  if (/Non-2xx/.test(stdout) || rps === undefined) throw new Error(`wrk against ${url}: ${stdout}`)
  return Number(rps)
}

/** Latencies (ms) of requests sent at a fixed rate (open loop) for `seconds`. */
export async function fixedRate(
  url: string,
  headers: Record<string, string>,
  rate: number,
  seconds: number,
): Promise<number[]> {
  const pool = new Pool(new URL(url).origin, { connections: 64 })
  const path = new URL(url).pathname
  const latencies: number[] = []
  const pending: Promise<void>[] = []
  const start = performance.now()
  for (let i = 0; i < rate * seconds; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    // Timers wake within a millisecond: a request sent before its due time is timed from when it
    // was sent; one sent late (a busy machine) from its due time, so that the delay counts.
    const sent = Math.min(due, performance.now())
    pending.push(
      pool.request({ path, method: 'GET', headers }).then(async (res) => {
        await res.body.dump()
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode} from ${url}`)
        latencies.push(performance.now() - sent)
      }),
    )
  }
  await Promise.all(pending)
  await pool.close()
  return latencies.sort((a, b) => a - b)
}

/**
 * Stops a child process with SIGTERM (so that Node writes any profile it was asked for) and waits
 * until it has exited; a child that already exited is left alone.
 *
 * @example
 * await stopChild(serve)
 */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** wrk rounds per side; the order of the sides rotates each round so that drift hits all. */
const WRK_ROUNDS = 3

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024
}

export function waitForOutput(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}: ${text}`)),
      timeoutMs,
    )
    child.stderr?.on('data', (c: Buffer) => {
      text += c.toString()
      const m = pattern.exec(text)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m)
      }
    })
  })
}

/**
 * Runs the proxy comparison and returns its rows.
 *
 * @example
 * rows.push(...(await proxyBench({ upstream, home, seconds: 5, progress })))
 */
export async function proxyBench(options: {
  readonly upstream: Upstream
  readonly home: BenchHome
  readonly seconds: number
  readonly progress: (message: string) => void
  /** Default `dist`, as users of the package run it. */
  readonly from?: ProxyFrom
}): Promise<ResultRow[]> {
  const { upstream, home, seconds, progress } = options
  const from = options.from ?? 'dist'
  const callout = await calloutCommand(from, progress)
  const who = `callout serve (${from === 'dist' ? 'compiled' : 'tsx'})`
  const env = cliEnv(home)
  const key = await applyWithClientKey(home, 'bench')
  const children: ChildProcess[] = []
  const rows: ResultRow[] = []
  const cleanup: (() => Promise<void>)[] = []
  try {
    progress(`proxy: starting callout serve (from ${from})`)
    const serve = spawn(
      process.execPath,
      [...callout, 'serve', '--port', '0', '--key-cache-ms', '60000'],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
    )
    children.push(serve)
    const origin = (await waitForOutput(serve, /listening on (http:\S+)/, 60_000))[1]!
    const auth = `Proxy-Authorization: Bearer ${key}`
    const proxyUrl = `${origin}/callout/Api/x`
    const warm = await request(proxyUrl, { headers: { 'proxy-authorization': `Bearer ${key}` } })
    await warm.body.dump()
    if (warm.statusCode !== 200) throw new Error(`proxy warm-up: HTTP ${warm.statusCode}`)
    const token = await upstream.current()

    const bare = fork(
      fileURLToPath(new URL('./proxy-passthrough.ts', import.meta.url)),
      [upstream.origin, token ?? ''],
      {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      },
    )
    children.push(bare)
    const barePort = await new Promise<number>((resolve) =>
      bare.once('message', (m: { port: number }) => resolve(m.port)),
    )
    const bareUrl = `http://127.0.0.1:${barePort}/callout/Api/x`

    let nginxUrl: string | undefined
    if (await has('nginx')) {
      const dir = await mkdtemp(join(tmpdir(), 'callout-nginx-'))
      cleanup.push(() => rm(dir, { recursive: true, force: true }))
      const port = 20_000 + Math.floor(Math.random() * 20_000)
      await writeFile(
        join(dir, 'nginx.conf'),
        `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log off; upstream up { server ${new URL(upstream.origin).host}; keepalive 128; }
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${port}; location /callout/Api/ { proxy_http_version 1.1; proxy_set_header Connection "";
    proxy_set_header Authorization "Bearer ${token}"; proxy_pass http://up/api/; } } }\n`,
      )
      const nginx = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' })
      children.push(nginx)
      await new Promise((r) => setTimeout(r, 500))
      nginxUrl = `http://127.0.0.1:${port}/callout/Api/x`
    }

    if (await has('wrk')) {
      const sides = [
        { name: 'bare', url: bareUrl, header: undefined },
        { name: 'proxy', url: proxyUrl, header: auth },
        ...(nginxUrl === undefined ? [] : [{ name: 'nginx', url: nginxUrl, header: undefined }]),
      ]
      progress(
        `proxy: wrk, 64 connections, ${WRK_ROUNDS} rounds × ${seconds} s per side (${sides.map((x) => x.name).join(', ')}; order rotates)`,
      )
      const perRound: Record<string, number>[] = []
      for (let round = 0; round < WRK_ROUNDS; round++) {
        const result: Record<string, number> = {}
        for (let i = 0; i < sides.length; i++) {
          const side = sides[(i + round) % sides.length]!
          result[side.name] = await wrk(side.url, side.header, seconds)
        }
        perRound.push(result)
      }
      const against = (
        baseline: string,
        side = 'proxy',
      ): { baseline: number; broker: number; ratio: number; spread: number } => {
        const ratios = perRound.map((r) => r[side]! / r[baseline]!)
        return {
          baseline: median(perRound.map((r) => r[baseline]!)),
          broker: median(perRound.map((r) => r[side]!)),
          ratio: median(ratios),
          spread: spread(ratios),
        }
      }
      const vsBare = against('bare')
      rows.push({
        scenario: `${who} vs bare Node pass-through, c=64 (wrk)`,
        metric: 'throughput',
        unit: 'req/s',
        ...vsBare,
        compare: 'ratio',
        target: '≥ 0.80×',
        verdict: vsBare.ratio >= 0.8 ? 'PASS' : 'MISS',
        note: `req/s per round (bare / proxy): ${perRound.map((r) => `${Math.round(r.bare!)} / ${Math.round(r.proxy!)}`).join(', ')}`,
      })
      if (nginxUrl !== undefined) {
        const vsNginx = against('nginx')
        rows.push({
          scenario: `${who} vs nginx (1 worker, static header), c=64 (wrk)`,
          metric: 'throughput',
          unit: 'req/s',
          ...vsNginx,
          compare: 'ratio',
          target: '≥ 0.53×',
          verdict: vsNginx.ratio >= 0.53 ? 'PASS' : 'MISS',
          note: `req/s per round (nginx / proxy): ${perRound.map((r) => `${Math.round(r.nginx!)} / ${Math.round(r.proxy!)}`).join(', ')}`,
        })
        // The reference's own standing: below ×0.53, reaching that target means outrunning the
        // barest Node pass-through on this machine.
        rows.push({
          scenario: 'bare Node pass-through vs nginx (the references), c=64 (wrk)',
          metric: 'throughput',
          unit: 'req/s',
          ...against('nginx', 'bare'),
          compare: 'ratio',
          target: '—',
          verdict: 'INFO',
          note: 'the barest Node pass-through against nginx in the same rounds: the ratio a Node proxy reaches with no work of its own',
        })
      } else {
        rows.push(
          skippedRow(
            `${who} vs nginx`,
            'throughput',
            'req/s',
            '≥ 0.53×',
            'nginx not installed (apt-get install nginx)',
          ),
        )
      }
    } else {
      rows.push(
        skippedRow(
          `${who} throughput`,
          'throughput',
          'req/s',
          '≥ 0.80×',
          'wrk not installed (apt-get install wrk)',
        ),
      )
    }

    progress(`proxy: fixed 1,000 req/s for ${seconds} s, direct then through the proxy`)
    const direct = await fixedRate(
      `${upstream.origin}/api/x`,
      { authorization: `Bearer ${token}` },
      1000,
      seconds,
    )
    const proxied = await fixedRate(
      proxyUrl,
      { 'proxy-authorization': `Bearer ${key}` },
      1000,
      seconds,
    )
    for (const [metric, p, limit] of [
      ['p50 added latency', 0.5, 0.5],
      ['p99 added latency', 0.99, undefined],
    ] as const) {
      const added = pct(proxied, p) - pct(direct, p)
      rows.push({
        scenario: `${who} vs direct, fixed 1,000 req/s`,
        metric,
        unit: 'ms',
        baseline: pct(direct, p),
        broker: pct(proxied, p),
        ratio: added,
        compare: 'added',
        target: limit === undefined ? '—' : `≤ ${limit} ms`,
        verdict: limit === undefined ? 'INFO' : added <= limit ? 'PASS' : 'MISS',
      })
    }

    progress('proxy: 1,000 keep-alive connections, then a refresh storm on them')
    const agent = new Agent({ connections: 1000, keepAliveTimeout: 60_000 })
    const burst = (): Promise<number[]> =>
      Promise.all(
        Array.from({ length: 1000 }, async () => {
          const res = await request(proxyUrl, {
            dispatcher: agent,
            headers: { 'proxy-authorization': `Bearer ${key}` },
          })
          await res.body.dump()
          return res.statusCode
        }),
      )
    await burst()
    const rss = await rssMb(serve.pid!)
    await upstream.reset()
    await upstream.revoke()
    const statuses = await burst()
    const storm = await upstream.stats()
    await agent.close()
    const ok = statuses.filter((status) => status === 200).length
    rows.push({
      scenario: `${who}, refresh storm (1,000 concurrent requests)`,
      metric: 'token requests',
      unit: '',
      baseline: null,
      broker: storm.tokenRequests,
      ratio: storm.tokenRequests,
      compare: 'count',
      target: '= 1',
      verdict: storm.tokenRequests === 1 && ok === 1000 ? 'PASS' : 'FAIL',
      note: `${ok}/1000 answered 200; upstream saw ${storm.api401}×401 + ${storm.api2xx}×200`,
    })
    rows.push({
      scenario: `${who}, 1,000 keep-alive connections`,
      metric: 'RSS',
      unit: 'MB',
      baseline: null,
      broker: Math.round(rss),
      ratio: null,
      compare: 'none',
      target: '≤ 150 MB',
      verdict: rss <= 150 ? 'PASS' : 'MISS',
      note:
        from === 'dist'
          ? 'the proxy ran from the compiled package (plain node), as installed'
          : 'the proxy ran from the TypeScript sources through tsx: the figure includes tsx and its loader',
    })
  } finally {
    for (const child of children) child.kill('SIGTERM')
    for (const fn of cleanup) await fn()
  }
  return rows
}
