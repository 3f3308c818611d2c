/**
 * Forwarding one client request through the broker's pipeline (`broker.request`: URL rules,
 * refresh once and retry once, trusted redirects, typed errors) and streaming the answer back,
 * with hop-by-hop headers removed both ways, `Via` added and loops refused.
 */
import type { ServerResponse } from 'node:http'
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Broker } from '../callout/broker.ts'
import type { Received } from '../callout/pipeline.ts'
import type { SessionIdPlacement } from '../callout/steps/session-id.ts'
import { typedBodyError } from '../callout/steps/send.ts'
import type { CalloutResponse } from '../callout/types.ts'
import type { Definitions, NamedCredential } from '../definitions/model.ts'
import { findNamedCredential, parseCalloutUrl } from '../callout/callout-url.ts'
import { CalloutError, isCalloutError } from '../errors.ts'
import { authorize, userOf, type Client } from './client-auth.ts'
import { appendVia, viaNames, withoutHopByHop } from './hop-by-hop.ts'
import { requestBody, type BodyLimits } from './request-body.ts'

/**
 * Set on a request the fast path hands over with the answer it already received, which the full
 * path continues from instead of sending the request again (see `fast-path.ts`): after a rejected
 * token it refreshes at once and sends the request with the new token; after a redirect the
 * pipeline follows, it sends the next hop.
 */
export const RECEIVED: unique symbol = Symbol('callout.received')

/** A request the fast path handed over, with the answer it received. */
export interface HandedOver extends IncomingMessage {
  [RECEIVED]?: Received
}

/**
 * `UPSTREAM_TIMEOUT` for an exchange that outlived the proxy's total timeout.
 *
 * @example
 * throw totalTimeoutError('Target', 120_000)
 */
export function totalTimeoutError(name: string, totalTimeoutMs: number): CalloutError {
  return new CalloutError(
    'UPSTREAM_TIMEOUT',
    `The request to ${name} did not complete within ${totalTimeoutMs} ms, this proxy's total timeout; raise --total-timeout-ms on callout serve or check the upstream.`,
    { details: { namedCredential: name, totalTimeoutMs } },
  )
}

/** What forwarding needs from the server. */
export interface ForwardContext {
  readonly broker: Broker
  /** This instance's name in `Via` (`callout-<random>`): a request naming it is a loop. */
  readonly pseudonym: string
  readonly limits: BodyLimits
  /** The whole exchange (request, upstream, response body) must finish within this. */
  readonly totalTimeoutMs: number
  /**
   * Credential ports: adjusts an upstream answer's headers in place and returns the body to send
   * (URLs that point at the upstream rewritten to the port).
   */
  readonly adjustAnswer?: (
    res: CalloutResponse,
    headers: Record<string, string | string[]>,
    request: FastifyRequest,
  ) => Promise<unknown>
  /**
   * The server's own answers when forwarding writes the response itself: whether the app is
   * shutting down (answers then close their connection), and the error answer for a failure
   * that happens before the first byte (the app's error handler, on the raw response).
   */
  readonly answers?: RawAnswers
}

/** See {@link ForwardContext.answers}. */
export interface RawAnswers {
  closing(request: FastifyRequest): boolean
  fail(error: unknown, request: FastifyRequest, response: ServerResponse): void
}

/** Per-request facts for the access log and metrics (never a secret). */
export interface RequestFacts {
  readonly start: number
  credential?: string
  key?: string
  code?: string
}

/** What a credential port prepared for one request (SOAP and Bulk API 1.0 sessions). */
export interface ForwardExtras {
  /** The request body, already read (instead of streaming the client's). */
  readonly body?: Buffer
  /** Where the pipeline also puts the access token. */
  readonly sessionId?: SessionIdPlacement
}

/** Request headers the client's and ours only: never forwarded upstream. */
export const DROP_REQUEST: ReadonlySet<string> = new Set([
  'host',
  'authorization',
  'proxy-authorization',
  'x-sfdc-session',
  'callout-user',
  'content-length',
  'via',
])
/** Answer headers never passed back as they are (`Via` is appended to). */
const DROP_RESPONSE: ReadonlySet<string> = new Set(['via'])
/** A request target's Named Credential and path, for the access check. */
interface Target {
  readonly nc: NamedCredential
  readonly path: string
}

/** Parsed targets per definitions snapshot (an old snapshot's entries go with it). */
const targets = new WeakMap<Definitions, Map<string, Target>>()
/** Longer targets are parsed on every request and never kept. */
const MAX_CACHED_TARGET = 2048

/**
 * The Named Credential and path of `callout:<target>`: a pure function of the definitions and the
 * string, kept per snapshot (up to 1,024 targets; failures are never kept, they throw each time).
 *
 * @example
 * targetOf(broker.definitions, 'callout:Target/services/data/') // { nc, path: '/services/data/' }
 */
export function targetOf(defs: Definitions, input: string): Target {
  let cache = targets.get(defs)
  const hit = cache?.get(input)
  if (hit !== undefined) return hit
  const parsed = parseCalloutUrl(input)
  if (parsed.kind !== 'callout') throw new CalloutError('INTERNAL', 'unreachable: plain URL')
  const found: Target = { nc: findNamedCredential(defs, parsed.name), path: parsed.path }
  if (input.length <= MAX_CACHED_TARGET) {
    if (cache === undefined) targets.set(defs, (cache = new Map<string, Target>()))
    if (cache.size >= 1024) cache.clear()
    cache.set(input, found)
  }
  return found
}

/**
 * Forwards `request` to `callout:<target>` for `client` and streams the upstream answer into
 * `reply`. `target` is `Name/path?query` exactly as the client sent it (still percent-encoded).
 * Throws `CalloutError`s before the answer starts; after that, a failing upstream body aborts
 * the client's response.
 *
 * @example
 * await forward(ctx, request, reply, client, 'Target/services/data/v61.0/', facts)
 */
export async function forward(
  ctx: ForwardContext,
  request: FastifyRequest,
  reply: FastifyReply,
  client: Client,
  target: string,
  facts: RequestFacts,
  extras?: ForwardExtras,
): Promise<FastifyReply> {
  const raw = request.raw
  const headers = raw.headers
  if (viaNames(headers.via, ctx.pseudonym)) {
    throw new CalloutError(
      'PROXY_LOOP',
      'This request already passed through this proxy (its Via header names it): a Named Credential URL points back at callout serve. Point it at the real upstream.',
    )
  }
  const input = `callout:${target}`
  const { nc, path } = targetOf(ctx.broker.definitions, input)
  facts.credential = nc.name
  const method = raw.method ?? 'GET'
  authorize(client, nc.name, method, path)
  const user = userOf(client, headers)

  const outbound = withoutHopByHop(headers, DROP_REQUEST)
  outbound.via = appendVia(headers.via, `1.1 ${ctx.pseudonym}`)
  const read = extras?.body ?? requestBody(raw, ctx.limits)
  const body = read instanceof Promise ? await read : read

  // One controller per exchange, aborted when the client goes away or the total timeout passes;
  // a plain timer, not `AbortSignal.timeout` + `AbortSignal.any` (each costs a signal, and `any`
  // keeps weak references, per request on Node 20). The timer is cleared when the response closes.
  const aborted = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    aborted.abort(new Error('the total timeout passed'))
  }, ctx.totalTimeoutMs)
  timer.unref()
  reply.raw.once('close', () => {
    clearTimeout(timer)
    if (!reply.raw.writableFinished) aborted.abort(new Error('the client went away'))
  })
  /** An upstream failure, headers or body, as the client is told of it. */
  const failure = (error: unknown): unknown =>
    timedOut && !isCalloutError(error) ? totalTimeoutError(nc.name, ctx.totalTimeoutMs) : error
  let res
  try {
    const options = {
      method,
      headers: outbound,
      ...(body === undefined ? {} : { body }),
      signal: aborted.signal,
      client: client.id,
      ...(user === undefined ? {} : { user }),
      ...(extras?.sessionId === undefined ? {} : { sessionId: extras.sessionId }),
    }
    const received = (raw as HandedOver)[RECEIVED]
    res = await (received === undefined
      ? ctx.broker.request(input, options)
      : ctx.broker.requestAfter(input, options, received))
  } catch (error) {
    throw failure(error)
  }
  const answer = withoutHopByHop(res.headers, DROP_RESPONSE)
  answer.via = appendVia(res.headers.via, `1.1 ${ctx.pseudonym}`)
  const sent =
    ctx.adjustAnswer === undefined ? res.body : await ctx.adjustAnswer(res, answer, request)
  reply.code(res.statusCode)
  if (sent === res.body && ctx.answers !== undefined) {
    const body = res.body
    streamAnswer(ctx.answers, request, reply, answer, body as unknown as Readable, (error) =>
      failure(typedBodyError(body, error)),
    )
    return reply
  }
  return reply.headers(answer).send(sent)
}

/**
 * Streams the upstream body into the client's response without Fastify's reply machinery (the
 * hot path of the proxy): headers are set as Fastify sets them for a stream (sent with the first
 * byte), the body is written with backpressure, an upstream failure before the first byte gets
 * the app's error answer and one after it aborts the response, and a client that goes away ends
 * the upstream body. Fastify's `onResponse` hooks (access log, metrics) still run when the
 * response finishes.
 */
function streamAnswer(
  answers: RawAnswers,
  request: FastifyRequest,
  reply: FastifyReply,
  headers: Record<string, string | string[]>,
  body: Readable,
  typed: (error: Error) => unknown,
): void {
  const out = reply.raw
  if (answers.closing(request)) headers.connection = 'close'
  for (const name in headers) out.setHeader(name, headers[name]!)
  reply.hijack()
  const onData = (chunk: Buffer): void => {
    if (!out.write(chunk)) body.pause()
  }
  const onDrain = (): void => {
    body.resume()
  }
  const onEnd = (): void => {
    out.end()
  }
  const onError = (error: Error): void => {
    if (out.headersSent) out.destroy()
    else answers.fail(typed(error), request, out)
  }
  const onClose = (): void => {
    out.off('drain', onDrain)
    body.off('data', onData)
    if (!body.readableEnded) body.destroy()
  }
  body.on('data', onData)
  body.once('end', onEnd)
  body.once('error', onError)
  out.on('drain', onDrain)
  out.once('close', onClose)
}
