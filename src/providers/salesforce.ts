/**
 * Salesforce hosts and URLs: the login hosts, My Domain and UI (Lightning/Visualforce/Experience)
 * hosts, the OAuth endpoint paths on a login URL, which Named Credential URLs must be replaced by
 * the token's `instance_url` (DESIGN §4), and the `aud` of a JWT bearer assertion. Session and
 * error-body rules are in `salesforce-session.ts`, plain advice in `salesforce-advice.ts`.
 */

/** Salesforce's production login host, the default `loginUrl` of a `salesforce` provider. */
export const SALESFORCE_DEFAULT_LOGIN_URL = 'https://login.salesforce.com'

/** Salesforce's shared login hosts. */
const SALESFORCE_LOGIN_HOSTS: readonly string[] = ['login.salesforce.com', 'test.salesforce.com']

/** Salesforce OAuth endpoint paths below a login URL (login host, My Domain or site URL). */
export const SALESFORCE_ENDPOINT_PATHS = Object.freeze({
  authorizeUrl: '/services/oauth2/authorize',
  tokenUrl: '/services/oauth2/token',
  userInfoUrl: '/services/oauth2/userinfo',
  revokeUrl: '/services/oauth2/revoke',
  introspectUrl: '/services/oauth2/introspect',
})

/** Salesforce refuses JWT bearer assertions that expire more than 3 minutes ahead. */
export const SALESFORCE_MAX_ASSERTION_SECONDS = 180

const UI_HOST_SUFFIXES = [
  '.lightning.force.com',
  '.visual.force.com',
  '.vf.force.com',
  '.my.site.com',
]

function hostOf(url: string | URL): string | undefined {
  try {
    return (typeof url === 'string' ? new URL(url) : url).hostname.toLowerCase()
  } catch {
    return undefined
  }
}

function originOf(url: string | URL | undefined): string | undefined {
  if (url === undefined) return undefined
  try {
    return (typeof url === 'string' ? new URL(url) : url).origin
  } catch {
    return undefined
  }
}

/**
 * True for `https://login.salesforce.com` and `https://test.salesforce.com` — hosts that issue
 * tokens but do not serve an org's API.
 *
 * @example
 * isLoginHost('https://login.salesforce.com') // true
 */
export function isLoginHost(url: string | URL): boolean {
  const host = hostOf(url)
  return host !== undefined && SALESFORCE_LOGIN_HOSTS.includes(host)
}

/**
 * True for Salesforce UI hosts that answer API calls with a 302 or `INVALID_SESSION_ID`:
 * `*.lightning.force.com`, `*.visual.force.com`, `*.vf.force.com`, `*.my.site.com`.
 *
 * @example
 * isLightningHost('https://acme.lightning.force.com') // true
 */
export function isLightningHost(url: string | URL): boolean {
  const host = hostOf(url)
  if (host === undefined) return false
  return UI_HOST_SUFFIXES.some((suffix) => host.endsWith(suffix) && host.length > suffix.length)
}

/**
 * True for a My Domain API host (`https://<domain>.my.salesforce.com`), the URL a Named
 * Credential should name.
 *
 * @example
 * isMyDomainHost('https://acme.my.salesforce.com') // true
 */
export function isMyDomainHost(url: string | URL): boolean {
  const host = hostOf(url)
  const suffix = '.my.salesforce.com'
  return host !== undefined && host.endsWith(suffix) && host.length > suffix.length
}

/** What a Named Credential URL points at, for a Salesforce provider: see {@link salesforceHostKind}. */
export type SalesforceHostKind = 'login' | 'ui' | 'api'

/**
 * What a Salesforce Named Credential's URL points at: `login` for a login host or the
 * AuthProvider's own `loginUrl` origin (a My Domain used to log in, an emulator), `ui` for a
 * Lightning/Visualforce/Experience host, `api` for anything else. For `login` and `ui` the API
 * origin is the token's `instance_url` (DESIGN §4; the classic 302 and `INVALID_SESSION_ID`).
 *
 * @example
 * salesforceHostKind('https://acme.lightning.force.com', 'https://login.salesforce.com') // 'ui'
 * salesforceHostKind('https://acme.my.salesforce.com', 'https://login.salesforce.com') // 'api'
 */
export function salesforceHostKind(
  url: string | URL,
  loginUrl: string | undefined,
): SalesforceHostKind {
  if (isLightningHost(url)) return 'ui'
  if (isLoginHost(url)) return 'login'
  const login = originOf(loginUrl)
  return login !== undefined && login === originOf(url) ? 'login' : 'api'
}

/**
 * The OAuth endpoints below a Salesforce login URL (default {@link SALESFORCE_DEFAULT_LOGIN_URL};
 * a My Domain or an Experience Cloud site URL with a path works too), and the issuer (its origin).
 *
 * @example
 * salesforceEndpoints('https://acme.my.salesforce.com').tokenUrl
 * // 'https://acme.my.salesforce.com/services/oauth2/token'
 */
export function salesforceEndpoints(loginUrl: URL): {
  readonly issuer: string
} & { readonly [K in keyof typeof SALESFORCE_ENDPOINT_PATHS]: string } {
  const root = `${loginUrl.origin}${loginUrl.pathname}`.replace(/\/+$/, '')
  return {
    issuer: loginUrl.origin,
    authorizeUrl: `${root}${SALESFORCE_ENDPOINT_PATHS.authorizeUrl}`,
    tokenUrl: `${root}${SALESFORCE_ENDPOINT_PATHS.tokenUrl}`,
    userInfoUrl: `${root}${SALESFORCE_ENDPOINT_PATHS.userInfoUrl}`,
    revokeUrl: `${root}${SALESFORCE_ENDPOINT_PATHS.revokeUrl}`,
    introspectUrl: `${root}${SALESFORCE_ENDPOINT_PATHS.introspectUrl}`,
  }
}

/**
 * The `aud` of a Salesforce JWT bearer assertion: the login URL's origin, plus its path for an
 * Experience Cloud site (`https://login.salesforce.com`, `https://test.salesforce.com`, the My
 * Domain or the site URL).
 *
 * @example
 * salesforceJwtAudience(undefined) // 'https://login.salesforce.com'
 * salesforceJwtAudience('https://acme.my.site.com/partners/') // 'https://acme.my.site.com/partners'
 */
export function salesforceJwtAudience(loginUrl: string | undefined): string {
  const login = new URL(loginUrl ?? SALESFORCE_DEFAULT_LOGIN_URL)
  return `${login.origin}${login.pathname.replace(/\/+$/, '')}`
}
