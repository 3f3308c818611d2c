/**
 * The oauth4webapi plumbing shared by every grant: the authorization server and client
 * descriptors, client authentication (RFC 6749 §2.3, RFC 7523 §2.2), request options (custom
 * fetch, timeout, the loud `allowInsecureRequests` switch) and translation of transport failures
 * into {@link CalloutError}s.
 */
import * as oauth from 'oauth4webapi'
import type { AuthProvider } from '../definitions/model.ts'
import { CalloutError, isCalloutError } from '../errors.ts'
import type { ResolvedAuthDeps } from './deps.ts'
import { algorithmForPem, importPrivateKeyPem } from './private-key.ts'
import { safeCause } from './safe-cause.ts'
import type { ProviderEndpoints } from './types.ts'
import { mayUseInsecureHttp } from './url-safety.ts'

/** Options passed to every oauth4webapi request function. */
export type OAuthRequestOptions = oauth.TokenEndpointRequestOptions &
  oauth.DiscoveryRequestOptions & {
    [oauth.customFetch]: NonNullable<oauth.HttpRequestOptions<'POST'>[typeof oauth.customFetch]>
    [oauth.allowInsecureRequests]?: boolean
  }

/** Everything oauth4webapi needs to send one token request. */
export interface OAuthClientContext {
  readonly as: oauth.AuthorizationServer
  readonly client: oauth.Client
  readonly clientAuth: oauth.ClientAuth
  readonly options: OAuthRequestOptions
}

/** The oauth4webapi authorization server descriptor for resolved endpoints. */
export function authorizationServerFor(endpoints: ProviderEndpoints): oauth.AuthorizationServer {
  return {
    issuer: endpoints.issuer ?? new URL(endpoints.tokenUrl).origin,
    token_endpoint: endpoints.tokenUrl,
    ...(endpoints.authorizeUrl === undefined
      ? {}
      : { authorization_endpoint: endpoints.authorizeUrl }),
    ...(endpoints.userInfoUrl === undefined ? {} : { userinfo_endpoint: endpoints.userInfoUrl }),
    ...(endpoints.revokeUrl === undefined ? {} : { revocation_endpoint: endpoints.revokeUrl }),
    ...(endpoints.introspectUrl === undefined
      ? {}
      : { introspection_endpoint: endpoints.introspectUrl }),
  }
}

/**
 * Request options: a `customFetch` that goes through the injected fetch with a timeout, and
 * `allowInsecureRequests` ONLY when `url` is loopback http or the provider has the loud
 * `allowInsecureHttp` switch.
 */
export function requestOptions(
  url: string,
  allowInsecureHttp: boolean,
  deps: ResolvedAuthDeps,
): OAuthRequestOptions {
  const options: OAuthRequestOptions = {
    [oauth.customFetch]: (input, init) =>
      deps.fetch(input, {
        method: init.method,
        headers: init.headers,
        body: init.body as NonNullable<RequestInit['body']> | null,
        redirect: init.redirect,
        signal: AbortSignal.timeout(deps.timeoutMs),
      }),
  }
  if (mayUseInsecureHttp(url, allowInsecureHttp)) {
    // Loud and greppable: plain http only for loopback or an explicit allowInsecureHttp.
    options[oauth.allowInsecureRequests] = true
  }
  return options
}

/**
 * The client authentication of an AuthProvider as an oauth4webapi `ClientAuth`.
 *
 * - `client_secret_post` / `client_secret_basic`: need `consumerSecret`.
 * - `private_key_jwt`: signs a client assertion with `clientPrivateKey` (RS256 or ES256 by key
 *   type); its `aud` is the issuer when known, else the token endpoint URL.
 * - `none`: sends `client_id` only.
 *
 * @throws CalloutError `CONFIG_INVALID` when the secret or key the method needs is missing.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 */
export async function clientAuthenticationFor(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
  method: AuthProvider['clientAuth'] = provider.clientAuth,
): Promise<oauth.ClientAuth> {
  switch (method) {
    case 'client_secret_post':
    case 'client_secret_basic': {
      if (provider.consumerSecret === undefined) {
        throw new CalloutError(
          'CONFIG_INVALID',
          `AuthProvider "${provider.name}" uses ${method} but has no consumerSecret. Set consumerSecret (e.g. \${env:NAME}) or choose clientAuth: none.`,
          { details: { provider: provider.name, clientAuth: method } },
        )
      }
      const secret = provider.consumerSecret.reveal()
      return method === 'client_secret_post'
        ? oauth.ClientSecretPost(secret)
        : oauth.ClientSecretBasic(secret)
    }
    case 'private_key_jwt': {
      if (provider.clientPrivateKey === undefined) {
        throw new CalloutError(
          'CONFIG_INVALID',
          `AuthProvider "${provider.name}" uses private_key_jwt but has no clientPrivateKey. Set clientPrivateKey to a PEM private key reference.`,
          { details: { provider: provider.name, clientAuth: method } },
        )
      }
      const what = `clientPrivateKey of AuthProvider "${provider.name}"`
      const alg = algorithmForPem(provider.clientPrivateKey, what)
      const key = await importPrivateKeyPem(provider.clientPrivateKey, alg, what)
      const audience = endpoints.issuer ?? endpoints.tokenUrl
      return oauth.PrivateKeyJwt(key, {
        [oauth.modifyAssertion]: (_header, payload) => {
          payload.aud = audience
        },
      })
    }
    case 'none':
      return oauth.None()
  }
}

/** Builds the full context for one token request. */
export async function oauthClientContext(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
  deps: ResolvedAuthDeps,
  method?: AuthProvider['clientAuth'],
): Promise<OAuthClientContext> {
  return {
    as: authorizationServerFor(endpoints),
    client: { client_id: provider.consumerKey },
    clientAuth: await clientAuthenticationFor(provider, endpoints, method),
    options: requestOptions(endpoints.tokenUrl, provider.allowInsecureHttp, deps),
  }
}

/**
 * Runs an oauth4webapi request function against `url` (named in the messages) and turns
 * transport failures into CalloutErrors:
 * network errors and timeouts → `TOKEN_ENDPOINT_ERROR` (with the cause), a refused plain-http
 * URL → `INSECURE_URL`.
 */
export async function sendAuthRequest(
  providerName: string,
  what: string,
  url: string,
  send: () => Promise<Response>,
): Promise<Response> {
  const tried = printableUrl(url)
  try {
    return await send()
  } catch (error) {
    if (isCalloutError(error)) throw error
    const code = (error as { code?: unknown } | null)?.code
    if (code === oauth.HTTP_REQUEST_FORBIDDEN || code === oauth.REQUEST_PROTOCOL_FORBIDDEN) {
      throw new CalloutError(
        'INSECURE_URL',
        `The ${what} URL of AuthProvider "${providerName}" is plain http:// on a non-loopback host. Use https, or set allowInsecureHttp: true on the AuthProvider if you really mean it.`,
        { cause: safeCause(error), details: { provider: providerName } },
      )
    }
    const timedOut = (error as { name?: unknown } | null)?.name === 'TimeoutError'
    throw new CalloutError(
      'TOKEN_ENDPOINT_ERROR',
      timedOut
        ? `The ${what} of AuthProvider "${providerName}" (${tried}) did not answer in time. Check that the URL is reachable from this host.`
        : `The ${what} of AuthProvider "${providerName}" (${tried}) could not be reached. Check the URL, DNS, proxy and firewall settings.`,
      { cause: safeCause(error), details: { provider: providerName, url: tried, timedOut } },
    )
  }
}

/** A URL for messages: origin and path only (never userinfo or query). */
function printableUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.origin}${u.pathname}`
  } catch {
    return 'an invalid URL'
  }
}
