/**
 * `callout get` streams the body to stdout (a 200 MB body never sits in memory: the child's peak
 * RSS is measured with /usr/bin/time -v) and `--deadline` cuts a body that drips forever.
 */
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { BIN, runCli, tempHome, writeText, type TempHome } from './helpers.ts'

const MB = 1024 * 1024
const LARGE_MB = 200
let server: Server
let t: TempHome

beforeAll(async () => {
  const chunk = Buffer.alloc(MB, 'abcdefghijklmnopqrstuvwxyz\n')
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    if (req.url === '/small') return void res.end('small')
    if (req.url === '/drip') {
      const timer = setInterval(() => res.write('.'), 200)
      res.on('close', () => clearInterval(timer))
      return
    }
    let left = LARGE_MB
    const pump = (): void => {
      while (left > 0) {
        left--
        if (!res.write(chunk)) return void res.once('drain', pump)
      }
      res.end()
    }
    pump()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  t = await tempHome()
  const config = await writeText(
    t.dir,
    'callout.yaml',
    `
externalCredentials:
  Open: { protocol: none }
namedCredentials:
  Files: { url: 'http://127.0.0.1:${port}', externalCredential: Open, timeoutMs: 5000 }
`,
  )
  expect((await runCli(['init'], t.env)).code).toBe(0)
  expect((await runCli(['apply', '-f', config], t.env)).code).toBe(0)
})

afterAll(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
  await t?.remove()
})

interface TimedRun {
  readonly code: number
  readonly stdoutBytes: number
  readonly stderr: string
  readonly maxRssMb: number
  readonly elapsedMs: number
}

/** Runs `node bin/callout.js <argv>` under /usr/bin/time -v, counting (not keeping) stdout. */
function timedCli(argv: readonly string[]): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(t.env)) if (v !== undefined) env[k] = v
    const started = Date.now()
    const child = spawn('/usr/bin/time', ['-v', process.execPath, BIN, ...argv], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdoutBytes = 0
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdoutBytes += c.length))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    child.on('error', reject)
    child.on('close', (code) => {
      const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]
      resolve({
        code: code ?? -1,
        stdoutBytes,
        stderr: stderr.split('\tCommand being timed')[0] ?? '',
        maxRssMb: Math.round(Number(kb) / 1024),
        elapsedMs: Date.now() - started,
      })
    })
  })
}

describe('callout get streams the body', () => {
  it(`a ${LARGE_MB} MB body reaches stdout whole while the process stays small`, async () => {
    const small = await timedCli(['get', 'callout:Files/small'])
    expect(small.code).toBe(0)
    const large = await timedCli(['get', 'callout:Files/large'])
    expect(large.stderr).toBe('')
    expect(large.code).toBe(0)
    expect(large.stdoutBytes).toBe(LARGE_MB * MB)
    console.log(
      `callout get: peak RSS ${small.maxRssMb} MB for a 5-byte body, ${large.maxRssMb} MB for ${LARGE_MB} MB (${large.elapsedMs} ms)`,
    )
    // Buffering the body would add at least its size; streaming adds a few chunks.
    expect(large.maxRssMb - small.maxRssMb).toBeLessThan(64)
  }, 120_000)

  it('--deadline cuts a body that drips forever: UPSTREAM_TIMEOUT naming the flag', async () => {
    const run = await timedCli(['get', '--deadline', '1.5', 'callout:Files/drip'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('error UPSTREAM_TIMEOUT:')
    expect(run.stderr).toContain('--deadline 1.5')
    expect(run.stdoutBytes).toBeGreaterThan(0) // what arrived before the deadline was printed
    expect(run.elapsedMs).toBeLessThan(15_000)
  }, 30_000)

  it('stops reading a body that never ends once stdout is closed (callout get … | head -c 1)', async () => {
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(t.env)) if (v !== undefined) env[k] = v
    const started = Date.now()
    const child = spawn(process.execPath, [BIN, 'get', 'callout:Files/drip'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    onTestFinished(() => void child.kill())
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    // Read one chunk, then go away as `head` does.
    child.stdout.once('data', () => child.stdout.destroy())
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(stderr).toBe('')
    expect(code).toBe(0)
    // The body drips forever: only stopping to read it ends the command.
    expect(Date.now() - started).toBeLessThan(25_000)
  }, 30_000)

  it('--deadline must be a number of seconds', async () => {
    const run = await runCli(['get', '--deadline', 'soon', 'callout:Files/small'], t.env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('error INVALID_ARGUMENT: --deadline "soon"')
  })
})
