/**
 * The fast path of a credential port: API mode's fast path (`fast-path.ts`: prepared without a
 * promise, sent with undici's `dispatch`, answered on the raw response) for the port's requests
 * whose answer the port passes on untouched. A request qualifies by itself: a GET, HEAD or OPTIONS
 * without a body (checked by the fast path), not on a path the port answers or rewrites (its
 * OAuth endpoints, SOAP, the JSON answers SDKs follow, identity URLs), without a Bulk API 1.0
 * session (`X-SFDC-Session`, which the pipeline places). The client key comes from
 * `Proxy-Authorization` or `Authorization` (the key, or the placeholder that embeds it), verified
 * within `--key-cache-ms`; those headers never go upstream, and the placeholder is removed from
 * the query as on the full path. The `Location` of an answer the pipeline does not act on is
 * rewritten to the port, as on the full path (`portLocationOf`); redirects it follows and rejected
 * tokens are handed to the full path with the answer, as in API mode.
 */
import type { Broker } from '../callout/broker.ts'
import type { FastRoute } from './fast-path.ts'
import { portLocationOf, rewrittenAt, withoutPlaceholderToken } from './port-answer.ts'
import { isSoapTarget } from './salesforce-session.ts'

/**
 * The fast route of the credential port serving `credential` on `portOrigin()`.
 *
 * @example
 * const route = portFastRoute(broker, 'Target', () => 'http://127.0.0.1:7071')
 * const app = Fastify({ ...options, serverFactory: server.fastServerFactory(route, () => app) })
 */
export function portFastRoute(
  broker: Broker,
  credential: string,
  portOrigin: () => string,
): FastRoute {
  return {
    rewriteLocation: (location, request) =>
      portLocationOf(broker, credential, portOrigin, location, request),
    target: (request) => {
      const url = request.url
      if (url === undefined || !url.startsWith('/')) return undefined
      if (request.headers['x-sfdc-session'] !== undefined) return undefined
      const q = url.indexOf('?')
      const path = q === -1 ? url : url.slice(0, q)
      if (path.startsWith('/services/oauth2/') || isSoapTarget(path) || rewrittenAt(path)) {
        return undefined
      }
      return `callout:${credential}${withoutPlaceholderToken(url)}`
    },
  }
}
