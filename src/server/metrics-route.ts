/**
 * `GET /metrics` and who may read it: loopback clients only (the default), every client that
 * presents the metrics token as `Authorization: Bearer <token>`, or nobody (`off`, what
 * `callout serve` chooses when it listens on a non-loopback address without a token).
 */
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { CalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import type { ProxyMetrics } from './metrics.ts'

/**
 * Who may read `/metrics`: `'loopback'` (clients on 127.0.0.0/8 or ::1), `'off'` (404), or
 * `{ token }` (every client, with `Authorization: Bearer <token>`; loopback clients too).
 */
export type MetricsAccess = 'loopback' | 'off' | { readonly token: Secret }

/** The `WWW-Authenticate` challenge of a refused metrics request (RFC 6750 §3). */
export const METRICS_CHALLENGE = 'Bearer realm="callout metrics"'

/**
 * Throws unless `request` may read the metrics. A missing and a wrong token get the same answer
 * (401 `METRICS_TOKEN_INVALID`, no detail); the token is compared in constant time.
 *
 * @example
 * checkMetricsAccess({ token: new Secret(t) }, request.raw) // throws without `Bearer <t>`
 */
export function checkMetricsAccess(access: MetricsAccess, request: IncomingMessage): void {
  if (access === 'off') {
    throw new CalloutError(
      'ROUTE_NOT_FOUND',
      '/metrics is off: callout serve listens on a non-loopback address without a metrics token (set --metrics-token-file or serve.metricsToken to serve it).',
    )
  }
  if (access === 'loopback') {
    if (!isLoopbackAddress(request.socket.remoteAddress)) {
      throw new CalloutError(
        'ACCESS_DENIED',
        '/metrics is served to loopback clients only (or to every client with a metrics token).',
      )
    }
    return
  }
  const presented = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '')?.[1]
  if (!access.token.equals(new Secret(presented ?? ''))) {
    throw new CalloutError(
      'METRICS_TOKEN_INVALID',
      '/metrics requires the metrics token: send Authorization: Bearer <metrics token>.',
    )
  }
}

/**
 * Adds `GET /metrics` (Prometheus text) to `app`.
 *
 * @example
 * registerMetricsRoute(app, metrics, { token: new Secret(process.env.METRICS_TOKEN!) })
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  metrics: ProxyMetrics,
  access: MetricsAccess,
): void {
  app.get('/metrics', async (request, reply) => {
    if (typeof access === 'object') reply.header('www-authenticate', METRICS_CHALLENGE)
    checkMetricsAccess(access, request.raw)
    reply.removeHeader('www-authenticate')
    const text = await metrics.registry.metrics()
    return reply.header('content-type', metrics.registry.contentType).send(text)
  })
}

function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}
