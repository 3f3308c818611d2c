/**
 * What a CLI command reads and writes, injected so commands run in-process in tests.
 */
import { Writable } from 'node:stream'
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
  /**
   * The file descriptor behind `stdout` when it is the process's own (1), for writers that write
   * to it directly and asynchronously (the access log of `callout serve`); absent in tests.
   */
  readonly stdoutFd?: number
}

/** The process's own streams and environment; stdout and stderr as {@link quietWhenReaderGone} makes them. */
export function processIo(): CliIo {
  return {
    stdout: quietWhenReaderGone(process.stdout),
    stderr: quietWhenReaderGone(process.stderr),
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    interactive: process.stdout.isTTY === true && process.stdin.isTTY === true,
    stdoutFd: 1,
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

const READER_GONE = Symbol('callout.readerGone')

/**
 * `target` (the process's stdout or stderr) for a command's output, quiet when its reader goes
 * away: after `EPIPE` (`callout --help | head -3`, `callout get … | head -1`) writes are dropped
 * instead of crashing with an unhandled error, so the command finishes its work and exits with its
 * own status (0 for help). {@link readerGone} tells a long writer to stop early. Other write errors
 * stay fatal, as they were.
 *
 * @example
 * const stdout = quietWhenReaderGone(process.stdout)
 */
export function quietWhenReaderGone(target: NodeJS.WritableStream): NodeJS.WritableStream {
  let gone = false
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (gone || target.write(chunk)) return void callback()
      // Wait for the reader to catch up, or to go away.
      const done = (): void => {
        target.off('drain', done)
        target.off('close', done)
        callback()
      }
      target.on('drain', done)
      target.on('close', done)
    },
  })
  Object.defineProperty(out, READER_GONE, { get: () => gone })
  target.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    gone = true
  })
  return out
}

/** True once the reader of a {@link quietWhenReaderGone} stream has gone away. */
export function readerGone(stream: NodeJS.WritableStream): boolean {
  return (stream as unknown as Record<symbol, unknown>)[READER_GONE] === true
}
