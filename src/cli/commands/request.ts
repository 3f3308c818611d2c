import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { text as readAll } from 'node:stream/consumers'
import { openBroker } from '../../callout/open-broker.ts'
import { ADVICE_HEADER } from '../../callout/steps/refresh-trigger.ts'
import { CalloutError, isCalloutError } from '../../errors.ts'
import { EXIT, println, readerGone, type CliIo } from '../io.ts'

/** Options of `callout get` and `callout request`. */
export interface RequestCommandOptions {
  readonly url: string
  readonly method?: string
  /** `Name: value` strings, as curl's `-H`. */
  readonly headers?: readonly string[]
  /** The body: literal data, `@file`, or `@-` for standard input. */
  readonly data?: string
  /** Print the status line and response headers before the body. */
  readonly include?: boolean
  /** The end user, for per-user principals. */
  readonly user?: string
  /** Accept a plain https:// URL called without any credential. */
  readonly plain?: boolean
  /** `--deadline <seconds>`: the total deadline, body included. */
  readonly deadline?: string
}

const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * Parses curl-style `Name: value` header arguments. A name that is not an RFC 9110 token is
 * `INVALID_ARGUMENT`; CR, LF or NUL in a value is `HEADER_INJECTION`.
 *
 * @example
 * parseHeaderArgs(['Accept: application/json']) // [['Accept', 'application/json']]
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.1
 */
export function parseHeaderArgs(args: readonly string[]): [string, string][] {
  return args.map((arg) => {
    const colon = arg.indexOf(':')
    const name = colon > 0 ? arg.slice(0, colon).trim() : ''
    const value = colon > 0 ? arg.slice(colon + 1).trim() : ''
    if (!TOKEN_RE.test(name)) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `-H ${JSON.stringify(arg)} is not a header: write -H 'Name: value'.`,
      )
    }
    if (/[\r\n\0]/.test(value)) {
      throw new CalloutError('HEADER_INJECTION', `-H ${name}: the value contains CR, LF or NUL.`)
    }
    return [name, value]
  })
}

/**
 * Rephrases library advice as CLI options: `{ allowPlainUrl: true }` as `--plain`, the call's
 * `deadlineMs` as `--deadline`.
 */
function withCliAdvice(error: unknown): unknown {
  if (
    isCalloutError(error) &&
    error.code === 'CALLOUT_URL_MALFORMED' &&
    error.details.rule === 'plain-url-not-allowed'
  ) {
    return new CalloutError(
      'CALLOUT_URL_MALFORMED',
      'A plain URL was given where a callout:Name URL is expected: write callout:<Name>/<path>, or pass --plain to call the URL without any credential.',
      { cause: error, details: error.details },
    )
  }
  if (
    isCalloutError(error) &&
    error.code === 'UPSTREAM_TIMEOUT' &&
    error.details.deadlineSource === 'option'
  ) {
    const seconds = Number(error.details.deadlineMs) / 1000
    return new CalloutError(
      'UPSTREAM_TIMEOUT',
      `${String(error.details.origin)} did not finish within --deadline ${seconds} (${String(error.details.target)}); pass a larger --deadline, or check the upstream.`,
      { cause: error, details: error.details },
    )
  }
  return error
}

/** `--deadline <seconds>` in ms; `INVALID_ARGUMENT` unless a positive number. */
function deadlineMsOf(deadline: string | undefined): number | undefined {
  if (deadline === undefined) return undefined
  const seconds = Number(deadline)
  if (!/^\d+(?:\.\d+)?$/.test(deadline.trim()) || !(seconds > 0) || seconds > 86_400) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--deadline ${JSON.stringify(deadline)} is not a number of seconds between 0 and 86400 (e.g. --deadline 30 or --deadline 2.5).`,
    )
  }
  return Math.max(1, Math.round(seconds * 1000))
}

/**
 * Writes the body to stdout as it arrives (never all of it in memory), honouring backpressure;
 * stops reading it (and so the download) when stdout's reader has gone away.
 */
async function streamBody(io: CliIo, body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (body === null) return
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    if (readerGone(io.stdout)) break
    if (!io.stdout.write(chunk)) await once(io.stdout, 'drain')
  }
}

async function readBody(
  io: CliIo,
  data: string | undefined,
): Promise<string | Uint8Array | undefined> {
  if (data === undefined) return undefined
  if (data === '@-') return readAll(io.stdin)
  if (data.startsWith('@')) {
    const path = resolve(io.cwd, data.slice(1))
    try {
      return await readFile(path)
    } catch (cause) {
      throw new CalloutError('INVALID_ARGUMENT', `-d @${data.slice(1)}: cannot read ${path}.`, {
        cause,
      })
    }
  }
  return data
}

/**
 * `callout get <callout-url>` / `callout request -X <method> -H 'k: v' -d <data|@file> [-i]
 * <callout-url>`: makes the callout and prints the response body on stdout. Returns 0 on 2xx,
 * {@link EXIT.httpStatus} otherwise (with `error HTTP_<status>: …` on stderr).
 *
 * @example
 * // $ callout request -X POST -H 'Content-Type: application/json' -d @account.json \
 * //     callout:Target/services/data/v61.0/sobjects/Account
 */
export async function requestCommand(io: CliIo, options: RequestCommandOptions): Promise<number> {
  const headers = parseHeaderArgs(options.headers ?? [])
  const body = await readBody(io, options.data)
  const deadlineMs = deadlineMsOf(options.deadline)
  const method = (options.method ?? (body === undefined ? 'GET' : 'POST')).toUpperCase()
  if (!TOKEN_RE.test(method)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `-X ${JSON.stringify(options.method)} is not an HTTP method.`,
    )
  }
  const broker = await openBroker({ env: io.env })
  try {
    const response = await broker
      .fetch(options.url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(options.user === undefined ? {} : { user: options.user }),
        ...(options.plain === true ? { allowPlainUrl: true } : {}),
        ...(deadlineMs === undefined ? {} : { deadlineMs }),
      })
      .catch((error: unknown) => {
        throw withCliAdvice(error)
      })
    if (options.include === true) {
      println(io, `HTTP ${response.status} ${response.statusText}`.trimEnd())
      response.headers.forEach((value, name) => println(io, `${name}: ${value}`))
      println(io)
    }
    await streamBody(io, response.body).catch((error: unknown) => {
      throw withCliAdvice(error)
    })
    if (response.status >= 200 && response.status < 300) return EXIT.ok
    const advice = response.headers.get(ADVICE_HEADER)
    io.stderr.write(
      `error HTTP_${response.status}: the upstream answered ${response.status}` +
        `${response.statusText === '' ? '' : ` ${response.statusText}`}` +
        `${advice === null ? '' : ` — ${advice}`}\n`,
    )
    return EXIT.httpStatus
  } finally {
    await broker.close()
  }
}
