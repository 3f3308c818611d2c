/**
 * The access log of `callout serve`: one line per answered request, in the format pino writes
 * (`{"level":30,"time":…,<the logger's bindings>,"method":…,"msg":"request"}`), written to the
 * logger's own destination. The line is put together by one fixed function instead of pino's
 * generic serialiser, which cost about a fifth of the proxy's CPU time per request.
 */
import pino, { type Logger } from 'pino'

/** One answered request (never a secret: no query string, no key, no token). */
export interface AccessEntry {
  readonly method: string | undefined
  /** The path without its query. */
  readonly path: string
  readonly status: number
  readonly ms: number
  readonly credential?: string | undefined
  /** The client key's id. */
  readonly key?: string | undefined
  /** The Callout error code of an error answer. */
  readonly code?: string | undefined
}

/** pino's numeric level for `info`. */
const INFO = 30

/**
 * The access-log writer of `logger`: the same line `logger.info(entry, 'request')` writes, or
 * `undefined` without a logger. A logger whose format this function cannot reproduce (a custom
 * message key, formatters or mixin) gets `logger.info` itself.
 *
 * @example
 * const write = accessLogOf(pino())
 * write?.({ method: 'GET', path: '/callout/Api/x', status: 200, ms: 1.2, credential: 'Api' })
 */
export function accessLogOf(
  logger: Logger | undefined,
): ((entry: AccessEntry) => void) | undefined {
  if (logger === undefined) return undefined
  const held = logger as unknown as Record<symbol, unknown>
  const stream = held[pino.symbols.streamSym] as { write?: (line: string) => unknown } | undefined
  const bindings = held[pino.symbols.chindingsSym]
  const plain =
    typeof stream?.write === 'function' &&
    typeof bindings === 'string' &&
    held[pino.symbols.messageKeySym] === 'msg' &&
    held[pino.symbols.mixinSym] === undefined &&
    isDefaultFormat(held[pino.symbols.formattersSym]) &&
    held[pino.symbols.timeSym] === pino.stdTimeFunctions.epochTime
  if (!plain) {
    return (entry) => {
      logger.info({ ...entry }, 'request')
    }
  }
  const write = stream.write!.bind(stream)
  return (entry) => {
    if (logger.levelVal > INFO) return
    write(
      `{"level":${INFO},"time":${Date.now()}${bindings}${field('method', entry.method)},"path":${JSON.stringify(entry.path)},"status":${entry.status},"ms":${entry.ms}` +
        `${field('credential', entry.credential)}${field('key', entry.key)}${field('code', entry.code)},"msg":"request"}\n`,
    )
  }
}

function field(name: string, value: string | undefined): string {
  return value === undefined ? '' : `,"${name}":${JSON.stringify(value)}`
}

/** pino's own level and bindings formatting (nothing that would change the line). */
function isDefaultFormat(formatters: unknown): boolean {
  const f = formatters as { level?: unknown; bindings?: unknown; log?: unknown } | undefined
  if (f === undefined) return false
  const probe = f.level
  return (
    typeof probe === 'function' &&
    JSON.stringify((probe as (l: string, n: number) => unknown)('info', INFO)) === '{"level":30}' &&
    f.log === undefined
  )
}
