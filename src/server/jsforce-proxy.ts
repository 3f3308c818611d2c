/**
 * jsforce's `proxyUrl` protocol on `/jsforce-proxy`: every request arrives at the proxy URL with
 * the real target in the `salesforceproxy-endpoint` header. The endpoint's host names the Named
 * Credential (`https://<Name>.callout.invalid/…`, never resolved) or is the origin of its URL.
 * Token requests are answered locally with a placeholder; everything else goes through the
 * pipeline.
 */
import type { FastifyInstance } from 'fastify'
import type { Definitions } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import type { CalloutServer } from './build-server.ts'
import { answerTokenRequest } from './credential-port.ts'
import { forward } from './forward.ts'

/** The path jsforce's `proxyUrl` points at. */
export const JSFORCE_PROXY_PATH = '/jsforce-proxy'
/** The symbolic host suffix of `proxyUrl` mode (`https://Target.callout.invalid`). */
export const SYMBOLIC_SUFFIX = '.callout.invalid'

const METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const
const ENDPOINT = /^(https?:\/\/[^/?#\\]+)([/?][^#]*)?$/i

/**
 * The Named Credential an endpoint URL's origin stands for: `<Name>.callout.invalid`, or the
 * credential whose URL has that origin. Throws `CREDENTIAL_NOT_FOUND`.
 *
 * @example
 * credentialForOrigin(defs, new URL('https://target.callout.invalid')) // 'Target'
 */
export function credentialForOrigin(defs: Definitions, origin: URL): string {
  const host = origin.hostname.toLowerCase()
  if (host.endsWith(SYMBOLIC_SUFFIX)) {
    const wanted = host.slice(0, -SYMBOLIC_SUFFIX.length)
    for (const name of defs.namedCredentials.keys()) if (name.toLowerCase() === wanted) return name
  } else {
    for (const nc of defs.namedCredentials.values()) {
      if (new URL(nc.url).origin === origin.origin) return nc.name
    }
  }
  throw new CalloutError(
    'CREDENTIAL_NOT_FOUND',
    `No Named Credential answers for ${origin.origin}: give jsforce instanceUrl (and loginUrl) https://<NamedCredential>${SYMBOLIC_SUFFIX}.`,
    { details: { origin: origin.origin } },
  )
}

/**
 * Adds the `proxyUrl` route to `app`.
 *
 * @example
 * registerJsforceProxy(server, server.app)
 * // jsforce: new Connection({ proxyUrl: 'http://127.0.0.1:7070/jsforce-proxy', instanceUrl: 'https://Target.callout.invalid', … })
 */
export function registerJsforceProxy(server: CalloutServer, app: FastifyInstance): void {
  app.route({
    method: [...METHODS],
    url: JSFORCE_PROXY_PATH,
    handler: async (request, reply) => {
      const header = request.raw.headers['salesforceproxy-endpoint']
      const endpoint = Array.isArray(header) ? header[0] : header
      const match = endpoint === undefined ? null : ENDPOINT.exec(endpoint)
      if (match === null) {
        throw new CalloutError(
          'INVALID_ARGUMENT',
          `${JSFORCE_PROXY_PATH} needs a salesforceproxy-endpoint header holding an absolute http(s) URL (jsforce's proxyUrl sends it).`,
        )
      }
      let origin: URL
      try {
        origin = new URL(match[1]!)
      } catch {
        throw new CalloutError(
          'CALLOUT_URL_MALFORMED',
          'The salesforceproxy-endpoint URL does not parse.',
          {
            details: { rule: 'plain-url-invalid' },
          },
        )
      }
      const name = credentialForOrigin(server.forwardContext.broker.definitions, origin)
      const rest = match[2] ?? '/'
      const path = rest.split('?')[0]
      if (request.raw.method === 'POST' && path === '/services/oauth2/token') {
        request.facts.credential = name
        const answer = await answerTokenRequest(server, request.raw, name, origin.origin)
        return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body)
      }
      if (request.raw.method === 'POST' && path === '/services/oauth2/revoke') {
        request.raw.resume()
        return reply.code(200).send('')
      }
      const client = await server.clientOf(request)
      server.metrics.keyRequest(client.id)
      return forward(server.forwardContext, request, reply, client, `${name}${rest}`, request.facts)
    },
  })
}
