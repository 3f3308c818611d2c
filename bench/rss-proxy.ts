/**
 * RSS of `callout serve` builds, not part of `npm run bench`: each round starts every build in
 * turn (the order rotates) on one store and one bench upstream and reads its memory from
 * `/proc/<pid>/status` at rest (after one request), after `--load` seconds of wrk (as the bench's
 * throughput rounds before its RSS row) and right after 1,000 concurrent requests on 1,000
 * keep-alive connections (the bench's RSS row), then stops it. Prints each reading and, per build,
 * the median and range. A side is `name=entry`, where entry is a script that starts `callout` as
 * `bench/proxy.ts` writes one (a compiled build under `node_modules/.cache/`, so that its packages
 * resolve), optionally followed by Node flags after a `|`.
 *
 *   node --import tsx bench/rss-proxy.ts --side before=node_modules/.cache/a/callout.mjs \
 *     --side 'after=node_modules/.cache/b/callout.mjs|--max-semi-space-size=2' --rounds 5
 */
import { execFile, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { parseArgs, promisify } from 'node:util'
import { Agent, request } from 'undici'
import { waitForOutput } from './proxy.ts'
import { applyWithClientKey, cliEnv, createBenchHome } from './setup.ts'
import { median } from './stats.ts'
import { startUpstream } from './upstream-process.ts'

const { values: args } = parseArgs({
  options: {
    side: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '1000' },
    /** Milliseconds to wait at rest before the idle reading. */
    settle: { type: 'string', default: '1500' },
    /** Seconds of wrk (2 threads, 64 connections) before the burst, as the bench's rounds. */
    load: { type: 'string', default: '15' },
  },
})
const sides = (args.side ?? []).map((text) => {
  const [name, rest] = text.split(/=(.*)/s) as [string, string]
  const [entry, flags] = rest.split('|') as [string, string | undefined]
  return { name, entry, flags: flags === undefined ? [] : flags.split(',') }
})
if (sides.length === 0) throw new Error('usage: --side name=entry[|--node-flag,...] ...')

/** VmRSS, RssAnon and RssFile of a process, in MB. */
async function memory(pid: number): Promise<{ rss: number; anon: number; file: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') }
}

const upstream = await startUpstream()
const home = await createBenchHome(upstream.origin)
const env = cliEnv(home)
const results = new Map<string, { idle: number[]; burst: number[]; anon: number[] }>()
try {
  const key = await applyWithClientKey(home, 'rss')
  const headers = { 'proxy-authorization': `Bearer ${key}` }
  const connections = Number(args.connections)
  for (let round = 0; round < Number(args.rounds); round++) {
    for (let i = 0; i < sides.length; i++) {
      const side = sides[(i + round) % sides.length]!
      const serve = spawn(
        process.execPath,
        [...side.flags, side.entry, 'serve', '--port', '0', '--key-cache-ms', '60000'],
        { env, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      try {
        const origin = (await waitForOutput(serve, /listening on (http:\S+)/, 60_000))[1]!
        const url = `${origin}/callout/Api/x`
        const warm = await request(url, { headers })
        await warm.body.dump()
        if (warm.statusCode !== 200) throw new Error(`${side.name}: HTTP ${warm.statusCode}`)
        await new Promise((r) => setTimeout(r, Number(args.settle)))
        const idle = await memory(serve.pid!)
        let loaded = ''
        if (Number(args.load) > 0) {
          const { stdout } = await promisify(execFile)('wrk', [
            '-t2',
            '-c64',
            `-d${args.load}s`,
            '-H',
            `Proxy-Authorization: Bearer ${key}`,
            url,
          ])
          if (/Non-2xx/.test(stdout)) throw new Error(`${side.name}: wrk: ${stdout}`)
          const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]
          loaded = `, after ${args.load} s of wrk (${rps} req/s) ${(await memory(serve.pid!)).rss.toFixed(1)} MB`
        }
        const agent = new Agent({ connections, keepAliveTimeout: 60_000 })
        const statuses = await Promise.all(
          Array.from({ length: connections }, async () => {
            const res = await request(url, { dispatcher: agent, headers })
            await res.body.dump()
            return res.statusCode
          }),
        )
        const burst = await memory(serve.pid!)
        await agent.close()
        const ok = statuses.filter((s) => s === 200).length
        const entry = results.get(side.name) ?? { idle: [], burst: [], anon: [] }
        entry.idle.push(idle.rss)
        entry.burst.push(burst.rss)
        entry.anon.push(idle.anon)
        results.set(side.name, entry)
        console.log(
          `round ${round + 1} ${side.name}: idle ${idle.rss.toFixed(1)} MB (anon ${idle.anon.toFixed(1)}, file ${idle.file.toFixed(1)})${loaded}, ` +
            `after ${connections} ${burst.rss.toFixed(1)} MB (anon ${burst.anon.toFixed(1)}); ${ok} × 200`,
        )
      } finally {
        serve.kill('SIGTERM')
        await new Promise((r) => serve.once('exit', r))
      }
    }
  }
  const range = (v: number[]): string =>
    `median ${median(v).toFixed(1)} (${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)})`
  for (const [name, r] of results) {
    console.log(
      `${name}: idle ${range(r.idle)} MB, idle anon ${range(r.anon)} MB, after burst ${range(r.burst)} MB`,
    )
  }
} finally {
  await upstream.close()
  await home.remove()
}
