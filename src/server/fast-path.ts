/**
 * The proxy's fast path. A request to `/callout/<Name>/<path>` that sends no body (GET, HEAD,
 * OPTIONS), presents a recently verified client key and names a Named Credential whose token is
 * cached is forwarded with undici's `dispatch` and answered on the raw response: no Fastify
 * request or reply, no body stream, no promise. Everything else goes to the full path (the
 * Fastify route → `forward` → `broker.request`), which gives the same answers. An answer the
 * pipeline acts on is handed to the full path with the answer itself, and the pipeline continues
 * from it instead of sending the request again: a rejected token (a 401, or a Salesforce session
 * error in the body's first 64 KiB) is refreshed at once, and a redirect the pipeline follows has
 * its next hop sent (its body read and discarded here). A redirect it does not follow, and a held
 * answer that rejects no token, are passed on here as they came.
 * Failures are worded as on the full path (`translateUpstreamError`, the total timeout), and a
 * reset of a reused connection is sent once more on a fresh one (`dispatchFresh`), as `send` does.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { util, type Dispatcher } from 'undici'
import type { Broker } from '../callout/broker.ts'
import { INSPECT_BODY_LIMIT_BYTES } from '../callout/body.ts'
import type { Exchange, Received } from '../callout/pipeline.ts'
import { ADVICE_HEADER } from '../callout/steps/refresh-trigger.ts'
import { dispatchFresh, isReusedConnectionReset } from '../callout/steps/reset-retry.ts'
import { translateUpstreamError } from '../callout/steps/translate-error.ts'
import { authorize, userOf, type Client } from './client-auth.ts'
import {
  DROP_REQUEST,
  RECEIVED,
  targetOf,
  totalTimeoutError,
  type HandedOver,
  type RequestFacts,
} from './forward.ts'
import { appendVia, HOP_BY_HOP, namedBy, viaNames, withoutHopByHop } from './hop-by-hop.ts'

/** What the fast path needs from the server. */
export interface FastPathDeps {
  readonly broker: Broker
  /** This instance's name in `Via`. */
  readonly pseudonym: string
  readonly totalTimeoutMs: number
  /** The client of the presented key when it was verified recently (no store read), else `undefined`. */
  peekClient(headers: IncomingHttpHeaders): Client | undefined
  /** Whether the server is shutting down (then nothing new takes the fast path). */
  closing(): boolean
  /** Access log and metrics for one answered request. */
  record(request: IncomingMessage, status: number, facts: RequestFacts): void
  /** Writes the error answer of `error` on the raw response (and records it). */
  fail(
    error: unknown,
    request: IncomingMessage,
    response: ServerResponse,
    facts: RequestFacts,
  ): void
}

/** Methods without a request body, safe to send again through the full path. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])
const PREFIX = '/callout/'
/**
 * How much of a redirect's body is read and dropped to keep its connection: undici's `dump()`
 * default (128 KiB), which the full path's redirect step uses.
 */
const DISCARD_LIMIT_BYTES = 128 * 1024
/** An answer passed on as it came. */
const PASS: Passed = { advice: undefined }

/** Which requests a fast path serves, and which of their answers it leaves to the full path. */
export interface FastRoute {
  /** `callout:<Name>/<path>` for a request this fast path may take, else `undefined`. */
  target(request: IncomingMessage): string | undefined
  /**
   * Rewrites the `Location` of an answer passed on (a credential port points it at the port); the
   * upstream is paused until it resolves. Never rejects: an unreadable place keeps the value.
   */
  readonly rewriteLocation?: (location: string, request: IncomingMessage) => Promise<string>
}

/** API mode: `/callout/<Name>/<path>`. */
export const API_MODE_ROUTE: FastRoute = {
  target: (request) => {
    const url = request.url
    return url?.startsWith(PREFIX) === true ? `callout:${url.slice(PREFIX.length)}` : undefined
  },
}

/**
 * Builds the fast path: a function that takes a request (returns true) or leaves it untouched for
 * the full path (returns false). `full` hands a taken request over to the full path later, when
 * the answer needs it; nothing has been written to the response then.
 *
 * @example
 * const fast = createFastPath(deps)
 * http.createServer((req, res) => { if (!fast(req, res, () => app(req, res))) app(req, res) })
 */
export function createFastPath(
  deps: FastPathDeps,
  route: FastRoute = API_MODE_ROUTE,
): (request: IncomingMessage, response: ServerResponse, full: () => void) => boolean {
  return (request, response, full) => {
    const method = request.method
    if (method === undefined || !SAFE_METHODS.has(method) || deps.closing()) return false
    const headers = request.headers
    const length = headers['content-length']
    if ((length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined) {
      return false
    }
    if (headers.via !== undefined && viaNames(headers.via, deps.pseudonym)) return false
    const input = route.target(request)
    if (input === undefined) return false
    let client: Client | undefined
    let exchange: Exchange | undefined
    try {
      client = deps.peekClient(headers)
      if (client === undefined) return false
      const { nc, path } = targetOf(deps.broker.definitions, input)
      authorize(client, nc.name, method, path)
      const user = userOf(client, headers)
      const outbound = withoutHopByHop(headers, DROP_REQUEST)
      outbound.via = appendVia(headers.via, `1.1 ${deps.pseudonym}`)
      exchange = deps.broker.prepareNow(input, {
        method,
        headers: outbound,
        client: client.id,
        ...(user === undefined ? {} : { user }),
      })
    } catch {
      // The full path answers the same request with the error.
      return false
    }
    if (exchange === undefined) return false
    const facts: RequestFacts = {
      start: performance.now(),
      credential: exchange.namedCredential,
      key: client.id,
    }
    const options: Dispatcher.DispatchOptions = {
      origin: exchange.origin,
      path: exchange.path,
      method: exchange.method as Dispatcher.HttpMethod,
      headers: exchange.headers,
      headersTimeout: exchange.timeoutMs,
      bodyTimeout: exchange.timeoutMs,
    }
    const handler = new FastExchange(deps, request, response, exchange, options, facts, full)
    handler.rewriteLocation = route.rewriteLocation
    exchange.dispatcher.dispatch(options, handler)
    return true
  }
}

/** An answer the fast path passes on (with Callout's advice, if any). */
interface Passed {
  readonly advice: string | undefined
}

/**
 * One exchange on the fast path, as an undici dispatch handler: the answer's headers and chunks
 * go straight to the client's response (with backpressure both ways), or, for an answer whose
 * body says whether the token was rejected, are held (up to 64 KiB) until the pipeline decides.
 * While `onData` has paused the upstream for a client that is not reading, undici's `bodyTimeout`
 * does not fire (it bounds the upstream's silence only); `resume` on the client's `drain`
 * restarts it.
 */
class FastExchange implements Dispatcher.DispatchHandler {
  readonly #deps: FastPathDeps
  readonly #request: IncomingMessage
  readonly #response: ServerResponse
  readonly #exchange: Exchange
  readonly #options: Dispatcher.DispatchOptions
  readonly #facts: RequestFacts
  readonly #full: () => void
  readonly #timer: NodeJS.Timeout
  #abort: ((reason?: Error) => void) | undefined
  #resume: (() => void) | undefined
  #timedOut = false
  /** Sent once more on a fresh connection after a reset of a reused one. */
  #resent = false
  #gone = false
  #done = false
  /** The answer's status and headers (and advice) until its first body byte. */
  #head: { status: number; headers: Buffer[]; advice: string | undefined } | undefined
  /** Set while an answer is held for the pipeline's decision. */
  #held: { status: number; headers: Buffer[]; chunks: Buffer[]; size: number } | undefined
  /** Set once the full path is to continue from the answer: its body is discarded until it ends. */
  #received: Received | undefined
  /** The route's `Location` rewrite (`FastRoute`). */
  rewriteLocation: FastRoute['rewriteLocation']
  /** Bytes of a body discarded so far (`#received`). */
  #discarded = 0

  constructor(
    deps: FastPathDeps,
    request: IncomingMessage,
    response: ServerResponse,
    exchange: Exchange,
    options: Dispatcher.DispatchOptions,
    facts: RequestFacts,
    full: () => void,
  ) {
    this.#deps = deps
    this.#request = request
    this.#response = response
    this.#exchange = exchange
    this.#options = options
    this.#facts = facts
    this.#full = full
    this.#timer = setTimeout(this.#onTimeout, deps.totalTimeoutMs)
    this.#timer.unref()
    response.once('close', this.#onClose)
  }

  readonly #onTimeout = (): void => {
    this.#timedOut = true
    this.#abort?.(new Error('the total timeout passed'))
  }

  readonly #onClose = (): void => {
    clearTimeout(this.#timer)
    this.#response.off('drain', this.#onDrain)
    if (this.#done) return
    this.#gone = true
    this.#abort?.(new Error('the client went away'))
  }

  readonly #onDrain = (): void => {
    this.#resume?.()
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.#abort = abort
    if (this.#gone) abort(new Error('the client went away'))
  }

  onUpgrade(): void {
    // Never asked for (no Upgrade header is forwarded).
  }

  onHeaders(status: number, headers: Buffer[], resume: () => void): boolean {
    this.#resume = resume
    const intercept = this.#exchange.intercept(status)
    if (intercept === 'inspect') {
      this.#held = { status, headers, chunks: [], size: 0 }
      return true
    }
    const decided = intercept === 'redirect' ? this.#decide(status, headers, undefined) : PASS
    if ('received' in decided) {
      this.#received = decided.received
      return true
    }
    if (
      this.#rewritesLocation(
        headers,
        () => (this.#head = { status, headers, advice: decided.advice }),
      )
    ) {
      return false
    }
    // Written with the first byte of the body (or its end): a failure before it still gets the
    // JSON error answer, as on the full path.
    this.#head = { status, headers, advice: decided.advice }
    return true
  }

  onData(chunk: Buffer): boolean {
    // The body of an answer the full path continues from is not needed: read and dropped, so the
    // connection is kept.
    if (this.#received !== undefined) {
      this.#discarded += chunk.byteLength
      // Past the cap, the connection is closed instead of read to the end (as `dump` does); the
      // full path continues all the same (`onError`).
      if (this.#discarded > DISCARD_LIMIT_BYTES) this.#abort?.(new Error('a long body to drop'))
      return true
    }
    const held = this.#held
    if (held === undefined) {
      this.#flushHead()
      return this.#write(chunk)
    }
    held.chunks.push(chunk)
    held.size += chunk.byteLength
    if (held.size <= INSPECT_BODY_LIMIT_BYTES) return true
    // Past the cap: decided on the first 64 KiB, as the full path decides (`peekBody`). Unless
    // the token was rejected, the answer is passed on: the held bytes, then the rest as it comes.
    this.#held = undefined
    const body = Buffer.concat(held.chunks)
    const text = body.subarray(0, INSPECT_BODY_LIMIT_BYTES).toString('utf8')
    const decided = this.#decide(held.status, held.headers, text)
    if ('received' in decided) {
      this.#received = decided.received
      return true
    }
    const pass = (): boolean => {
      this.#writeHead(held.status, held.headers, decided.advice)
      return this.#write(body)
    }
    return this.#rewritesLocation(held.headers, pass) ? false : pass()
  }

  onComplete(): void {
    if (this.#received !== undefined) return this.#handOver(this.#received)
    const held = this.#held
    if (held === undefined) {
      this.#flushHead()
      this.#finish(this.#response.statusCode)
      this.#response.end()
      return
    }
    const body = Buffer.concat(held.chunks)
    const decided = this.#decide(held.status, held.headers, body.toString('utf8'))
    if ('received' in decided) return this.#handOver(decided.received)
    const pass = (): boolean => {
      this.#writeHead(held.status, held.headers, decided.advice)
      this.#finish(held.status)
      this.#response.end(body)
      return false
    }
    if (!this.#rewritesLocation(held.headers, pass)) pass()
  }

  onError(error: Error): void {
    const response = this.#response
    if (this.#done || this.#gone) {
      this.#settle()
      if (!response.writableEnded) response.destroy()
      return
    }
    if (response.headersSent) {
      this.#finish(response.statusCode)
      response.destroy()
      return
    }
    if (this.#timedOut) {
      this.#settle()
      const name = this.#exchange.namedCredential
      this.#deps.fail(
        totalTimeoutError(name, this.#deps.totalTimeoutMs),
        this.#request,
        response,
        this.#facts,
      )
      return
    }
    // The full path continues from the answer whose body was being discarded (as `dump` does).
    if (this.#received !== undefined) return this.#handOver(this.#received)
    // A reset of a reused keep-alive connection: sent once more, on a fresh one (as `send` does).
    if (!this.#resent && isReusedConnectionReset(error)) {
      this.#resent = true
      this.#abort = undefined
      dispatchFresh(this.#exchange.dispatcher, this.#options, this)
      return
    }
    this.#settle()
    const typed = translateUpstreamError(error, {
      target: this.#exchange.namedCredential,
      origin: this.#exchange.origin,
      timeoutMs: this.#exchange.timeoutMs,
    })
    this.#deps.fail(typed, this.#request, response, this.#facts)
  }

  /**
   * What the pipeline does with an answer of `status` (with its body's first 64 KiB as `text`
   * when it was inspected), in its order: a rejected token is refreshed, advice ends it, a
   * redirect it follows is followed; the full path continues from a `received` answer.
   */
  #decide(
    status: number,
    raw: Buffer[],
    text: string | undefined,
  ): Passed | { received: Received } {
    const exchange = this.#exchange
    if (text !== undefined) {
      const verdict = exchange.verdict(status, text)
      if (verdict.action === 'refresh') return { received: { rejected: exchange.token! } }
      if (verdict.action === 'advise') return { advice: verdict.advice }
    }
    if (status < 300 || status > 399) return PASS
    const redirect = exchange.redirect(status, util.parseHeaders(raw).location)
    return redirect.action === 'follow' ? { received: redirect.received } : redirect
  }

  /** Writes `chunk` to the client; false (and undici paused until `drain`) when it is full. */
  #write(chunk: Buffer): boolean {
    if (this.#response.write(chunk)) return true
    this.#response.once('drain', this.#onDrain)
    return false
  }

  /** Writes the held status and headers (with the first byte of the body, or its end). */
  #flushHead(): void {
    const head = this.#head
    if (head === undefined) return
    this.#head = undefined
    this.#writeHead(head.status, head.headers, head.advice)
  }

  /**
   * Writes the answer's headers, read straight from undici's raw list (bytes kept as they came):
   * hop-by-hop headers (the fixed list and those `Connection` names) and the upstream's own
   * `callout-advice` dropped, repeated headers kept, `Via` appended to.
   */
  #writeHead(status: number, raw: Buffer[], advice: string | undefined): void {
    let named: ReadonlySet<string> | undefined
    for (let i = 0; i < raw.length; i += 2) {
      if (util.headerNameToString(raw[i]!) !== 'connection') continue
      const value = raw[i + 1]!.toString('latin1')
      named = named === undefined ? namedBy(value) : new Set([...named, ...namedBy(value)])
    }
    const answer: Record<string, string | string[]> = {}
    let via: string | undefined
    for (let i = 0; i < raw.length; i += 2) {
      const name = util.headerNameToString(raw[i]!)
      if (HOP_BY_HOP.has(name) || name === ADVICE_HEADER || named?.has(name) === true) continue
      const value = raw[i + 1]!.toString('latin1')
      if (name === 'via') {
        via = via === undefined ? value : `${via}, ${value}`
        continue
      }
      const prior = answer[name]
      answer[name] =
        prior === undefined ? value : typeof prior === 'string' ? [prior, value] : [...prior, value]
    }
    if (advice !== undefined) answer[ADVICE_HEADER] = advice
    answer.via = appendVia(via, `1.1 ${this.#deps.pseudonym}`)
    if (this.#deps.closing()) answer.connection = 'close'
    this.#response.writeHead(status, answer)
  }

  /** Ends this handler's part; the full path continues from `received`. */
  #handOver(received: Received | undefined): void {
    this.#settle()
    if (received !== undefined) (this.#request as HandedOver)[RECEIVED] = received
    this.#full()
  }

  /**
   * Whether the answer's `Location` (in `raw`) is being rewritten by the route (a credential
   * port): then undici is paused until it is, `pass` goes on with the answer (true when more body
   * may come at once), and the upstream resumes.
   */
  #rewritesLocation(raw: Buffer[], pass: () => unknown): boolean {
    if (this.rewriteLocation === undefined) return false
    const at = locationAt(raw)
    if (at === -1) return false
    const resume = this.#resume!
    const original = raw[at]!.toString('latin1')
    const go = (location: string): void => {
      if (this.#done || this.#gone) return
      raw[at] = Buffer.from(location, 'latin1')
      // Outside undici's callbacks: a throw here ends the exchange as one there would.
      try {
        if (pass() !== false) resume()
      } catch (error) {
        this.#abort?.(error as Error)
      }
    }
    this.rewriteLocation(original, this.#request).then(go, () => go(original))
    return true
  }

  #finish(status: number): void {
    this.#settle()
    this.#deps.record(this.#request, status, this.#facts)
  }

  #settle(): void {
    if (this.#done) return
    this.#done = true
    clearTimeout(this.#timer)
    this.#response.off('close', this.#onClose)
    this.#response.off('drain', this.#onDrain)
  }
}

/** Where undici's raw header list holds the value of `Location` (its index), or -1. */
function locationAt(raw: Buffer[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    if (util.headerNameToString(raw[i]!) === 'location') return i + 1
  }
  return -1
}
