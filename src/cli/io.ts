/**
 * What a CLI command reads and writes, injected so commands run in-process in tests.
 */
import { isCalloutError } from '../errors.ts'
import { cliMessage } from './cli-advice.ts'

/** Streams and environment a command uses. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  readonly stdin: NodeJS.ReadableStream
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  /** True when stdout is an interactive terminal (progress and browser opening). */
  readonly interactive: boolean
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    interactive: process.stdout.isTTY === true && process.stdin.isTTY === true,
  }
}

/** Exit statuses of the `callout` command. */
export const EXIT = Object.freeze({
  ok: 0,
  /** A Callout error (`error <CODE>: …` on stderr). */
  error: 1,
  /** Wrong usage: unknown option, missing argument. */
  usage: 2,
  /** `get`/`request`: the upstream answered outside 2xx (like curl's `--fail`). */
  httpStatus: 22,
})

/**
 * Writes an error as `error <CODE>: <message>` on stderr, with advice in CLI terms (flags, not
 * library options), and returns the exit status. Unknown
 * failures print `error INTERNAL: …` with the message only, never a stack or a secret.
 */
export function reportError(io: CliIo, error: unknown): number {
  if (isCalloutError(error)) {
    io.stderr.write(`error ${error.code}: ${cliMessage(error)}\n`)
    return EXIT.error
  }
  const message = error instanceof Error ? error.message : String(error)
  io.stderr.write(`error INTERNAL: ${message}\n`)
  return EXIT.error
}

/** Writes one line to stdout. */
export function println(io: CliIo, line = ''): void {
  io.stdout.write(`${line}\n`)
}
