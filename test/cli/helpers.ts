/**
 * Helpers for the `callout` CLI tests: run `main()` in-process with captured streams, or spawn
 * the real `bin/callout.js`.
 */
import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { CliIo } from '../../src/cli/io.ts'
import { main } from '../../src/cli/main.ts'

/** What one run printed and returned. */
export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** A captured {@link CliIo} whose output can be read while the command still runs. */
export interface CapturedIo {
  readonly io: CliIo
  /** Everything written to stdout so far. */
  stdout(): string
  stderr(): string
}

/** Builds a {@link CliIo} over PassThrough streams. */
export function captureIo(
  env: Record<string, string | undefined>,
  options: { cwd?: string; stdin?: string } = {},
): CapturedIo {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const stdin = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')))
  stdin.end(options.stdin ?? '')
  return {
    io: { stdout, stderr, stdin, env, cwd: options.cwd ?? process.cwd(), interactive: false },
    stdout: () => out,
    stderr: () => err,
  }
}

/** Runs `callout <argv>` in-process. */
export async function runCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  options: { cwd?: string; stdin?: string } = {},
): Promise<CliRun> {
  const captured = captureIo(env, options)
  const code = await main(argv, captured.io)
  // PassThrough 'data' events are delivered synchronously on write, so the text is complete here.
  return { code, stdout: captured.stdout(), stderr: captured.stderr() }
}

/** The repository's `bin/callout.js`. */
export const BIN = fileURLToPath(new URL('../../bin/callout.js', import.meta.url))

/** Spawns `node bin/callout.js <argv>` and collects its output and exit status. */
export function spawnCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  options: { cwd?: string } = {},
): Promise<CliRun> {
  return new Promise((resolveRun, reject) => {
    const clean: Record<string, string> = {}
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v
    const child = spawn(process.execPath, [BIN, ...argv], {
      env: clean,
      cwd: options.cwd ?? process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    child.on('error', reject)
    child.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }))
  })
}

/** A temporary directory, and an environment whose `CALLOUT_HOME` is inside it. */
export interface TempHome {
  readonly dir: string
  readonly home: string
  readonly env: Record<string, string | undefined>
  remove(): Promise<void>
}

/** Creates a temporary Callout home (not yet initialised) with a minimal environment. */
export async function tempHome(extra: Record<string, string | undefined> = {}): Promise<TempHome> {
  const dir = await mkdtemp(join(tmpdir(), 'callout-cli-'))
  const home = join(dir, '.callout')
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    CALLOUT_HOME: home,
    ...extra,
  }
  return { dir, home, env, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** An RSA key pair: the SPKI public key PEM (the connected app's certificate) and the PKCS#8 key. */
export function rsaKeyPair(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  }
}

/** A free loopback port (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()))
  return port
}

/** Writes a file and returns its path. */
export async function writeText(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  return path
}

/** Waits until `predicate` is true, polling every 20 ms (fails after `timeoutMs`). */
export async function waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > until) throw new Error('timed out waiting for a condition')
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The authorization URL `callout auth` printed (the indented line after "open this URL"). */
export function printedUrl(stdout: string): string | undefined {
  return /^ {2}(http\S+)$/m.exec(stdout)?.[1]
}
