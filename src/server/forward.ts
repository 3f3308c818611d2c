/**
 * Forwarding one client request through the broker's pipeline (`broker.request`: URL rules,
 * refresh once and retry once, trusted redirects, typed errors) and streaming the answer back,
 * with hop-by-hop headers removed both ways, `Via` added and loops refused.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Broker } from '../callout/broker.ts'
import type { CalloutResponse } from '../callout/types.ts'
import { findNamedCredential, parseCalloutUrl } from '../callout/callout-url.ts'
import { CalloutError, isCalloutError } from '../errors.ts'
import { authorize, userOf, type Client } from './client-auth.ts'
import { appendVia, viaNames, withoutHopByHop } from './hop-by-hop.ts'
import { requestBody, type BodyLimits } from './request-body.ts'

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
}

/** Per-request facts for the access log and metrics (never a secret). */
export interface RequestFacts {
  readonly start: number
  credential?: string
  key?: string
  code?: string
}

/** Request headers the client's and ours only: never forwarded upstream. */
const DROP_REQUEST: ReadonlySet<string> = new Set([
  'host',
  'authorization',
  'proxy-authorization',
  'x-sfdc-session',
  'callout-user',
  'content-length',
  'via',
])
const DROP_RESPONSE: ReadonlySet<string> = new Set(['via'])
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
  const parsed = parseCalloutUrl(input)
  if (parsed.kind !== 'callout') throw new CalloutError('INTERNAL', 'unreachable: plain URL')
  const nc = findNamedCredential(ctx.broker.definitions, parsed.name)
  facts.credential = nc.name
  const method = raw.method ?? 'GET'
  authorize(client, nc.name, method, parsed.path)
  const user = userOf(client, headers)

  const outbound = withoutHopByHop(headers, DROP_REQUEST)
  outbound.via = appendVia(headers.via, `1.1 ${ctx.pseudonym}`)
  const body = await requestBody(raw, ctx.limits)

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
  let res
  try {
    res = await ctx.broker.request(input, {
      method,
      headers: outbound,
      ...(body === undefined ? {} : { body }),
      signal: aborted.signal,
      client: client.id,
      ...(user === undefined ? {} : { user }),
    })
  } catch (error) {
    if (timedOut && !isCalloutError(error)) {
      throw new CalloutError(
        'UPSTREAM_TIMEOUT',
        `The request to ${nc.name} did not complete within ${ctx.totalTimeoutMs} ms, this proxy's total timeout; raise --total-timeout-ms on callout serve or check the upstream.`,
        { details: { namedCredential: nc.name, totalTimeoutMs: ctx.totalTimeoutMs } },
      )
    }
    throw error
  }
  const answer = withoutHopByHop(res.headers, DROP_RESPONSE)
  answer.via = appendVia(res.headers.via, `1.1 ${ctx.pseudonym}`)
  const sent =
    ctx.adjustAnswer === undefined ? res.body : await ctx.adjustAnswer(res, answer, request)
  return reply.code(res.statusCode).headers(answer).send(sent)
}
