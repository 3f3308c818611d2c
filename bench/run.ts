/**
 * `npm run bench`: the broker's overhead as ratios against a direct baseline measured in the same
 * run (DESIGN §11). See docs/performance.md for the method and the figures.
 *
 *   npm run bench                      # table on stdout, progress on stderr
 *   npm run bench -- --json            # machine-readable results on stdout
 *   npm run bench -- --quick           # 3 rounds of 300 ms (a smoke run)
 *   npm run bench -- --only request,storm --rounds 7 --duration 2000
 *   npm run bench -- --only proxy --proxy-from src   # the proxy through tsx, not compiled
 *
 * Exit code 0 even when a target is missed (benchmarks inform, they do not gate); 1 when the
 * bench itself fails: a non-2xx response, a token count other than the expected one, a crash.
 */
import { availableParallelism, cpus } from 'node:os'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Agent, fetch as undiciFetch, request as undiciRequest } from 'undici'
import { multiProcessStorm, type MultiStormResult } from './multi-process-storm.ts'
import { measurePair, pairFailures, pairRows, type PairResult } from './pair.ts'
import { proxyBench, type ProxyFrom } from './proxy.ts'
import { proxyStorm, type ProxyStormResult } from './proxy-storm.ts'
import { renderTable, skippedRow, type ResultRow } from './report.ts'
import {
  CALLOUT_URL,
  DIRECT_PATH,
  createBenchHome,
  openBenchBroker,
  type BenchHome,
} from './setup.ts'
import { refreshStorm, stormDrain, type StormRound } from './storm.ts'
import { startUpstream, type Upstream } from './upstream-process.ts'

const SCENARIOS = ['request', 'fetch', 'storm', 'multi', 'proxy', 'scale'] as const
type Scenario = (typeof SCENARIOS)[number]

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    only: { type: 'string' },
    'pg-url': {
      type: 'string',
      default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    },
    'storm-callouts': { type: 'string', default: '1000' },
    'proxy-from': { type: 'string', default: 'dist' },
  },
})

const rounds = Number(args.rounds ?? (args.quick ? 3 : 10))
const durationMs = Number(args.duration ?? (args.quick ? 300 : 500))
const warmupMs = args.quick ? 500 : 1500
const stormCallouts = Number(args['storm-callouts'])
const only = new Set<Scenario>(
  args.only === undefined ? SCENARIOS : (args.only.split(',').map((s) => s.trim()) as Scenario[]),
)
for (const s of only) {
  if (!SCENARIOS.includes(s)) {
    console.error(`unknown scenario "${s}"; choose from ${SCENARIOS.join(', ')}`)
    process.exit(2)
  }
}
const proxyFrom = args['proxy-from'] as ProxyFrom
if (proxyFrom !== 'dist' && proxyFrom !== 'src') {
  console.error('--proxy-from must be dist (the compiled package, default) or src (through tsx)')
  process.exit(2)
}
for (const [name, value] of [
  ['rounds', rounds],
  ['duration', durationMs],
  ['storm-callouts', stormCallouts],
] as const) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`)
    process.exit(2)
  }
}

const progress = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`)
}

/** Same options as the broker's shared agent (src/callout/dispatchers.ts): a like-for-like pool. */
const agentOptions = { keepAliveTimeout: 4_000, connect: { timeout: 10_000 } }

async function pgAvailable(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 })
  try {
    await client.connect()
    await client.query('select 1')
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => {})
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 })
  try {
    await client.connect()
    await client.query(`drop schema if exists "${schema}" cascade`)
  } finally {
    await client.end().catch(() => {})
  }
}

function stormRows(rounds: readonly StormRound[], callouts: number): ResultRow[] {
  const scenario = `refresh storm, 1 process, ${callouts} callouts`
  const counts = rounds.map((r) => r.upstream.tokenRequests)
  const drain = stormDrain(rounds)
  const allOk = rounds.every((r) => r.storm.ok === callouts && r.direct.ok === callouts)
  return [
    {
      scenario,
      metric: 'token requests',
      unit: '',
      baseline: null,
      broker: Math.max(...counts),
      ratio: Math.max(...counts),
      compare: 'count',
      target: '= 1',
      verdict: counts.every((c) => c === 1) && allOk ? 'PASS' : 'FAIL',
      note: `per round: ${counts.join(', ')}; upstream saw ${rounds.map((r) => `${r.upstream.api401}×401 + ${r.upstream.api2xx}×200`).join(', ')}`,
    },
    {
      scenario,
      metric: 'time to drain',
      unit: 'ms',
      baseline: drain.direct,
      broker: drain.storm,
      ratio: drain.storm / drain.direct,
      compare: 'ratio',
      target: 'info',
      verdict: 'INFO',
    },
  ]
}

function multiRows(label: string, result: MultiStormResult | string): ResultRow[] {
  if (typeof result === 'string') {
    return [skippedRow(label, 'token requests', '', '= 1', result, 'count')]
  }
  const ok = result.ok === result.callouts && result.failures === 0
  return [
    {
      scenario: label,
      metric: 'token requests',
      unit: '',
      baseline: null,
      broker: result.upstream.tokenRequests,
      ratio: result.upstream.tokenRequests,
      compare: 'count',
      target: '= 1',
      verdict: result.upstream.tokenRequests === 1 && ok ? 'PASS' : 'FAIL',
      note: `${result.ok}/${result.callouts} callouts 2xx${result.firstFailure === undefined ? '' : `, first failure: ${result.firstFailure}`}; upstream saw ${result.upstream.api401}×401 + ${result.upstream.api2xx}×200`,
    },
    {
      scenario: label,
      metric: 'time to drain',
      unit: 'ms',
      baseline: null,
      broker: result.drainMs,
      ratio: null,
      compare: 'none',
      target: 'info',
      verdict: 'INFO',
    },
  ]
}

type Raw = {
  pairs: PairResult[]
  storm?: StormRound[]
  multi: Record<string, MultiStormResult | string>
  scale?: ProxyStormResult | string
}

/** Rows of the scaled-out proxy storm: token requests per round, and drain time N vs 1 instance. */
function scaleRows(result: ProxyStormResult | string, instances: number): ResultRow[] {
  const label = `refresh storm through the proxy, ${instances} instances vs 1, PostgreSQL`
  if (typeof result === 'string') {
    return [skippedRow(label, 'token requests', '', '= 1 per round', result, 'count')]
  }
  const all = [...result.single, ...result.scaled]
  const counts = all.map((r) => r.tokenRequests)
  const ok = all.every((r) => r.ok === result.callouts && r.failures === 0)
  return [
    {
      scenario: label,
      metric: 'token requests',
      unit: '',
      baseline: null,
      broker: Math.max(...counts),
      ratio: Math.max(...counts),
      compare: 'count',
      target: '= 1 per round',
      verdict: ok && counts.every((c) => c === 1) ? 'PASS' : 'FAIL',
      note: `${result.callouts} requests per round; 1 instance: ${result.single.map((r) => `${r.tokenRequests} token/${r.ok} ok`).join(', ')}; ${instances} instances: ${result.scaled.map((r) => `${r.tokenRequests} token/${r.ok} ok`).join(', ')}${all.find((r) => r.firstFailure !== undefined)?.firstFailure ?? ''}`,
    },
    {
      scenario: label,
      metric: 'time to drain',
      unit: 'ms',
      baseline: result.singleMedianMs,
      broker: result.scaledMedianMs,
      ratio: result.scaledMedianMs / result.singleMedianMs,
      compare: 'ratio',
      target: 'info',
      verdict: 'INFO',
      note: `per round, 1 instance: ${result.single.map((r) => Math.round(r.drainMs)).join(', ')} ms; ${instances} instances: ${result.scaled.map((r) => Math.round(r.drainMs)).join(', ')} ms`,
    },
  ]
}

async function measureAll(
  upstream: Upstream,
  home: BenchHome,
  rows: ResultRow[],
  failures: string[],
  raw: Raw,
): Promise<void> {
  const agent = new Agent(agentOptions)
  const { broker, close } = await openBenchBroker(home, { kind: 'memory' }, { applyConfig: true })
  try {
    // Warm the token: the measured phase runs on a cached token.
    const warm = await broker.request(CALLOUT_URL)
    await warm.body.dump()
    const afterWarm = await upstream.stats()
    if (warm.statusCode !== 200 || afterWarm.tokenRequests !== 1) {
      throw new Error(
        `warm-up: HTTP ${warm.statusCode}, ${afterWarm.tokenRequests} token requests (expected 200 and 1)`,
      )
    }
    const token = await upstream.current()
    if (token === null) throw new Error('the upstream has no current token after the warm-up')
    const url = `${upstream.origin}${DIRECT_PATH}`
    const directRequest = (bearer: string) => {
      const headers = { authorization: `Bearer ${bearer}` }
      return async (): Promise<number> => {
        const res = await undiciRequest(url, { dispatcher: agent, headers })
        await res.body.json()
        return res.statusCode
      }
    }
    const directFetch = (bearer: string) => {
      const headers = { authorization: `Bearer ${bearer}` }
      return async (): Promise<number> => {
        const res = await undiciFetch(url, { dispatcher: agent, headers })
        await res.json()
        return res.status
      }
    }
    const brokerRequest = async (): Promise<number> => {
      const res = await broker.request(CALLOUT_URL)
      await res.body.json()
      return res.statusCode
    }
    const brokerFetch = async (): Promise<number> => {
      const res = await broker.fetch(CALLOUT_URL)
      await res.json()
      return res.status
    }

    const pairs: { kind: Scenario; concurrency: number; maxAddedP99Ms?: number }[] = [
      { kind: 'request', concurrency: 1, maxAddedP99Ms: 0.1 },
      { kind: 'request', concurrency: 64 },
      { kind: 'fetch', concurrency: 1 },
      { kind: 'fetch', concurrency: 64 },
    ]
    for (const p of pairs) {
      if (!only.has(p.kind)) continue
      const scenario =
        p.kind === 'request'
          ? `broker.request vs undici request, c=${p.concurrency}`
          : `broker.fetch vs undici fetch, c=${p.concurrency}`
      progress(`${scenario}: ${rounds} rounds × ${durationMs} ms each side`)
      const result = await measurePair({
        scenario,
        concurrency: p.concurrency,
        rounds,
        durationMs,
        warmupMs,
        baseline: p.kind === 'request' ? directRequest(token) : directFetch(token),
        broker: p.kind === 'request' ? brokerRequest : brokerFetch,
      })
      raw.pairs.push(result)
      failures.push(...pairFailures(result))
      rows.push(
        ...pairRows(result, {
          minThroughputRatio: 0.95,
          ...(p.maxAddedP99Ms === undefined ? {} : { maxAddedP99Ms: p.maxAddedP99Ms }),
        }),
      )
    }
    const tokenChecks = await upstream.stats()
    if (tokenChecks.tokenRequests !== 1) {
      failures.push(
        `${tokenChecks.tokenRequests} token requests during the cached-token phase (expected 1, the warm-up)`,
      )
    }

    if (only.has('storm')) {
      progress(`refresh storm: ${stormCallouts} concurrent callouts on a revoked token, 3 rounds`)
      const storm = await refreshStorm({
        upstream,
        broker: brokerRequest,
        direct: directRequest,
        callouts: stormCallouts,
        repeats: 3,
      })
      raw.storm = storm
      const stormResultRows = stormRows(storm, stormCallouts)
      rows.push(...stormResultRows)
      for (const r of storm) {
        if (r.storm.failures > 0)
          failures.push(
            `storm: ${r.storm.failures} callouts failed (${r.storm.firstFailure ?? '?'})`,
          )
        if (r.direct.failures > 0)
          failures.push(
            `storm baseline: ${r.direct.failures} failed (${r.direct.firstFailure ?? '?'})`,
          )
      }
      if (stormResultRows[0]?.verdict === 'FAIL')
        failures.push(
          `storm: token requests per round ${storm.map((r) => r.upstream.tokenRequests).join(', ')} (expected 1 each)`,
        )
    }
  } finally {
    await close()
    await agent.close()
  }

  if (only.has('multi')) {
    const processes = 4
    const sqliteLabel = `refresh storm, ${processes} processes, SQLite file`
    progress(`${sqliteLabel}: ${stormCallouts} callouts`)
    const sqlite = await multiProcessStorm({
      upstream,
      home,
      where: { kind: 'sqlite', url: `sqlite:${home.home}/callout.db` },
      processes,
      callouts: stormCallouts,
    })
    raw.multi.sqlite = sqlite
    rows.push(...multiRows(sqliteLabel, sqlite))

    const pgLabel = `refresh storm, ${processes} processes, PostgreSQL`
    const pgUrl = args['pg-url']
    const unavailable = await pgAvailable(pgUrl)
    if (unavailable !== undefined) {
      raw.multi.postgres = `PostgreSQL not reachable at ${pgUrl.replace(/\/\/[^@/]*@/, '//…@')}: ${unavailable}`
      rows.push(...multiRows(pgLabel, raw.multi.postgres))
    } else {
      progress(`${pgLabel}: ${stormCallouts} callouts`)
      const schema = `callout_bench_${process.pid}_${Date.now().toString(36)}`
      try {
        const postgres = await multiProcessStorm({
          upstream,
          home,
          where: { kind: 'postgres', url: pgUrl, schema },
          processes,
          callouts: stormCallouts,
        })
        raw.multi.postgres = postgres
        rows.push(...multiRows(pgLabel, postgres))
      } finally {
        await dropSchema(pgUrl, schema).catch(() => {})
      }
    }
    for (const [label, r] of Object.entries(raw.multi)) {
      if (typeof r === 'string') continue
      if (r.failures > 0 || r.ok !== r.callouts)
        failures.push(
          `${label} storm: ${r.callouts - r.ok} callouts failed (${r.firstFailure ?? '?'})`,
        )
      if (r.upstream.tokenRequests !== 1)
        failures.push(`${label} storm: ${r.upstream.tokenRequests} token requests (expected 1)`)
    }
  }
}

async function main(): Promise<number> {
  const started = Date.now()
  const rows: ResultRow[] = []
  const failures: string[] = []
  const raw: Raw = { pairs: [], multi: {} }
  const upstream = await startUpstream()
  const home = await createBenchHome(upstream.origin)
  try {
    await measureAll(upstream, home, rows, failures, raw)
    if (only.has('proxy')) {
      await upstream.reset()
      const proxyRows = await proxyBench({
        upstream,
        home,
        seconds: args.quick ? 2 : 5,
        progress,
        from: proxyFrom,
      }).catch((error: unknown) => {
        failures.push(`proxy: ${error instanceof Error ? error.message : String(error)}`)
        return []
      })
      rows.push(...proxyRows)
      for (const row of proxyRows) {
        if (row.verdict === 'FAIL') failures.push(`${row.scenario}: ${row.note ?? row.metric}`)
      }
    }
    if (only.has('scale')) {
      const instances = 4
      const pgUrl = args['pg-url']
      const unavailable = await pgAvailable(pgUrl)
      if (unavailable !== undefined) {
        raw.scale = `PostgreSQL not reachable at ${pgUrl.replace(/\/\/[^@/]*@/, '//…@')}: ${unavailable}`
      } else {
        const schema = `callout_bench_scale_${process.pid}_${Date.now().toString(36)}`
        progress(
          `proxy storm: ${stormCallouts} requests, 1 vs ${instances} callout serve instances`,
        )
        try {
          raw.scale = await proxyStorm({
            upstream,
            home,
            pgUrl,
            schema,
            instances,
            callouts: stormCallouts,
            rounds: args.quick ? 2 : 3,
            from: proxyFrom,
            progress,
          })
        } catch (error) {
          failures.push(`proxy storm: ${error instanceof Error ? error.message : String(error)}`)
        } finally {
          await dropSchema(pgUrl, schema).catch(() => {})
        }
      }
      if (raw.scale !== undefined) {
        const scaleResultRows = scaleRows(raw.scale, instances)
        rows.push(...scaleResultRows)
        if (scaleResultRows[0]?.verdict === 'FAIL')
          failures.push(`proxy storm: ${scaleResultRows[0].note ?? ''}`)
      }
    }
  } finally {
    await upstream.close()
    await home.remove()
  }

  const machine = {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
  }
  const totalSeconds = (Date.now() - started) / 1000
  if (args.json) {
    console.log(
      JSON.stringify(
        {
          machine,
          settings: { rounds, durationMs, warmupMs, stormCallouts },
          totalSeconds,
          rows,
          failures,
          raw,
        },
        null,
        2,
      ),
    )
  } else {
    console.log(
      `Callout bench — ${machine.node}, ${machine.platform}, ${machine.cores} cores (${machine.cpu}); ` +
        `${rounds} rounds × ${durationMs} ms per side, median of per-round ratios; ${totalSeconds.toFixed(0)} s\n`,
    )
    console.log(renderTable(rows))
    if (failures.length > 0)
      console.log(`\nBENCH FAILED (correctness):\n${failures.map((f) => `- ${f}`).join('\n')}`)
  }
  return failures.length > 0 ? 1 : 0
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error('[bench] failed:', error)
    process.exitCode = 1
  },
)
