import type { Dispatcher } from 'undici'
import type { CalloutResponse, OutboundRequest } from '../types.ts'
import { requestSignal, type Deadline } from './deadline.ts'
import { ADVICE_HEADER } from './refresh-trigger.ts'
import { connectionResetError, resendFresh, resetVerdict } from './reset-retry.ts'
import { translateUpstreamError } from './translate-error.ts'

/** What a body-read failure is translated with (see {@link translateBodyErrors}). */
export interface BodyErrorContext {
  readonly target: string
  readonly origin: string
  readonly timeoutMs: number
  readonly signal?: AbortSignal | undefined
  readonly deadline?: Deadline | undefined
}

const bodyContexts = new WeakMap<object, BodyErrorContext>()

/** The context `send` recorded for a response body, if any. */
export function bodyErrorContext(body: object): BodyErrorContext | undefined {
  return bodyContexts.get(body)
}

/**
 * A failure met while streaming a body `send` returned (`for await`, `pipe`), typed as its read
 * helpers would reject: a stall past the timeout is `UPSTREAM_TIMEOUT`, a connection lost
 * mid-body `UPSTREAM_UNREACHABLE`. Other bodies' errors are returned as they are.
 *
 * @example
 * body.once('error', (error) => fail(typedBodyError(body, error)))
 */
export function typedBodyError(body: object, error: unknown): unknown {
  const context = bodyContexts.get(body)
  return context === undefined ? error : translateUpstreamError(error, context)
}

type BodyMixin = 'text' | 'json' | 'arrayBuffer' | 'blob' | 'bytes'
const MIXINS: readonly BodyMixin[] = ['text', 'json', 'arrayBuffer', 'blob', 'bytes']

/**
 * The body's read helpers (`text()`, `json()`, `arrayBuffer()`, …) that reject with typed errors:
 * one shared wrapper per original helper (not closures per response), finding the context of the
 * body it is called on in `bodyContexts`.
 */
const TRANSLATED = new WeakMap<
  (...a: unknown[]) => Promise<unknown>,
  (this: object, ...args: unknown[]) => Promise<unknown>
>()

function translated(
  read: (...a: unknown[]) => Promise<unknown>,
): (this: object, ...args: unknown[]) => Promise<unknown> {
  let wrapper = TRANSLATED.get(read)
  if (wrapper === undefined) {
    wrapper = function (this: object, ...args: unknown[]) {
      const context = bodyContexts.get(this)
      const pending = read.apply(this, args)
      return context === undefined
        ? pending
        : pending.catch((error: unknown) => {
            throw translateUpstreamError(error, context)
          })
    }
    TRANSLATED.set(read, wrapper)
  }
  return wrapper
}

/**
 * Makes the body's read helpers (`text()`, `json()`, `arrayBuffer()`, …) reject with typed
 * errors: a body that stalls past the timeout is `UPSTREAM_TIMEOUT`, a connection lost mid-body
 * `UPSTREAM_UNREACHABLE`. Stream consumers (`for await`, `pipe`) see the driver's error; `fetch`
 * responses are translated in `toResponse`.
 */
function translateBodyErrors(body: Record<string, unknown>, context: BodyErrorContext): void {
  bodyContexts.set(body, context)
  for (const name of MIXINS) {
    const read = body[name]
    if (typeof read !== 'function') continue
    body[name] = translated(read as (...a: unknown[]) => Promise<unknown>)
  }
}

/** Options for {@link send}. */
export interface SendOptions {
  readonly timeoutMs: number
  /** For error messages: the Named Credential name, or the origin for plain URLs. */
  readonly target: string
  /** The callout's total deadline (headers and body), if any. */
  readonly deadline?: Deadline | undefined
}

/**
 * Pipeline step 3: sends one request with undici (`dispatcher.request`, keep-alive pools), with
 * the Named Credential's timeout as `headersTimeout` and `bodyTimeout` (idle), the callout's
 * total deadline, and the caller's abort signal (the deadline and the signal also end the body).
 * The idle timeout bounds the upstream's silence only: while the caller is not reading, undici
 * stops reading the connection and its body timeout does not fire; reading on restarts it.
 * An upstream `callout-advice` header is dropped: that header carries only Callout's advice.
 * Transport failures become typed errors; a reset of a reused keep-alive connection
 * before any answer is retried once on a fresh connection when the request is idempotent and its
 * body can be sent again (`reset-retry.ts`). Never follows redirects (a later step does).
 *
 * @example
 * const res = await send(dispatchers.for(nc), request, { timeoutMs: nc.timeoutMs, target: nc.name })
 */
export async function send(
  dispatcher: Dispatcher,
  request: OutboundRequest,
  options: SendOptions,
): Promise<CalloutResponse> {
  const body = request.body
  const signal = requestSignal(request.signal, options.deadline)
  const context: BodyErrorContext = {
    target: options.target,
    origin: request.url.origin,
    timeoutMs: options.timeoutMs,
    signal: request.signal,
    deadline: options.deadline,
  }
  const options_: Dispatcher.RequestOptions = {
    origin: request.url.origin,
    path: `${request.url.pathname}${request.url.search}`,
    method: request.method as Dispatcher.HttpMethod,
    headers: request.headers,
    body:
      body === undefined
        ? null
        : typeof body === 'string' || body instanceof Uint8Array
          ? body
          : (body.stream as never),
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    ...(signal === undefined ? {} : { signal }),
  }
  let res: Dispatcher.ResponseData
  try {
    res = await dispatcher.request(options_)
  } catch (error) {
    res = await afterReset(dispatcher, options_, error, request, context)
  }
  translateBodyErrors(res.body as unknown as Record<string, unknown>, context)
  // Only Callout writes advice: an upstream's own `callout-advice` never reaches the caller.
  if (res.headers[ADVICE_HEADER] !== undefined) delete res.headers[ADVICE_HEADER]
  return res as unknown as CalloutResponse
}

/**
 * A failed send: a reset of a reused keep-alive connection is sent once more on a fresh one when
 * `resetVerdict` allows it, or refused with `UPSTREAM_CONNECTION_RESET`; anything else (and a
 * failed second attempt) is translated into a typed error.
 */
async function afterReset(
  dispatcher: Dispatcher,
  options: Dispatcher.RequestOptions,
  error: unknown,
  request: OutboundRequest,
  context: BodyErrorContext,
): Promise<Dispatcher.ResponseData> {
  const aborted = context.signal?.aborted === true || context.deadline?.signal.aborted === true
  const verdict = aborted ? undefined : resetVerdict(error, request)
  if (verdict?.action === 'refuse') {
    throw connectionResetError(error, verdict.reason, {
      target: context.target,
      origin: context.origin,
      method: request.method,
    })
  }
  if (verdict?.action !== 'retry') throw translateUpstreamError(error, context)
  try {
    return await resendFresh(dispatcher, options)
  } catch (second) {
    throw translateUpstreamError(second, context)
  }
}
