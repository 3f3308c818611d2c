/**
 * Client authentication at the token, revoke and introspect endpoints: `client_id` and
 * `client_secret` in the form (client_secret_post) or an HTTP Basic header (client_secret_basic).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
import type { IncomingMessage } from 'node:http'
import type { ConnectedApp } from '../org/principals.ts'
import { OAUTH_ERRORS } from './oauth-error.ts'
import { secureEquals } from './secure-compare.ts'

/** Client credentials as presented by the caller. */
export interface PresentedClient {
  clientId: string | undefined
  clientSecret: string | undefined
  /** True when they came in an HTTP Basic header. */
  basic: boolean
}

/** Reads client credentials from the Basic header, else from the form. */
export function presentedClient(req: IncomingMessage, form: URLSearchParams): PresentedClient {
  const header = req.headers.authorization
  if (header !== undefined && /^basic\s+/i.test(header)) {
    const decoded = Buffer.from(header.replace(/^basic\s+/i, ''), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon > 0) {
      const decode = (s: string): string => {
        try {
          return decodeURIComponent(s.replace(/\+/g, ' '))
        } catch {
          return s
        }
      }
      return {
        clientId: decode(decoded.slice(0, colon)),
        clientSecret: decode(decoded.slice(colon + 1)),
        basic: true,
      }
    }
  }
  return {
    clientId: form.get('client_id') ?? undefined,
    clientSecret: form.get('client_secret') ?? undefined,
    basic: false,
  }
}

/**
 * Finds and authenticates the client. With `secret: 'required'` the secret must be present; with
 * `'if-present'` a given secret must be right; `'ignored'` only looks the client up.
 *
 * @throws {OAuthError} `invalid_client_id` for an unknown client, `invalid_client` for a bad secret.
 */
export function authenticateClient(
  client: PresentedClient,
  findApp: (consumerKey: string) => ConnectedApp | undefined,
  secret: 'required' | 'if-present' | 'ignored',
): ConnectedApp {
  const status = client.basic ? 401 : 400
  const app = client.clientId === undefined ? undefined : findApp(client.clientId)
  if (app === undefined) throw OAUTH_ERRORS.invalidClientId(status)
  if (secret === 'ignored') return app
  if (client.clientSecret === undefined || client.clientSecret === '') {
    if (secret === 'required') throw OAUTH_ERRORS.invalidClient(status)
    return app
  }
  if (!secureEquals(client.clientSecret, app.consumerSecret))
    throw OAUTH_ERRORS.invalidClient(status)
  return app
}
