/**
 * The fast path of a credential port: API mode's fast path (`fast-path.ts`: prepared without a
 * promise, sent with undici's `dispatch`, answered on the raw response) for the port's requests
 * whose answer the port passes on untouched. A request qualifies by itself: a GET, HEAD or OPTIONS
 * without a body (checked by the fast path), not on a path the port answers or rewrites (its
 * OAuth endpoints, SOAP, the JSON answers SDKs follow, identity URLs), without a Bulk API 1.0
 * session (`X-SFDC-Session`, which the pipeline places). The client key comes from
 * `Proxy-Authorization` or `Authorization` (the key, or the placeholder that embeds it), verified
 * within `--key-cache-ms`; those headers never go upstream, and the placeholder is removed from
 * the query as on the full path. An answer with a `Location` is sent again through the full path,
 * which rewrites it to the port, as redirects and rejected tokens are.
 */
import type { FastRoute } from './fast-path.ts'
import { rewrittenAt, withoutPlaceholderToken } from './port-answer.ts'
import { isSoapTarget } from './salesforce-session.ts'

/**
 * The fast route of the credential port serving `credential`.
 *
 * @example
 * const app = Fastify({ ...options, serverFactory: server.fastServerFactory(portFastRoute('Target'), () => app) })
 */
export function portFastRoute(credential: string): FastRoute {
  return {
    locationToFull: true,
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
