/**
 * The setup console, mounted on the proxy's own port but built only when a browser first asks for
 * one of its pages: a proxy that nobody administers never loads the console's modules, templates
 * and plugins (cookies, CSRF, helmet, rate limiting, forms), nor keeps their memory. The console is
 * a Fastify app of its own, with the proxy's options and hooks; the proxy's server hands it every
 * request that is not one of the proxy's own routes.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from 'fastify'
import type { Server } from 'node:http'
import type { Broker } from '../callout/broker.ts'
import { CalloutError } from '../errors.ts'
import type { ConsoleOptions } from './console/console-plugin.ts'
import { errorAnswer } from './error-body.ts'
import { JSFORCE_PROXY_PATH } from './jsforce-proxy.ts'

/** Paths the proxy's own app serves; every other origin-form path belongs to the console. */
const PROXY_PATHS = new Set(['/healthz', '/readyz', '/metrics', JSFORCE_PROXY_PATH])

/**
 * Whether a request target belongs to the console rather than to the proxy: an origin-form path
 * outside API mode (`/callout/…`), the operations routes and jsforce's `proxyUrl`.
 *
 * @example
 * isConsoleTarget('/named-credentials') // true
 * isConsoleTarget('/callout/Api/x') // false
 * isConsoleTarget('http://example.com/') // false: refused by the proxy as not origin-form
 */
export function isConsoleTarget(url: string | undefined): boolean {
  if (url === undefined || url.charCodeAt(0) !== 47 /* / */) return false
  if (url.startsWith('/callout/')) return false
  const q = url.indexOf('?')
  return !PROXY_PATHS.has(q === -1 ? url : url.slice(0, q))
}

/** What the console app is built with. */
export interface LazyConsoleOptions {
  readonly broker: Broker
  readonly console: ConsoleOptions
  /** The proxy's Fastify options (limits, timeouts, client errors). */
  readonly fastifyOptions: FastifyHttpOptions<Server>
  /** The proxy's shared hooks (facts, access log, metrics, errors, drain). */
  installHooks(app: FastifyInstance): void
  /** Reports a console that could not be built (the request gets a 500). */
  onError(error: unknown): void
}

/** The console, built on first use. */
export interface LazyConsole {
  /** Answers a console request, building the console first if this is the first one. */
  handle(request: IncomingMessage, response: ServerResponse): void
  /** Whether the console has been built. */
  readonly built: boolean
  /** Closes the console app if it was built (answers in flight end their connection). */
  close(): Promise<void>
}

/**
 * The console, to be built when its first request arrives.
 *
 * @example
 * const lazy = lazyConsole({ broker, console: { admin, publicUrl }, fastifyOptions, installHooks, onError })
 * if (isConsoleTarget(request.url)) lazy.handle(request, response)
 */
export function lazyConsole(options: LazyConsoleOptions): LazyConsole {
  let app: FastifyInstance | undefined
  let handler: ((request: IncomingMessage, response: ServerResponse) => void) | undefined
  let building: Promise<void> | undefined
  let closed = false

  const build = async (): Promise<void> => {
    const { registerConsole } = await import('./console/console-plugin.ts')
    let routed: typeof handler
    const built = Fastify({
      ...options.fastifyOptions,
      // The proxy's server accepts the connections; this app only routes what it is handed.
      serverFactory: (routing) => {
        routed = routing
        return createServer()
      },
    })
    options.installHooks(built)
    registerConsole(built, options.broker, options.console)
    await built.ready()
    app = built
    handler = routed
  }

  return {
    get built() {
      return handler !== undefined
    },
    handle(request, response) {
      if (handler !== undefined) {
        handler(request, response)
        return
      }
      building ??= build().catch((error: unknown) => {
        // The next request tries again.
        building = undefined
        throw error
      })
      building.then(
        () => {
          if (closed) unavailable(response, SHUTTING_DOWN)
          else handler!(request, response)
        },
        (error: unknown) => {
          options.onError(error)
          unavailable(response, NOT_BUILT)
        },
      )
    },
    async close() {
      closed = true
      await building?.catch(() => undefined)
      await app?.close()
    },
  }
}

const NOT_BUILT = new CalloutError(
  'INTERNAL',
  'The setup console could not be started; the server log has the cause. Reload the page to try again.',
)
const SHUTTING_DOWN = new CalloutError('BROKER_CLOSED', 'callout serve is shutting down.')

/** The answer when the console cannot be built, or the server closed while it was. */
function unavailable(response: ServerResponse, error: CalloutError): void {
  if (response.headersSent || response.destroyed) return
  const { status, body } = errorAnswer(error)
  const json = JSON.stringify(body)
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
    connection: 'close',
  })
  response.end(json)
}
