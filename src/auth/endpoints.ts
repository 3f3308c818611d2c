/**
 * Resolution of an AuthProvider's endpoints: Salesforce defaults from the login host, OpenID
 * Connect discovery (cached per provider with a TTL), or the explicit URLs of a plain OAuth 2.0
 * provider. Explicitly configured URLs always win.
 */
import * as oauth from 'oauth4webapi'
import type { Clock } from '../clock.ts'
import type { AuthProvider } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import { SALESFORCE_DEFAULT_LOGIN_URL, salesforceEndpoints } from '../providers/salesforce.ts'
import { MAX_AUTH_RESPONSE_BYTES, resolveAuthDeps, type AuthDeps } from './deps.ts'
import { requestOptions, sendAuthRequest } from './oauth-client.ts'
import { safeCause } from './safe-cause.ts'
import { readCappedText } from './capped-body.ts'
import type { ProviderEndpoints } from './types.ts'
import { isAcceptableServerUrl } from './url-safety.ts'

/** How long a discovery document is reused: 1 hour. */
export const DEFAULT_DISCOVERY_TTL_MS = 60 * 60 * 1000

interface CacheEntry {
  readonly key: string
  readonly expiresAt: number
  readonly value: Promise<ProviderEndpoints>
}

/**
 * A cache of discovered endpoints keyed by provider name and issuer, with one in-flight
 * discovery per key (concurrent callers share it). Failed discoveries are not cached.
 */
export class EndpointCache {
  readonly #entries = new Map<string, CacheEntry>()
  readonly #ttlMs: number

  constructor(ttlMs: number = DEFAULT_DISCOVERY_TTL_MS) {
    this.#ttlMs = ttlMs
  }

  /** Returns the cached value for `key`, or runs `load` once and caches it for the TTL. */
  get(
    key: string,
    clock: Clock,
    load: () => Promise<ProviderEndpoints>,
  ): Promise<ProviderEndpoints> {
    const now = clock.now()
    const hit = this.#entries.get(key)
    if (hit !== undefined && hit.expiresAt > now) return hit.value
    const value = load()
    const entry: CacheEntry = { key, expiresAt: now + this.#ttlMs, value }
    this.#entries.set(key, entry)
    value.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key)
    })
    return value
  }

  /** Forgets one provider (after its definition changed) or everything. */
  clear(providerName?: string): void {
    if (providerName === undefined) {
      this.#entries.clear()
      return
    }
    for (const key of this.#entries.keys()) {
      if (key.startsWith(`${providerName}\u0000`)) this.#entries.delete(key)
    }
  }
}

/** The process-wide cache used when none is passed. */
export const defaultEndpointCache = new EndpointCache()

/** Options of {@link resolveEndpoints}. */
export interface ResolveEndpointsOptions extends AuthDeps {
  /** Default {@link defaultEndpointCache}. */
  readonly cache?: EndpointCache
}

/**
 * The endpoints of an AuthProvider.
 *
 * - `salesforce`: `<loginUrl>/services/oauth2/{authorize,token,userinfo,revoke,introspect}`
 *   (loginUrl default `https://login.salesforce.com`; a My Domain or site URL works too),
 *   `issuer` = the loginUrl origin. Explicit URLs override.
 * - `oidc`: the discovery document at `<issuer>/.well-known/openid-configuration`, validated by
 *   oauth4webapi (its `issuer` must equal the configured one), cached per provider; explicit
 *   URLs override discovered ones.
 * - `oauth2`: the explicit URLs; `tokenUrl` is required.
 *
 * @throws CalloutError `CONFIG_INVALID` (missing/invalid URLs, issuer mismatch), `INSECURE_URL`
 *   (http on a non-loopback host without `allowInsecureHttp`), `TOKEN_ENDPOINT_ERROR` (discovery
 *   unreachable, 5xx, not JSON).
 * @example
 * const endpoints = await resolveEndpoints(provider)
 * endpoints.tokenUrl // 'https://login.salesforce.com/services/oauth2/token'
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html
 */
export async function resolveEndpoints(
  provider: AuthProvider,
  options: ResolveEndpointsOptions = {},
): Promise<ProviderEndpoints> {
  switch (provider.type) {
    case 'salesforce':
      return checked(provider, salesforceProviderEndpoints(provider))
    case 'oauth2': {
      if (provider.tokenUrl === undefined) {
        throw new CalloutError(
          'CONFIG_INVALID',
          `AuthProvider "${provider.name}" (type oauth2) has no tokenUrl. Set tokenUrl (and authorizeUrl for the browser flow), or use type oidc with an issuer.`,
          { details: { provider: provider.name } },
        )
      }
      return checked(provider, explicitEndpoints(provider, provider.tokenUrl))
    }
    case 'oidc': {
      if (provider.issuer === undefined) {
        throw new CalloutError(
          'CONFIG_INVALID',
          `AuthProvider "${provider.name}" (type oidc) has no issuer. Set issuer to the URL whose /.well-known/openid-configuration describes the server.`,
          { details: { provider: provider.name } },
        )
      }
      const issuer = provider.issuer
      const deps = resolveAuthDeps(options)
      const cache = options.cache ?? defaultEndpointCache
      const discovered = await cache.get(`${provider.name}\u0000${issuer}`, deps.clock, () =>
        discover(provider, issuer, options),
      )
      return checked(provider, { ...discovered, ...explicitOverrides(provider) })
    }
  }
}

function salesforceProviderEndpoints(provider: AuthProvider): ProviderEndpoints {
  const base = parseConfiguredUrl(
    provider,
    'loginUrl',
    provider.loginUrl ?? SALESFORCE_DEFAULT_LOGIN_URL,
  )
  return { ...salesforceEndpoints(base), ...explicitOverrides(provider) }
}

function explicitEndpoints(provider: AuthProvider, tokenUrl: string): ProviderEndpoints {
  return {
    ...(provider.issuer === undefined ? {} : { issuer: provider.issuer }),
    tokenUrl,
    ...explicitOverrides(provider),
  }
}

function explicitOverrides(provider: AuthProvider): Partial<ProviderEndpoints> {
  return {
    ...(provider.authorizeUrl === undefined ? {} : { authorizeUrl: provider.authorizeUrl }),
    ...(provider.tokenUrl === undefined ? {} : { tokenUrl: provider.tokenUrl }),
    ...(provider.userInfoUrl === undefined ? {} : { userInfoUrl: provider.userInfoUrl }),
    ...(provider.revokeUrl === undefined ? {} : { revokeUrl: provider.revokeUrl }),
    ...(provider.introspectUrl === undefined ? {} : { introspectUrl: provider.introspectUrl }),
  }
}

const ENDPOINT_FIELDS = [
  'authorizeUrl',
  'tokenUrl',
  'userInfoUrl',
  'revokeUrl',
  'introspectUrl',
] as const

/** Every endpoint must be an absolute https URL (http only for loopback or allowInsecureHttp). */
function checked(provider: AuthProvider, endpoints: ProviderEndpoints): ProviderEndpoints {
  for (const field of ENDPOINT_FIELDS) {
    const value = endpoints[field]
    if (value !== undefined) parseConfiguredUrl(provider, field, value)
  }
  return Object.freeze({ ...endpoints })
}

function parseConfiguredUrl(provider: AuthProvider, field: string, value: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch (cause) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `The ${field} of AuthProvider "${provider.name}" is not an absolute URL.`,
      { cause, details: { provider: provider.name, field } },
    )
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new CalloutError(
      'CONFIG_INVALID',
      `The ${field} of AuthProvider "${provider.name}" must be an https URL.`,
      { details: { provider: provider.name, field } },
    )
  }
  if (url.username !== '' || url.password !== '') {
    throw new CalloutError(
      'CONFIG_INVALID',
      `The ${field} of AuthProvider "${provider.name}" must not contain a username or password.`,
      { details: { provider: provider.name, field } },
    )
  }
  if (!isAcceptableServerUrl(url, provider.allowInsecureHttp)) {
    throw new CalloutError(
      'INSECURE_URL',
      `The ${field} of AuthProvider "${provider.name}" is plain http:// on a non-loopback host. Use https, or set allowInsecureHttp: true on the AuthProvider if you really mean it.`,
      { details: { provider: provider.name, field } },
    )
  }
  return url
}

async function discover(
  provider: AuthProvider,
  issuer: string,
  options: AuthDeps,
): Promise<ProviderEndpoints> {
  const issuerUrl = parseConfiguredUrl(provider, 'issuer', issuer)
  const deps = resolveAuthDeps(options)
  const reqOptions = requestOptions(issuer, provider.allowInsecureHttp, deps)
  const response = await sendAuthRequest(
    provider.name,
    'discovery document',
    discoveryUrlOf(issuerUrl),
    () => oauth.discoveryRequest(issuerUrl, reqOptions),
  )
  const body = await readCappedText(response, MAX_AUTH_RESPONSE_BYTES, 'discovery document')
  const contentType = response.headers.get('content-type') ?? ''
  if (response.status !== 200) {
    throw new CalloutError(
      'TOKEN_ENDPOINT_ERROR',
      `The discovery document of AuthProvider "${provider.name}" answered HTTP ${response.status}. Check the issuer URL (${issuerUrl.origin}).`,
      { details: { provider: provider.name, status: response.status, stage: 'discovery' } },
    )
  }
  let as: oauth.AuthorizationServer
  try {
    as = await oauth.processDiscoveryResponse(
      issuerUrl,
      new Response(body, { status: 200, headers: { 'content-type': contentType } }),
    )
  } catch (cause) {
    const code = (cause as { code?: unknown }).code
    const mismatch = code === oauth.JSON_ATTRIBUTE_COMPARISON
    throw new CalloutError(
      mismatch ? 'CONFIG_INVALID' : 'TOKEN_ENDPOINT_ERROR',
      mismatch
        ? `The discovery document of AuthProvider "${provider.name}" names a different issuer than the configured "${issuer}". Set issuer to exactly the value the server publishes.`
        : `The discovery document of AuthProvider "${provider.name}" is not a valid OpenID Connect discovery document. Check the issuer URL.`,
      { cause: safeCause(cause), details: { provider: provider.name, stage: 'discovery' } },
    )
  }
  if (typeof as.token_endpoint !== 'string') {
    throw new CalloutError(
      'CONFIG_INVALID',
      `The discovery document of AuthProvider "${provider.name}" has no token_endpoint. Set tokenUrl explicitly.`,
      { details: { provider: provider.name, stage: 'discovery' } },
    )
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
  const found: Record<string, string | undefined> = {
    issuer: as.issuer,
    tokenUrl: as.token_endpoint,
    authorizeUrl: str(as.authorization_endpoint),
    userInfoUrl: str(as.userinfo_endpoint),
    revokeUrl: str(as.revocation_endpoint),
    introspectUrl: str(as.introspection_endpoint),
  }
  const endpoints = Object.fromEntries(
    Object.entries(found).filter(([, v]) => v !== undefined),
  ) as unknown as ProviderEndpoints
  return checked(provider, endpoints)
}

/** The discovery document URL of an issuer (RFC 8414 §3 / OIDC Discovery §4), for messages. */
function discoveryUrlOf(issuer: URL): string {
  return `${issuer.href.replace(/\/+$/, '')}/.well-known/openid-configuration`
}
