/**
 * The app factory of `callout serve` (built apart from `listen()`, which only the CLI calls):
 * API mode under `/callout/<Name>/<path>`, `/healthz`, `/readyz` and `/metrics`.
 */
import { randomBytes } from 'node:crypto'
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { Socket } from 'node:net'
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyHttpOptions,
  type FastifyServerFactory,
} from 'fastify'
import { systemClock } from '../clock.ts'
import { CalloutError, isCalloutError } from '../errors.ts'
import { ANONYMOUS, ClientAuthenticator, presentedKey, type Client } from './client-auth.ts'
import { accessLogOf } from './access-log.ts'
import { errorAnswer, type ErrorAnswer } from './error-body.ts'
import { API_MODE_ROUTE, createFastPath, type FastRoute } from './fast-path.ts'
import { forward, type ForwardContext, type RawAnswers, type RequestFacts } from './forward.ts'
import { registerJsforceProxy } from './jsforce-proxy.ts'
import { isConsoleTarget, lazyConsole } from './lazy-console.ts'
import { lazySchemaCompilers } from './lazy-schema-compilers.ts'
import { ProxyMetrics } from './metrics.ts'
import { registerMetricsRoute } from './metrics-route.ts'
import { SERVER_DEFAULTS, type ServerOptions } from './server-options.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** Facts for the access log and metrics. */
    facts: RequestFacts
  }
}

/** A built, unstarted server. */
export interface CalloutServer {
  readonly app: FastifyInstance
  readonly metrics: ProxyMetrics
  /** This instance's name in `Via`. */
  readonly pseudonym: string
  /** Re-reads the definitions and forgets cached client keys (SIGHUP, `apply` elsewhere). */
  reload(): Promise<void>
  /** Forgets one cached client key, or all (another instance revoked it). */
  forgetClientKey(id?: string): void
  /** Authenticates a request's client (a verified key, or everyone without keys). */
  clientOf(request: FastifyRequest): Promise<Client>
  /** Authenticates a client key (`undefined`: none presented). */
  authenticate(key: string | undefined): Promise<Client>
  /** Installs the shared hooks (facts, access log, metrics, errors, drain) on another app. */
  installHooks(app: FastifyInstance): void
  /** Fastify options shared by every listening app (limits, timeouts, client errors). */
  readonly fastifyOptions: FastifyHttpOptions<Server>
  /**
   * The `serverFactory` of another app (a credential port) whose server offers each request to a
   * fast path for `route` first; `app()` is that app (its shutdown closes the fast path).
   */
  fastServerFactory(route: FastRoute, app: () => FastifyInstance): FastifyServerFactory<Server>
  /** Forwarding context shared with credential ports. */
  readonly forwardContext: ForwardContext
  /** Whether the setup console has been built (on its first request; never without a console). */
  readonly consoleLoaded: boolean
}

const PROXIED_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const
const KEY_CODES = new Set([
  'CLIENT_KEY_MISSING',
  'CLIENT_KEY_INVALID',
  'CLIENT_KEY_EXPIRED',
  'CLIENT_KEY_REVOKED',
  'ACCESS_DENIED',
])

/**
 * Builds the server. Nothing listens until the caller calls `app.listen()`.
 *
 * @example
 * const { app } = buildServer({ broker, keys: store.clientKeys })
 * await app.listen({ host: '127.0.0.1', port: 7070 })
 */
export function buildServer(options: ServerOptions): CalloutServer {
  if (options.keys === undefined && options.noAuthUnsafeLoopback !== true) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      'callout serve needs client keys (the store) or the explicit --no-auth-unsafe-loopback switch.',
    )
  }
  const settings = { ...SERVER_DEFAULTS, ...definedOf(options) }
  const broker = options.broker
  const logger = options.logger
  const metrics = new ProxyMetrics(
    options.processMetrics === undefined ? {} : { processMetrics: options.processMetrics },
  )
  const pseudonym = `callout-${randomBytes(4).toString('hex')}`
  const authenticator =
    options.keys === undefined
      ? undefined
      : new ClientAuthenticator({
          keys: options.keys,
          clock: options.clock ?? systemClock,
          cacheMs: settings.keyCacheMs,
        })
  /** The error answer of a failure, with its side effects (facts, metrics, the server log). */
  const failureAnswer = (
    error: unknown,
    facts: RequestFacts,
    url: string | undefined,
  ): ErrorAnswer => {
    const callout = isCalloutError(error) ? error : fastifyClientError(error)
    const answer = errorAnswer(callout)
    facts.code = answer.code
    if (KEY_CODES.has(answer.code)) metrics.keyDenied(facts.key ?? 'none', answer.code)
    if (answer.code === 'REFRESH_COOLDOWN' && facts.credential !== undefined) {
      metrics.cooldown(facts.credential)
    }
    if (answer.code === 'INTERNAL') {
      logger?.error({ err: error, path: pathOnly(url) }, 'unexpected failure')
    }
    return answer
  }
  const factsOf = (request: FastifyRequest): RequestFacts =>
    request.facts ?? { start: performance.now() }
  /** The error answer written on the raw response (before or outside Fastify's reply). */
  const writeFailure = (
    answer: ErrorAnswer,
    request: IncomingMessage,
    response: ServerResponse,
    closing: boolean,
  ): void => {
    if (response.headersSent) {
      response.destroy()
      return
    }
    for (const name of response.getHeaderNames()) response.removeHeader(name)
    const json = JSON.stringify(answer.body)
    response.writeHead(answer.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
      ...(answer.retryAfterSeconds === undefined
        ? {}
        : { 'retry-after': String(answer.retryAfterSeconds) }),
      ...(request.complete && !closing ? {} : { connection: 'close' }),
    })
    response.end(json)
  }
  const accessLog = accessLogOf(logger)
  /** Access log and metrics of one answered request. */
  const record = (request: IncomingMessage, status: number, facts: RequestFacts): void => {
    const seconds = (performance.now() - facts.start) / 1000
    if (facts.credential !== undefined) metrics.observe(facts.credential, status, seconds)
    accessLog?.({
      method: request.method,
      path: pathOnly(request.url),
      status,
      ms: Math.round(seconds * 10_000) / 10,
      credential: facts.credential,
      key: facts.key,
      code: facts.code,
    })
  }
  /** Apps whose `close()` has started: their answers close the connection. */
  const closingApps = new WeakSet<FastifyInstance>()
  const answers: RawAnswers = {
    closing: (request) => closingApps.has(request.server),
    fail: (error, request, response) => {
      const answer = failureAnswer(error, factsOf(request), request.raw.url)
      writeFailure(answer, request.raw, response, closingApps.has(request.server))
    },
  }

  const forwardContext: ForwardContext = {
    answers,
    broker,
    pseudonym,
    limits: {
      maxBodyBytes: settings.maxBodyBytes,
      replayableBodyBytes: settings.replayableBodyBytes,
    },
    totalTimeoutMs: settings.totalTimeoutMs,
  }
  broker.on('refreshed', (e) => metrics.refreshed(e.namedCredential ?? e.key.externalCredential))
  broker.on('refresh-failed', (e) =>
    metrics.refreshFailed(e.namedCredential ?? e.key.externalCredential, e.code),
  )
  broker.on('needs-reauth', (e) =>
    metrics.refreshFailed(e.namedCredential ?? e.key.externalCredential, e.code),
  )

  const fastifyOptions: FastifyHttpOptions<Server> = {
    logger: false,
    schemaController: lazySchemaCompilers(),
    exposeHeadRoutes: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestTimeout: settings.clientTimeoutMs,
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    http: {
      maxHeaderSize: settings.maxHeaderBytes,
      headersTimeout: settings.headersTimeoutMs,
      // Node checks the header and request timeouts on this interval (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, settings.headersTimeoutMs),
    },
    clientErrorHandler: (error, socket) => answerClientError(error, socket),
    frameworkErrors: (error, _request, reply) => {
      const bad =
        error.code === 'FST_ERR_BAD_URL'
          ? new CalloutError(
              'CALLOUT_URL_MALFORMED',
              'Malformed callout URL (bad-percent-encoding): "%" must start a %XX escape; write a literal % as %25.',
              { details: { rule: 'bad-percent-encoding' } },
            )
          : new CalloutError('INVALID_ARGUMENT', `The request is malformed: ${error.message}`)
      const answer = errorAnswer(bad)
      const raw = reply.raw as import('node:http').ServerResponse
      const json = JSON.stringify(answer.body)
      raw.writeHead(answer.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(json),
      })
      raw.end(json)
    },
  }

  const installHooks = (target: FastifyInstance): void => {
    target.server.on('connect', (_req, socket: Socket) => {
      writeRaw(
        socket,
        new CalloutError(
          'METHOD_NOT_ALLOWED',
          'callout serve is not a forward proxy and does not accept CONNECT; send requests to /callout/<Name>/<path> or to a credential port.',
        ),
      )
    })
    target.decorateRequest('facts', null as unknown as RequestFacts)
    target.removeAllContentTypeParsers()
    // Bodies are streamed by the route itself (never buffered by Fastify).
    target.addContentTypeParser('*', (_request, _payload, done) => done(null))

    // Callback-style hooks: an `async` hook costs a promise and a microtask turn per request.
    target.addHook('onRequest', (request, _reply, done) => {
      request.facts = { start: performance.now() }
      const url = request.raw.url ?? ''
      if (!url.startsWith('/')) {
        done(
          new CalloutError(
            'CALLOUT_URL_MALFORMED',
            'Malformed request target: callout serve accepts origin-form targets (/callout/<Name>/<path>), not absolute URLs; it is not a forward proxy.',
            { details: { rule: 'bad-scheme' } },
          ),
        )
        return
      }
      done()
    })
    // Graceful shutdown: answers still in flight when close() starts end their connection, so that
    // draining finishes as soon as they are done instead of waiting for keep-alive timeouts.
    let closing = false
    target.addHook('preClose', (done) => {
      closing = true
      closingApps.add(target)
      done()
    })
    target.addHook('onSend', (_request, reply, payload, done) => {
      if (closing) reply.header('connection', 'close')
      done(null, payload)
    })
    target.addHook('onResponse', (request, reply, done) => {
      record(request.raw, reply.statusCode, request.facts)
      done()
    })

    target.setErrorHandler(async (error, request, reply) => {
      const answer = failureAnswer(error, factsOf(request), request.raw.url)
      if (reply.sent || reply.raw.headersSent) return
      // An unread request body would be taken for the next request on this connection: close it.
      if (!request.raw.complete) reply.header('connection', 'close')
      if (answer.retryAfterSeconds !== undefined) {
        reply.header('retry-after', String(answer.retryAfterSeconds))
      }
      return reply.code(answer.status).header('content-type', 'application/json').send(answer.body)
    })
    target.setNotFoundHandler(async (request) => {
      const method = request.raw.method ?? ''
      if (method === 'TRACE' || method === 'TRACK') {
        throw new CalloutError('METHOD_NOT_ALLOWED', `callout serve does not forward ${method}.`)
      }
      throw new CalloutError(
        'ROUTE_NOT_FOUND',
        `callout serve has no ${pathOnly(request.raw.url)}: API mode is /callout/<Name>/<path>; operations are /healthz, /readyz and /metrics.`,
      )
    })
  }
  /** A request the fast path answered, and its key's. */
  const countFast = (facts: RequestFacts): void => {
    metrics.fastPath()
    if (facts.key !== undefined) metrics.keyRequest(facts.key)
  }
  /** A fast path for `route` in front of `target()` (API mode's app, or a credential port's). */
  const fastPathOf = (route: FastRoute, target: () => FastifyInstance) => {
    const closing = (): boolean => closingApps.has(target())
    return createFastPath(
      {
        broker,
        pseudonym,
        totalTimeoutMs: settings.totalTimeoutMs,
        peekClient: (headers) => {
          if (authenticator === undefined) return ANONYMOUS
          try {
            return authenticator.peek(presentedKey(headers))
          } catch {
            return undefined
          }
        },
        closing,
        record: (request, status, facts) => {
          countFast(facts)
          record(request, status, facts)
        },
        fail: (error, request, response, facts) => {
          countFast(facts)
          const answer = failureAnswer(error, facts, request.url)
          writeFailure(answer, request, response, closing())
          record(request, answer.status, facts)
        },
      },
      route,
    )
  }
  /** A server that offers each request to `fast` first, then to `next` (Fastify's handler). */
  const serverOf = (
    fast: ReturnType<typeof fastPathOf>,
    next: (request: IncomingMessage, response: ServerResponse) => void,
  ): Server => {
    const server = createServer(fastifyOptions.http ?? {}, (request, response) => {
      if (!fast(request, response, () => next(request, response))) next(request, response)
    })
    // What Fastify sets on a server it creates itself.
    server.keepAliveTimeout = settings.keepAliveTimeoutMs
    server.requestTimeout = settings.clientTimeoutMs
    return server
  }
  // API mode's fast path sees each request first; what it does not take goes to Fastify.
  const fast = fastPathOf(API_MODE_ROUTE, () => app)

  // The console is built when its first page is asked for (see lazy-console.ts).
  const consoleApp =
    options.console === undefined
      ? undefined
      : lazyConsole({
          broker,
          console: options.console,
          fastifyOptions,
          installHooks: (target) => installHooks(target),
          onError: (error) => logger?.error({ err: error }, 'the setup console failed to start'),
        })

  const app = Fastify({
    ...fastifyOptions,
    serverFactory: (handler) =>
      serverOf(fast, (request, response) => {
        if (consoleApp !== undefined && isConsoleTarget(request.url)) {
          consoleApp.handle(request, response)
        } else {
          handler(request, response)
        }
      }),
  })
  installHooks(app)

  const authenticate = async (key: string | undefined): Promise<Client> =>
    authenticator === undefined ? ANONYMOUS : authenticator.authenticate(key)
  const clientOf = async (request: FastifyRequest): Promise<Client> => {
    const client = await authenticate(presentedKey(request.raw.headers))
    request.facts.key = client.id
    return client
  }
  /** {@link clientOf} without a promise when the key was verified recently (or without keys). */
  const clientNow = (request: FastifyRequest): Client | undefined => {
    const client =
      authenticator === undefined
        ? ANONYMOUS
        : authenticator.peek(presentedKey(request.raw.headers))
    if (client !== undefined) request.facts.key = client.id
    return client
  }

  app.route({
    method: [...PROXIED_METHODS],
    url: '/callout/*',
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const client = clientNow(request) ?? (await clientOf(request))
      metrics.keyRequest(client.id)
      const target = (request.raw.url ?? '').slice('/callout/'.length)
      return forward(forwardContext, request, reply, client, target, request.facts)
    },
  })

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    try {
      await options.ready?.()
      await broker.status().then(() => undefined)
    } catch (error) {
      const answer = errorAnswer(
        isCalloutError(error)
          ? error
          : new CalloutError('STORE_UNREACHABLE', 'The store is not reachable.'),
      )
      if (answer.retryAfterSeconds !== undefined) {
        reply.header('retry-after', String(answer.retryAfterSeconds))
      }
      return reply.code(503).send({ status: 'not ready', ...answer.body })
    }
    return {
      status: 'ready',
      auth: authenticator === undefined ? 'none (unsafe loopback)' : 'client keys',
    }
  })
  registerMetricsRoute(app, metrics, options.metrics ?? 'loopback')

  const server: CalloutServer = {
    app,
    metrics,
    pseudonym,
    forwardContext,
    clientOf,
    authenticate,
    installHooks,
    fastifyOptions,
    fastServerFactory: (route, target) => {
      const portFast = fastPathOf(route, target)
      return (handler) => serverOf(portFast, handler)
    },
    reload: async () => {
      await broker.reload()
      authenticator?.clear()
    },
    forgetClientKey: (id?: string) => authenticator?.clear(id),
    get consoleLoaded() {
      return consoleApp?.built ?? false
    },
  }
  registerJsforceProxy(server, app)
  if (consoleApp !== undefined) {
    // Closing the proxy closes the console: its answers in flight end their connection too.
    app.addHook('preClose', (done) => void consoleApp.close().then(() => done(), done))
  }
  return server
}

/** The option values that are set (so that `undefined` never hides a default). */
function definedOf(options: ServerOptions): Partial<typeof SERVER_DEFAULTS> {
  const out: Record<string, number> = {}
  for (const key of Object.keys(SERVER_DEFAULTS) as (keyof typeof SERVER_DEFAULTS)[]) {
    const value = (options as unknown as Record<string, unknown>)[key]
    if (typeof value === 'number') out[key] = value
  }
  return out
}

/**
 * The path of a request target without its query (queries may carry tokens), and without the
 * token of a connect link (`/connect/<token>`).
 */
function pathOnly(url: string | undefined): string {
  const value = url ?? ''
  const q = value.indexOf('?')
  const path = q === -1 ? value : value.slice(0, q)
  return path.startsWith('/connect/') ? '/connect/[redacted]' : path
}

/** Fastify's own client errors (bad content length, aborted body) as `INVALID_ARGUMENT`. */
function fastifyClientError(error: unknown): unknown {
  const status = (error as { statusCode?: number }).statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new CalloutError(
      'INVALID_ARGUMENT',
      `The request is malformed: ${(error as Error).message}`,
      { cause: error },
    )
  }
  return error
}

/** Errors Node raises before a request reaches Fastify (header overflow, timeouts, bad syntax). */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const code = error.code ?? ''
  const callout =
    code === 'HPE_HEADER_OVERFLOW'
      ? new CalloutError(
          'REQUEST_HEADERS_TOO_LARGE',
          'The request headers are larger than this proxy accepts; send fewer or smaller headers, or raise --max-header-bytes on callout serve.',
        )
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new CalloutError(
            'REQUEST_TIMEOUT',
            'The request was not received in time; send it promptly, or raise --client-timeout-ms on callout serve.',
          )
        : new CalloutError(
            'INVALID_ARGUMENT',
            `The request is not valid HTTP/1.1 (${code || 'parse error'}); check the request line and headers.`,
          )
  writeRaw(socket, callout)
}

/** Answers on a raw socket (before or outside Fastify) and closes it. */
function writeRaw(socket: Socket, error: CalloutError): void {
  const { status, body } = errorAnswer(error)
  const json = JSON.stringify(body)
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'content-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(json)}\r\n` +
      'connection: close\r\n\r\n' +
      json,
  )
}
