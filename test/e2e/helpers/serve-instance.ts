/**
 * One `callout serve` OS process for the scale-out tests: spawned from `bin/callout.js` on port 0
 * with a given environment (home, master key, store URL), its stderr kept, its origin read from
 * the "listening on" line. Its JSON access log goes to a file, not a pipe: writes to a pipe are
 * synchronous in Node, and a test process busy sending a thousand requests would stall the proxy
 * it measures. `stop()` sends SIGTERM (SIGKILL after 5 s).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { BIN } from '../../cli/helpers.ts'

/** A running `callout serve`. */
export class ServeInstance {
  readonly proc: ChildProcess
  readonly #logFile = join(tmpdir(), `callout-serve-${randomBytes(6).toString('hex')}.log`)
  stderr = ''
  origin = ''
  readonly exited: Promise<number | null>

  private constructor(args: readonly string[], env: Record<string, string | undefined>) {
    const clean: Record<string, string> = {}
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v
    const log = openSync(this.#logFile, 'w')
    this.proc = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
      env: clean,
      stdio: ['ignore', log, 'pipe'],
    })
    closeSync(log)
    this.proc.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()))
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code) => {
        resolve(code)
      }),
    )
  }

  /** The access and server log (JSON lines) written so far. */
  get stdout(): string {
    try {
      return readFileSync(this.#logFile, 'utf8')
    } catch {
      return ''
    }
  }

  /** Removes the log file. */
  removeLog(): void {
    rmSync(this.#logFile, { force: true })
  }

  /** Spawns `callout serve --port 0 <args>` and waits for its "listening on" line. */
  static async start(
    args: readonly string[],
    env: Record<string, string | undefined>,
    timeoutMs = 60_000,
  ): Promise<ServeInstance> {
    const instance = new ServeInstance(args, env)
    instances.add(instance)
    await instance.waitForOutput(/listening on (http:\S+)/, timeoutMs)
    instance.origin = /listening on (http:\/\/[^\s,]+)/.exec(instance.stderr)?.[1] ?? ''
    return instance
  }

  get pid(): number {
    return this.proc.pid ?? 0
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null
  }

  /** Resolves when stderr matches `pattern`; rejects on exit or timeout. */
  async waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs
    while (!pattern.test(this.stderr)) {
      if (!this.alive) throw new Error(`callout serve exited: ${this.stderr}`)
      if (Date.now() > until) throw new Error(`timed out waiting for ${pattern}: ${this.stderr}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  async stop(): Promise<void> {
    if (!this.alive) return
    this.proc.kill('SIGTERM')
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000)
    await this.exited
    clearTimeout(timer)
  }
}

/** Every instance started, so that `afterAll` can stop those still running. */
export const instances = new Set<ServeInstance>()

/** Stops every instance still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...instances].map((i) => i.stop()))
  for (const instance of instances) instance.removeLog()
  instances.clear()
}
