/**
 * `callout serve` as a real process with key caching on (its default `--key-cache-ms`): GETs with
 * a client key after the first are answered on the fast path, as `/metrics` counts, with the
 * right answers, the real token injected and an access log line each on stdout, free of secrets.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli, tempHome, waitFor, writeText, type TempHome } from '../cli/helpers.ts'
import { TokenServer, Upstream } from '../helpers/callout-servers.ts'
import { serveConfig } from './serve-process-config.ts'

const CLIENT_SECRET = 'fast-path-process-secret'
/** GETs sent after the warm-up: each one on the fast path. */
const FAST = 5

let home: TempHome
let tokens: TokenServer
let upstream: Upstream
let child: ChildProcess | undefined
let exited = false
let origin = ''
let stdout = ''
let stderr = ''
let key = ''

beforeAll(async () => {
  tokens = await new TokenServer().start()
  upstream = await new Upstream(tokens).start()
  home = await tempHome({
    CALLOUT_MASTER_KEY: randomBytes(32).toString('base64'),
    CLIENT_SECRET,
  })
  const config = serveConfig(tokens.tokenUrl, upstream.origin, ['Api'], 'CLIENT_SECRET')
  const file = await writeText(home.dir, 'callout.json', config)
  expect((await runCli(['apply', '-f', file], home.env)).code).toBe(0)
  const created = await runCli(['keys', 'create', '--allow', 'Api:GET'], home.env)
  expect(created.code).toBe(0)
  key = created.stdout.trim()
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(home.env)) if (v !== undefined) env[k] = v
  // No --key-cache-ms: the default keeps a verified key, which the fast path needs.
  child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()))
  child.on('exit', () => (exited = true))
  await waitFor(() => /listening on (http:\S+)/.test(stderr) || exited, 20_000)
  origin = /listening on (http:\S+)/.exec(stderr)?.[1] ?? ''
  expect(origin).not.toBe('')
})

afterAll(async () => {
  if (child !== undefined && !exited) {
    child.kill('SIGTERM')
    await waitFor(() => exited, 15_000).catch(() => child?.kill('SIGKILL'))
  }
  await tokens?.listening.close()
  await upstream?.listening.close()
  await home?.remove()
})

/** Requests the fast path has answered so far. */
async function fastCount(): Promise<number> {
  const text = await (await request(`${origin}/metrics`)).body.text()
  return Number(/^callout_proxy_fast_path_total (\d+)$/m.exec(text)?.[1] ?? NaN)
}

async function get(path: string): Promise<{ status: number; body: { url?: string } }> {
  const res = await request(`${origin}/callout/Api${path}`, {
    headers: { 'proxy-authorization': `Bearer ${key}` },
  })
  return { status: res.statusCode, body: (await res.body.json()) as { url?: string } }
}

describe('callout serve (a real process) with key caching on', () => {
  it('answers GETs after the first on the fast path, with the real token and a log line each', async () => {
    // The first request verifies the key and obtains the token: the full path.
    expect((await get('/warm')).status).toBe(200)
    const before = await fastCount()
    expect(before).toBe(0)
    for (let i = 1; i <= FAST; i++) {
      const res = await get(`/fast/${i}?q=${i}`)
      expect(res.status).toBe(200)
      expect(res.body.url).toBe(`/api/fast/${i}?q=${i}`)
    }
    expect(await fastCount()).toBe(before + FAST)
    const seen = upstream.seen.filter((s) => s.url.startsWith('/api/fast/'))
    expect(seen).toHaveLength(FAST)
    for (const s of seen) {
      expect(s.authorization).toBe(`Bearer ${tokens.current}`)
      expect(JSON.stringify(s.headers)).not.toContain(key)
    }
    expect(tokens.requests).toBe(1)
    // One access log line per request (the log is flushed within 100 ms).
    const logged = (): string[] =>
      stdout.split('\n').filter((l) => l.includes('"path":"/callout/Api/fast/'))
    await waitFor(() => logged().length >= FAST, 5_000)
    expect(logged()).toHaveLength(FAST)
    for (let i = 1; i <= FAST; i++) {
      const line = logged().find((l) => l.includes(`"path":"/callout/Api/fast/${i}`))
      expect(JSON.parse(line!)).toMatchObject({ msg: 'request', status: 200, credential: 'Api' })
    }
    for (const secret of [key, tokens.current, CLIENT_SECRET, home.env.CALLOUT_MASTER_KEY!]) {
      expect(stdout + stderr).not.toContain(secret)
    }
  })
})
