/**
 * Instructions per request of `callout serve` (or the bare Node pass-through), counted by
 * valgrind's callgrind: unlike CPU time, the count does not depend on what else the machine is
 * doing, so two builds can be compared on a busy machine. Not part of `npm run bench`
 * (`apt-get install valgrind`; a run takes a few minutes: everything runs ~50× slower).
 *
 *   node --import tsx bench/instructions-proxy.ts --entry <build>/callout.mjs [--warmup 2000] [--requests 3000]
 *   node --import tsx bench/instructions-proxy.ts --target bare
 *
 * The proxy starts under callgrind, serves `--warmup` requests (JIT), the counters are zeroed,
 * then `--requests` more are sent (8 at a time) and the counters dumped; the figure is the
 * instructions counted divided by the requests (the process's other work in that time, timers
 * and garbage collection included). Node runs with `--single-threaded` (see `NODE`).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { Pool, request } from 'undici'
import { calloutCommand, stopChild, waitForOutput, type ProxyFrom } from './proxy.ts'
import { cliEnv, applyWithClientKey, createBenchHome } from './setup.ts'
import { BENCH_CLIENT } from './upstream-protocol.ts'
import { startUpstream } from './upstream-process.ts'

const run = promisify(execFile)
const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: 'proxy' },
    from: { type: 'string', default: 'dist' },
    entry: { type: 'string' },
    warmup: { type: 'string', default: '2000' },
    requests: { type: 'string', default: '3000' },
    /** Keep the callgrind dump here (for `callgrind_annotate`). */
    out: { type: 'string' },
  },
})

/** Sends `n` GETs to `url`, `concurrency` at a time; every answer must be 200. */
async function drive(
  pool: Pool,
  path: string,
  headers: Record<string, string>,
  n: number,
): Promise<void> {
  let left = n
  const worker = async (): Promise<void> => {
    while (left-- > 0) {
      const res = await pool.request({ path, method: 'GET', headers })
      await res.body.dump()
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`)
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
}

/** The `Ir` total of the newest callgrind dump in `dir` after `before` dumps (copied to `--out`). */
async function dumpedInstructions(dir: string, before: number): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const files = (await readdir(dir)).filter((f) => f.startsWith('cg.out')).sort()
    if (files.length > before) {
      const text = await readFile(join(dir, files.at(-1)!), 'utf8')
      const total = /^(?:summary|totals): (\d+)/m.exec(text)?.[1]
      if (total !== undefined) {
        if (args.out !== undefined) await copyFile(join(dir, files.at(-1)!), args.out)
        return Number(total)
      }
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('no callgrind dump appeared')
}

/**
 * V8 without background threads: compilation and garbage collection run on the main thread, so
 * their work is counted the same way in every run instead of depending on thread timing.
 */
const NODE = ['--single-threaded']

const upstream = await startUpstream()
const home = await createBenchHome(upstream.origin)
const env = cliEnv(home)
const dir = await mkdtemp(join(tmpdir(), 'callout-cg-'))
let child: ChildProcess | undefined
try {
  const key = await applyWithClientKey(home, 'bench')
  const valgrind = ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'cg.out')}`]
  const path = '/callout/Api/x'
  let headers: Record<string, string> = { 'proxy-authorization': `Bearer ${key}` }
  let origin: string
  if (args.target === 'bare') {
    // The pass-through prints nothing: it reports its port over IPC, so start it through tsx here.
    const script = fileURLToPath(new URL('./proxy-passthrough.ts', import.meta.url))
    const minted = await request(`${upstream.origin}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: BENCH_CLIENT.id,
        client_secret: BENCH_CLIENT.secret,
      }).toString(),
    })
    const token = ((await minted.body.json()) as { access_token: string }).access_token
    child = spawn(
      'valgrind',
      [...valgrind, process.execPath, ...NODE, '--import', 'tsx', script, upstream.origin, token],
      { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
    )
    const port = await new Promise<number>((resolve) =>
      child!.once('message', (m: { port: number }) => resolve(m.port)),
    )
    origin = `http://127.0.0.1:${port}`
    headers = {}
  } else {
    const callout =
      args.entry !== undefined
        ? [args.entry]
        : await calloutCommand(args.from as ProxyFrom, (m) => console.error(m))
    child = spawn(
      'valgrind',
      [...valgrind, process.execPath, ...NODE, ...callout, 'serve', '--port', '0'],
      {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    origin = (await waitForOutput(child, /listening on (http:\S+)/, 600_000))[1]!
  }
  const pool = new Pool(origin, { connections: 8 })
  console.error(`warming up: ${args.warmup} requests`)
  await drive(pool, path, headers, Number(args.warmup))
  await run('callgrind_control', ['-z', String(child.pid)])
  const n = Number(args.requests)
  console.error(`counting: ${n} requests`)
  await drive(pool, path, headers, n)
  const before = (await readdir(dir)).filter((f) => f.startsWith('cg.out')).length
  await run('callgrind_control', ['-d', String(child.pid)])
  const total = await dumpedInstructions(dir, before)
  await pool.close()
  console.log(
    `${args.target} ${args.entry ?? ''}: ${Math.round(total / n)} instructions per request`,
  )
} finally {
  await stopChild(child)
  await upstream.close()
  await home.remove()
  await rm(dir, { recursive: true, force: true })
}
