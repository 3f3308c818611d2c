import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { CalloutError } from '../../errors.ts'
import type { OutboundRequest } from '../types.ts'

/**
 * Methods that RFC 9110 §9.2.2 calls idempotent: sending one twice has the effect of sending it
 * once, so a client may send it again after a connection failure.
 */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

/** Driver codes of a connection that was reset or closed by the other side. */
const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

/** Errors of sockets that had carried an answer before they failed (see {@link watchReuse}). */
const reusedFailures = new WeakSet<object>()

function markIfReused(this: Socket, error: unknown): void {
  if (this.bytesRead > 0 && typeof error === 'object' && error !== null) reusedFailures.add(error)
}

/**
 * Called once per new upstream connection (by the connector of Callout's agents): an error of this
 * socket is recorded as a failure of a reused connection when the socket had already received
 * bytes — an earlier answer on the keep-alive connection. Costs nothing per request.
 *
 * @example
 * connect: (options, done) => base(options, (err, socket) => { if (socket) watchReuse(socket); done(err, socket) })
 */
export function watchReuse(socket: Socket): void {
  // Registered before undici's own listener, so the mark is set before the request fails.
  socket.on('error', markIfReused)
}

/**
 * True when `error` is a reset or close (`ECONNRESET`, `EPIPE`, undici's "other side closed") of
 * a keep-alive connection that had already carried an answer: the classic race of an upstream
 * closing an idle connection just as a request is sent on it. Recognised from the mark
 * {@link watchReuse} sets, or from the socket counters undici attaches to its `SocketError`
 * (for dispatchers Callout did not create).
 */
export function isReusedConnectionReset(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; depth < 3 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && RESET_CODES.has(code)) {
      if (reusedFailures.has(current)) return true
      const bytesRead = (current as { socket?: { bytesRead?: unknown } }).socket?.bytesRead
      return typeof bytesRead === 'number' && bytesRead > 0
    }
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** One-off connections of the dispatchers Callout creates (see {@link registerFreshConnections}). */
const freshConnections = new WeakMap<Dispatcher, (origin: string) => Dispatcher>()

/**
 * Records how to open a fresh connection to an origin with `dispatcher`'s connection settings
 * (TLS client certificate included), for the retry after a reset: the pool might otherwise hand
 * the retry another stale keep-alive connection.
 *
 * @example
 * registerFreshConnections(agent, (origin) => new Client(origin, { connect, pipelining: 1 }))
 */
export function registerFreshConnections(
  dispatcher: Dispatcher,
  open: (origin: string) => Dispatcher,
): void {
  freshConnections.set(dispatcher, open)
}

/**
 * Sends `options` once more on a new connection (closed once the answer has been read), or
 * through `dispatcher` itself when it is not one of Callout's.
 *
 * @example
 * const res = await resendFresh(dispatcher, options)
 */
export async function resendFresh(
  dispatcher: Dispatcher,
  options: Dispatcher.RequestOptions,
): Promise<Dispatcher.ResponseData> {
  return onFresh(dispatcher, String(options.origin), (d) => d.request(options))
}

/**
 * Runs `send` on a new connection to `origin` with `dispatcher`'s settings, closed once that one
 * exchange has finished — or on `dispatcher` itself when it is not one of Callout's.
 */
function onFresh<T>(dispatcher: Dispatcher, origin: string, send: (d: Dispatcher) => T): T {
  const open = freshConnections.get(dispatcher)
  if (open === undefined) return send(dispatcher)
  const fresh = open(origin)
  const sent = send(fresh)
  // Stops accepting requests; the connection closes once this exchange has finished.
  void fresh.close().catch(() => {})
  return sent
}

/**
 * {@link resendFresh} for undici's `dispatch`: sends `options` once more on a new connection
 * (closed once the exchange has finished) with `handler`, or through `dispatcher` itself when it
 * is not one of Callout's.
 *
 * @example
 * dispatchFresh(dispatcher, options, handler)
 */
export function dispatchFresh(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  handler: Dispatcher.DispatchHandler,
): void {
  onFresh(dispatcher, String(options.origin), (d) => d.dispatch(options, handler))
}

/** What to do about a failed send (see {@link resetVerdict}). */
export type ResetVerdict =
  | { readonly action: 'none' }
  | { readonly action: 'retry' }
  | { readonly action: 'refuse'; readonly reason: 'method' | 'streamed-body' }

const NONE: ResetVerdict = { action: 'none' }
const RETRY: ResetVerdict = { action: 'retry' }

/**
 * Pipeline step 3b: decides whether a request that failed with `error` is sent once more on a
 * fresh connection. Only a reset of a reused keep-alive connection before any answer qualifies
 * (see {@link isReusedConnectionReset}), and only for an idempotent method whose body can be sent
 * again: none, a string or bytes, or a stream nothing has read yet. A reset of a reused
 * connection under `POST`/`PATCH`, or with a body already streamed, is `refuse`: the upstream may
 * have acted on it, so it is not sent twice.
 *
 * @example
 * const verdict = resetVerdict(error, request) // { action: 'retry' } for a GET on a stale connection
 */
export function resetVerdict(error: unknown, request: OutboundRequest): ResetVerdict {
  if (!isReusedConnectionReset(error)) return NONE
  if (!IDEMPOTENT.has(request.method.toUpperCase())) return { action: 'refuse', reason: 'method' }
  const body = request.body
  if (typeof body === 'object' && !(body instanceof Uint8Array)) {
    const stream = body.stream as Partial<Readable>
    const untouched = stream.readableDidRead === false && stream.destroyed === false
    if (!untouched) return { action: 'refuse', reason: 'streamed-body' }
  }
  return RETRY
}

/**
 * The error for a reset that was not retried: `UPSTREAM_CONNECTION_RESET` (502), saying that the
 * request may or may not have reached the upstream and was not sent twice.
 *
 * @example
 * throw connectionResetError(error, 'refuse', { target: 'Api', origin, method: 'POST' })
 */
export function connectionResetError(
  error: unknown,
  reason: 'method' | 'streamed-body',
  context: { readonly target: string; readonly origin: string; readonly method: string },
): CalloutError {
  const why =
    reason === 'method'
      ? `${context.method} is not idempotent`
      : 'its body was streamed and is gone'
  return new CalloutError(
    'UPSTREAM_CONNECTION_RESET',
    `${context.origin} closed a reused keep-alive connection before answering the ${context.method} request (${context.target}); it was not sent again because ${why}. The upstream may or may not have acted on it: check before sending it again.`,
    {
      cause: error,
      details: {
        target: context.target,
        origin: context.origin,
        method: context.method,
        reason,
        cause: codeOf(error),
      },
    },
  )
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? code : 'unknown'
}
