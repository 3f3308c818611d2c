/**
 * A profiling harness, not part of `npm run bench`: drives one side of a scenario alone for a
 * fixed time so that a CPU profile shows only that side.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/callout-prof --import tsx bench/profile.ts --side broker-request
 *   node --import tsx bench/profile-summary.ts /tmp/callout-prof/<file>.cpuprofile
 */
import { parseArgs } from 'node:util'
import { Readable } from 'node:stream'
import { Agent, fetch as undiciFetch, request as undiciRequest, type Dispatcher } from 'undici'
import { openBroker } from '../src/callout/open-broker.ts'
import { runLoad, type Operation } from './load.ts'
import { CALLOUT_URL, DIRECT_PATH, createBenchHome, openBenchBroker } from './setup.ts'
import { startUpstream } from './upstream-process.ts'

const SIDES = [
  'broker-request',
  'direct-request',
  'broker-fetch',
  'direct-fetch',
  'broker-pipeline',
  'stub-only',
] as const
type Side = (typeof SIDES)[number]

const { values: args } = parseArgs({
  options: {
    side: { type: 'string', default: 'broker-request' },
    concurrency: { type: 'string', default: '64' },
    duration: { type: 'string', default: '5000' },
  },
})
const side = args.side as Side
if (!SIDES.includes(side)) throw new Error(`--side must be one of ${SIDES.join(', ')}`)

const upstream = await startUpstream()
const home = await createBenchHome(upstream.origin)
const { broker, close } = await openBenchBroker(home, { kind: 'memory' }, { applyConfig: true })
// `broker-pipeline`: a second broker on the same definitions whose dispatcher answers at once
// (no I/O), so the profile shows only what the pipeline itself costs per callout.
const BODY = Buffer.from('{"ok":true}')
const instant = {
  request: async () =>
    Object.assign(Readable.from([BODY]), {
      json: async () => JSON.parse(BODY.toString('utf8')) as unknown,
      text: async () => BODY.toString('utf8'),
      dump: async () => {},
    }),
}
const noIo = await openBroker({
  home: home.home,
  env: home.env,
  masterKey: home.masterKey,
  store: ':memory:',
  config: home.configPath,
  dispatcher: {
    request: async () => ({
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: await instant.request(),
    }),
  } as unknown as Dispatcher,
})
const agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: 10_000 } })
try {
  // noIo first: each broker mints its own token, and the upstream accepts only the latest one.
  await (await noIo.request(CALLOUT_URL)).body.dump()
  await (await broker.request(CALLOUT_URL)).body.dump()
  const headers = { authorization: `Bearer ${(await upstream.current()) ?? ''}` }
  const url = `${upstream.origin}${DIRECT_PATH}`
  const ops: Record<Side, Operation> = {
    'broker-request': async () => {
      const res = await broker.request(CALLOUT_URL)
      await res.body.json()
      return res.statusCode
    },
    'direct-request': async () => {
      const res = await undiciRequest(url, { dispatcher: agent, headers })
      await res.body.json()
      return res.statusCode
    },
    'broker-fetch': async () => {
      const res = await broker.fetch(CALLOUT_URL)
      await res.json()
      return res.status
    },
    'stub-only': async () => {
      const res = await instant.request()
      await res.json()
      return 200
    },
    'broker-pipeline': async () => {
      const res = await noIo.request(CALLOUT_URL)
      await res.body.json()
      return res.statusCode
    },
    'direct-fetch': async () => {
      const res = await undiciFetch(url, { dispatcher: agent, headers })
      await res.json()
      return res.status
    },
  }
  const result = await runLoad(ops[side], {
    concurrency: Number(args.concurrency),
    durationMs: Number(args.duration),
  })
  console.log(JSON.stringify({ side, ...result, upstream: await upstream.stats() }, null, 2))
} finally {
  await close()
  await noIo.close()
  await agent.close()
  await upstream.close()
  await home.remove()
}
