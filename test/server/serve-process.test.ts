/**
 * `callout serve` as a real process: keys created, listed and revoked with the CLI, reload on
 * SIGHUP and when `callout apply` changes the store, graceful shutdown on SIGTERM that drains an
 * in-flight request, and the unsafe no-key switch refused off loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BIN,
  freePort,
  runCli,
  tempHome,
  waitFor,
  writeText,
  type TempHome,
} from '../cli/helpers.ts'
import { listen, TokenServer, type Listening } from '../helpers/callout-servers.ts'
import { serveConfig } from './serve-process-config.ts'

let home: TempHome
let tokens: TokenServer
let upstream: Listening
let child: ChildProcess
let origin = ''
let stdout = ''
let stderr = ''
let exitCode: number | null | undefined
let portNumber = 0
/** 200 MiB, a multiple of 64 KiB. */
const BIG = 200 * 1024 * 1024
/** Bytes of the latest `/api/download` the upstream has handed to its socket. */
let downloadSent = 0
/** The upstream's connection for the latest `/api/stalled-upload`. */
let stalledUpload: Socket | undefined

/** Resident set size and its peak (kB) of a process, from /proc. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN)
  return { rss: kb('VmRSS'), peak: kb('VmHWM') }
}

/**
 * Waits until a byte count stops growing for a second (or reaches {@link BIG}) and returns it.
 */
async function settled(count: () => number): Promise<number> {
  let last = -1
  let steadySince = Date.now()
  await waitFor(() => {
    if (count() !== last) [last, steadySince] = [count(), Date.now()]
    return count() >= BIG || Date.now() - steadySince > 1_000
  }, 30_000)
  return count()
}

function config(names: string[]): string {
  return serveConfig(tokens.tokenUrl, upstream.origin, names, 'PROXY_SECRET')
}

beforeAll(async () => {
  tokens = await new TokenServer().start()
  upstream = await listen((req, res) => {
    const ok = req.headers.authorization === `Bearer ${tokens.current}`
    if (ok && req.url === '/api/upload') {
      let bytes = 0
      req.on('data', (c: Buffer) => (bytes += c.length))
      req.on('end', () => res.end(JSON.stringify({ bytes })))
      return
    }
    if (ok && req.url === '/api/stalled-upload') {
      // Reads nothing: only the proxy's backpressure can stop the client.
      req.pause()
      stalledUpload = req.socket
      return
    }
    if (ok && req.url === '/api/download') {
      res.writeHead(200, { 'content-length': BIG })
      const chunk = Buffer.alloc(64 * 1024, 98)
      let sent = 0
      downloadSent = 0
      const pump = (): void => {
        while (sent < BIG) {
          sent += chunk.length
          downloadSent = sent
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      return pump()
    }
    const delay = req.url?.includes('slow') === true ? 1_500 : 0
    setTimeout(() => {
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ url: req.url }))
    }, delay)
  })
  home = await tempHome({
    CALLOUT_MASTER_KEY: randomBytes(32).toString('base64'),
    PROXY_SECRET: 'serve-process-secret',
  })
  const file = await writeText(home.dir, 'callout.json', config(['Api']))
  expect((await runCli(['apply', '-f', file], home.env)).code).toBe(0)
})

afterAll(async () => {
  if (child !== undefined && exitCode === undefined) child.kill('SIGKILL')
  await tokens?.listening.close()
  await upstream?.close()
  await home?.remove()
})

async function get(
  path: string,
  key?: string,
): Promise<{ status: number; text: string; connection: unknown }> {
  const res = await request(`${origin}${path}`, {
    headers: key === undefined ? {} : { 'proxy-authorization': `Bearer ${key}` },
  })
  return { status: res.statusCode, text: await res.body.text(), connection: res.headers.connection }
}

describe('callout serve (a real process)', () => {
  let key = ''

  it('creates and lists keys with the CLI; the key is printed once and never listed', async () => {
    const created = await runCli(
      ['keys', 'create', '--allow', 'Api,Fresh:GET', '--name', 'ci-bot', '--expires', '30d'],
      home.env,
    )
    expect(created.code).toBe(0)
    key = created.stdout.trim()
    expect(key).toMatch(/^ck_[0-9a-f]{12}_[0-9a-f]{64}$/)
    const listed = await runCli(['keys', 'list'], home.env)
    expect(listed.stdout).toContain('ci-bot')
    expect(listed.stdout).toContain('Api,Fresh:GET')
    expect(listed.stdout).not.toContain(key.slice(16))
    const bad = await runCli(['keys', 'create', '--allow', 'Api:GET:no-slash'], home.env)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('error INVALID_ARGUMENT')
  })

  it('refuses --no-auth-unsafe-loopback off loopback', async () => {
    const run = await runCli(['serve', '--host', '0.0.0.0', '--no-auth-unsafe-loopback'], home.env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('only on a loopback host')
  })

  it('starts, serves API mode with the key', async () => {
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(home.env)) if (v !== undefined) env[k] = v
    portNumber = await freePort()
    child = spawn(
      process.execPath,
      [
        BIN,
        'serve',
        '--port',
        '0',
        '--reload-interval-ms',
        '200',
        '--key-cache-ms',
        '0',
        '--credential-port',
        `Api=${portNumber}`,
      ],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('exit', (code) => (exitCode = code))
    await waitFor(() => /listening on (http:\S+)/.test(stderr) || exitCode !== undefined, 20_000)
    origin = /listening on (http:\S+)/.exec(stderr)?.[1] ?? ''
    expect(origin).not.toBe('')
    const res = await get('/callout/Api/hello', key)
    expect(res.status).toBe(200)
    expect(res.text).toContain('/api/hello')
    expect((await get('/callout/Api/hello')).status).toBe(401)
  })

  it('serves a credential port: a local token answer with a placeholder, then requests with it', async () => {
    const port = `http://127.0.0.1:${portNumber}`
    const login = await request(`${port}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=password&username=x&password=${key}`,
    })
    const token = (await login.body.json()) as { access_token: string; instance_url: string }
    expect(token.instance_url).toBe(port)
    expect(token.access_token).toBe(`00D000000000000!${key}`)
    const res = await request(`${port}/hello?x=1`, {
      headers: { authorization: `Bearer ${token.access_token}` },
    })
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toContain('/api/hello?x=1')
  })

  it('picks up `callout apply` from another process without a restart', async () => {
    expect((await get('/callout/Fresh/x', key)).status).toBe(404)
    const file = await writeText(home.dir, 'callout2.json', config(['Api', 'Fresh']))
    expect((await runCli(['apply', '-f', file], home.env)).code).toBe(0)
    await waitFor(() => stdout.includes('definitions reloaded'), 10_000)
    expect((await get('/callout/Fresh/x', key)).status).toBe(200)
  })

  it('refuses a revoked key after SIGHUP', async () => {
    const id = key.slice(3, 15)
    expect((await runCli(['keys', 'revoke', id], home.env)).code).toBe(0)
    child.kill('SIGHUP')
    await waitFor(() => stdout.includes('"why":"SIGHUP"'), 10_000)
    const res = await get('/callout/Api/hello', key)
    expect(res.status).toBe(401)
    expect(res.text).toContain('CLIENT_KEY_REVOKED')
  })

  it('streams a 200 MiB upload and a 200 MiB download with flat memory', async () => {
    const streamKey = (await runCli(['keys', 'create', '--allow', 'Api'], home.env)).stdout.trim()
    const auth = { 'proxy-authorization': `Bearer ${streamKey}` }
    await get('/callout/Api/warm', streamKey)
    // The peak counts from here: Linux resets a process's VmHWM on "5" in clear_refs.
    await writeFile(`/proc/${child.pid!}/clear_refs`, '5')
    const before = await memoryOf(child.pid!)
    const chunk = Buffer.alloc(1024 * 1024, 97)
    const up = await request(`${origin}/callout/Api/upload`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: Readable.from(
        (function* () {
          for (let i = 0; i < BIG / chunk.length; i++) yield chunk
        })(),
      ),
    })
    expect(up.statusCode).toBe(200)
    expect(await up.body.json()).toEqual({ bytes: BIG })
    const down = await request(`${origin}/callout/Api/download`, { headers: auth })
    expect(down.statusCode).toBe(200)
    let received = 0
    for await (const c of down.body) received += (c as Buffer).length
    expect(received).toBe(BIG)
    const after = await memoryOf(child.pid!)
    const growthMb = (after.peak - before.rss) / 1024
    console.log(
      `proxy RSS before ${Math.round(before.rss / 1024)} MB, peak during 2×200 MiB ${Math.round(after.peak / 1024)} MB (+${Math.round(growthMb)} MB)`,
    )
    expect(growthMb).toBeLessThan(64)
  }, 120_000)

  it('passes backpressure on: a client that stops reading stops the upstream', async () => {
    const streamKey = (await runCli(['keys', 'create', '--allow', 'Api'], home.env)).stdout.trim()
    const down = await request(`${origin}/callout/Api/download`, {
      headers: { 'proxy-authorization': `Bearer ${streamKey}` },
    })
    expect(down.statusCode).toBe(200)
    // The client reads nothing more. Kernel socket buffers on both hops (up to 32 MiB each here)
    // take what they take; then the upstream's writes must stop. A proxy that kept reading would
    // take all 200 MiB at loopback speed.
    const heldMb = (await settled(() => downloadSent)) / 2 ** 20
    console.log(`upstream sent ${heldMb.toFixed(1)} MiB to a client that read nothing`)
    expect(heldMb).toBeLessThan(100)
    // Reading on takes the rest: nothing was lost while paused.
    let received = 0
    for await (const c of down.body) received += (c as Buffer).length
    expect(received).toBe(BIG)
  }, 120_000)

  it('passes backpressure on the way up: an upstream that stops reading stops the client', async () => {
    const streamKey = (await runCli(['keys', 'create', '--allow', 'Api'], home.env)).stdout.trim()
    const chunk = Buffer.alloc(64 * 1024, 97)
    let yielded = 0
    const sending = request(`${origin}/callout/Api/stalled-upload`, {
      method: 'POST',
      headers: {
        'proxy-authorization': `Bearer ${streamKey}`,
        'content-type': 'application/octet-stream',
      },
      body: Readable.from(
        (function* () {
          while (yielded < BIG) {
            yielded += chunk.length
            yield chunk
          }
        })(),
      ),
    }).catch((e: unknown) => e)
    const heldMb = (await settled(() => yielded)) / 2 ** 20
    console.log(
      `the client could hand over ${heldMb.toFixed(1)} MiB to an upstream that read nothing`,
    )
    expect(heldMb).toBeLessThan(100)
    // The upstream gives up: the client hears of it (a 502, or its own body cut off) and the
    // proxy holds nothing more. (A client that gives up instead sends its FIN behind bytes the
    // proxy is not reading; TCP delivers it only once the exchange's total timeout frees them.)
    stalledUpload?.destroy()
    const outcome = await sending
    expect(outcome instanceof Error || (outcome as { statusCode: number }).statusCode === 502).toBe(
      true,
    )
  }, 120_000)

  it('drains an in-flight request on SIGTERM, then exits 0; the log holds no secret', async () => {
    const fresh = (await runCli(['keys', 'create', '--allow', 'Api'], home.env)).stdout.trim()
    const inFlight = get('/callout/Api/slow', fresh)
    await new Promise((r) => setTimeout(r, 300))
    child.kill('SIGTERM')
    const res = await inFlight
    expect(res.status).toBe(200)
    // An answer sent while draining ends its connection.
    expect(res.connection).toBe('close')
    await waitFor(() => exitCode !== undefined, 15_000)
    expect(exitCode).toBe(0)
    expect(stderr).toContain('callout serve: stopped')
    expect(stderr).not.toContain('drain deadline')
    for (const secret of [
      fresh,
      key,
      tokens.current,
      'serve-process-secret',
      home.env.CALLOUT_MASTER_KEY!,
    ]) {
      expect(stdout + stderr).not.toContain(secret)
    }
    expect(stdout).toContain('"path":"/callout/Api/slow"')
  })
})
