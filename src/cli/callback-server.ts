/**
 * The loopback HTTP server `callout auth` listens on for the OAuth redirect (RFC 8252 §7.3).
 */
import { timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { CalloutError } from '../errors.ts'

/** A running callback server waiting for one redirect. */
export interface CallbackServer {
  /** The redirect URI it serves (with the real port when port 0 was asked for). */
  readonly redirectUri: string
  /**
   * Resolves with the full callback URL of the first request to the redirect path that carries
   * `state` and either `code` or `error`; rejects after `timeoutMs`.
   */
  next(
    timeoutMs: number,
    options?: CallbackWaitOptions,
  ): Promise<{ url: URL; respond(status: number, html: string): void }>
  close(): Promise<void>
}

/** How {@link CallbackServer.next} tells the real callback from a stray request. */
export interface CallbackWaitOptions {
  /**
   * The `state` of the authorization request. A callback with another `state` (any web page can
   * send one to the loopback port) is answered 400 and the server keeps waiting.
   */
  readonly state?: string
  /** Told about each stray callback (to print a note on the terminal). */
  readonly onStray?: () => void
}

const STRAY_PAGE =
  '<!doctype html><meta charset="utf-8"><title>Callout: not this login</title>' +
  '<body style="font-family:system-ui;margin:3rem"><h1>Callout: not this login</h1>' +
  '<p>This callback does not belong to the login Callout is waiting for; it was ignored.</p></body>'

function sameState(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * Parses and checks a redirect URI for the loopback server: `http`, a loopback host, a port.
 *
 * @example
 * parseLoopbackRedirectUri('http://localhost:7171/oauth/callback')
 */
export function parseLoopbackRedirectUri(value: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--redirect-uri ${JSON.stringify(value)} is not a URL.`,
    )
  }
  if (
    url.protocol !== 'http:' ||
    !LOOPBACK.has(url.hostname) ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--redirect-uri must be http://localhost:<port>/<path> (or 127.0.0.1 / [::1]) with no query; got ${url.origin}${url.pathname}.`,
    )
  }
  return url
}

/**
 * Starts the loopback callback server on the redirect URI's port (0 picks a free one).
 *
 * @example
 * const server = await startCallbackServer('http://localhost:7171/oauth/callback')
 * const { url, respond } = await server.next(300_000)
 */
export async function startCallbackServer(redirectUri: string): Promise<CallbackServer> {
  const target = parseLoopbackRedirectUri(redirectUri)
  let deliver: ((value: { url: URL; res: ServerResponse }) => void) | undefined
  let waitOptions: CallbackWaitOptions = {}
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${target.host}`)
    const isCallback =
      req.method === 'GET' &&
      url.pathname === target.pathname &&
      url.searchParams.has('state') &&
      (url.searchParams.has('code') || url.searchParams.has('error'))
    if (!isCallback || deliver === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n')
      return
    }
    const expected = waitOptions.state
    if (expected !== undefined && !sameState(url.searchParams.get('state') ?? '', expected)) {
      res
        .writeHead(400, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(STRAY_PAGE)
      waitOptions.onStray?.()
      return
    }
    const handler = deliver
    deliver = undefined
    handler({ url, res })
  })
  server.on('connection', (socket) => socket.unref())
  const host =
    target.hostname === '[::1]'
      ? '::1'
      : target.hostname === 'localhost'
        ? '127.0.0.1'
        : target.hostname
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) =>
      reject(
        new CalloutError(
          'INVALID_ARGUMENT',
          cause.code === 'EADDRINUSE'
            ? `Port ${target.port} is in use; pass --redirect-uri with a free port (and register it as the app's callback URL).`
            : `Cannot listen on ${target.host}: ${cause.message}.`,
          { cause },
        ),
      ),
    )
    server.listen(Number(target.port === '' ? 80 : target.port), host, resolveListen)
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : Number(target.port)
  const actual = new URL(target.href)
  actual.port = String(port)

  return {
    redirectUri: actual.href,
    next(timeoutMs, options = {}) {
      waitOptions = options
      return new Promise((resolveNext, reject) => {
        const timer = setTimeout(() => {
          deliver = undefined
          reject(
            new CalloutError(
              'AUTHORIZATION_FAILED',
              `No authorization callback arrived within ${Math.round(timeoutMs / 1000)} s. Run \`callout auth\` again and finish the login in the browser.`,
            ),
          )
        }, timeoutMs)
        deliver = ({ url, res }) => {
          clearTimeout(timer)
          resolveNext({
            url,
            respond(status, html) {
              res.writeHead(status, {
                'content-type': 'text/html; charset=utf-8',
                'cache-control': 'no-store',
              })
              res.end(html)
            },
          })
        }
      })
    },
    close() {
      return new Promise((resolveClose) => {
        server.closeAllConnections()
        server.close(() => resolveClose())
      })
    },
  }
}
