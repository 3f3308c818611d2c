/**
 * Salesforce knowledge: which hosts are login or UI (Lightning/Visualforce) hosts, which API
 * origin to call, how to read REST error bodies, and plain-language advice for the classic
 * failures (used by errors and `callout doctor`).
 */

/** Salesforce's shared login hosts. */
export const SALESFORCE_LOGIN_HOSTS: readonly string[] = [
  'login.salesforce.com',
  'test.salesforce.com',
]

function hostOf(url: string | URL): string | undefined {
  try {
    return (typeof url === 'string' ? new URL(url) : url).hostname.toLowerCase()
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
  return ['.lightning.force.com', '.visual.force.com', '.vf.force.com', '.my.site.com'].some(
    (suffix) => host.endsWith(suffix) && host.length > suffix.length,
  )
}

/**
 * The origin API calls should go to (DESIGN §4): the token's `instance_url` when the Named
 * Credential's URL is a login host or a Lightning/Visualforce host (and an `instance_url` is
 * known); otherwise the Named Credential's own origin.
 *
 * @example
 * apiOriginFor('https://login.salesforce.com', 'https://acme.my.salesforce.com') // 'https://acme.my.salesforce.com'
 * apiOriginFor('https://acme.my.salesforce.com', 'https://other.my.salesforce.com') // 'https://acme.my.salesforce.com'
 */
export function apiOriginFor(
  namedCredentialUrl: string,
  tokenInstanceUrl: string | undefined,
): string {
  const configured = new URL(namedCredentialUrl)
  if (tokenInstanceUrl === undefined) return configured.origin
  if (!isLoginHost(configured) && !isLightningHost(configured)) return configured.origin
  try {
    return new URL(tokenInstanceUrl).origin
  } catch {
    return configured.origin
  }
}

/** The reason {@link apiOriginFor} replaced the configured origin, for `callout doctor`; undefined when it did not. */
export function apiOriginReason(
  namedCredentialUrl: string,
  tokenInstanceUrl: string | undefined,
): string | undefined {
  if (tokenInstanceUrl === undefined) return undefined
  if (isLoginHost(namedCredentialUrl)) {
    return `The Named Credential URL is a login host, which issues tokens but serves no org API; Callout calls the token's instance_url (${safeOrigin(tokenInstanceUrl)}) instead. Set the URL to the org's My Domain to make this explicit.`
  }
  if (isLightningHost(namedCredentialUrl)) {
    return `The Named Credential URL is a Lightning/Visualforce host, which answers API calls with a 302 or INVALID_SESSION_ID; Callout calls the token's instance_url (${safeOrigin(tokenInstanceUrl)}) instead. Use the *.my.salesforce.com My Domain URL.`
  }
  return undefined
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'unknown'
  }
}

const NOT_VALID_FOR_API = /this session is not valid for use with the (specified )?rest api/i

function restErrors(body: unknown): { errorCode: string; message: string }[] {
  let value = body
  if (typeof body === 'string') {
    if (body.length > 65_536) return []
    try {
      value = JSON.parse(body)
    } catch {
      return []
    }
  } else if (body instanceof Uint8Array) {
    if (body.byteLength > 65_536) return []
    return restErrors(Buffer.from(body).toString('utf8'))
  }
  if (!Array.isArray(value)) return []
  return value.flatMap((item: unknown) => {
    if (typeof item !== 'object' || item === null) return []
    const { errorCode, message } = item as Record<string, unknown>
    return typeof errorCode === 'string'
      ? [{ errorCode, message: typeof message === 'string' ? message : '' }]
      : []
  })
}

/**
 * True when a REST error body (`[{"message","errorCode":"INVALID_SESSION_ID"}]`, as text, bytes
 * or parsed) says the session expired or is invalid — a refresh may help. False for "This
 * session is not valid for use with the REST API" (a scope problem; see
 * {@link isSessionNotValidForApi}) and for anything not shaped like a Salesforce error array.
 */
export function isInvalidSessionBody(body: unknown): boolean {
  return restErrors(body).some(
    (e) => e.errorCode === 'INVALID_SESSION_ID' && !NOT_VALID_FOR_API.test(e.message),
  )
}

/**
 * True when the body is Salesforce's `INVALID_SESSION_ID` "This session is not valid for use
 * with the (specified) REST API …": the token lacks the `api`/`full` scope; refreshing will not
 * help.
 */
export function isSessionNotValidForApi(body: unknown): boolean {
  return restErrors(body).some(
    (e) => e.errorCode === 'INVALID_SESSION_ID' && NOT_VALID_FOR_API.test(e.message),
  )
}

/** Situations {@link adviceFor} knows besides Salesforce error codes. */
export type SalesforceSituation =
  | 'INVALID_SESSION_ID'
  | 'SESSION_NOT_VALID_FOR_API'
  | 'SAME_ORG_SSO'
  | 'OAUTH_APP_ACCESS_DENIED'
  | 'redirect_uri_mismatch'
  | 'invalid_client_id'
  | 'invalid_client'
  | 'invalid_grant'
  | 'missing_refresh_token'
  | 'lightning_redirect'

const ADVICE: Readonly<Record<SalesforceSituation, string>> = {
  INVALID_SESSION_ID:
    'Salesforce says the session expired or is invalid. Callout refreshes once and retries; if it persists, the Named Credential URL may be a Lightning host (use the *.my.salesforce.com My Domain), the token may belong to another org, or the scope may lack api/full.',
  SESSION_NOT_VALID_FOR_API:
    'The token is not valid for the REST API: its scope lacks "api" (or "full"). Add api (and refresh_token) to the scope of the ExternalCredential and the Connected App, then re-authenticate.',
  SAME_ORG_SSO:
    "SAME_ORG_SSO: the Auth Provider points at its own org. Point the authorize URL at the target org's My Domain (or test.salesforce.com), log in as the target org's user, and use a private window if the browser is logged in to the source org.",
  OAUTH_APP_ACCESS_DENIED:
    'The user may not use the Connected App. Set Permitted Users to "All users may self-authorize", or assign the app to the user\'s profile or a permission set.',
  redirect_uri_mismatch:
    "The Connected App's Callback URL must equal Callout's redirect URI exactly (scheme, host, port and path). Copy it from `callout doctor` or the console into the Connected App.",
  invalid_client_id:
    'Salesforce does not know the consumer key. A new Connected App takes 2–10 minutes to propagate; check the consumer key.',
  invalid_client:
    'Salesforce rejected the client credentials. Check the consumer key and secret (a new Connected App takes 2–10 minutes to propagate).',
  invalid_grant:
    '"expired access/refresh token" means the refresh token was revoked, expired under the Connected App\'s refresh token policy, rotated out, or evicted by the five-approvals-per-user limit. Re-authenticate with `callout auth <Name>` or the console\'s Authenticate button.',
  missing_refresh_token:
    'Salesforce issued no refresh token, so the credential dies when the session times out (often 2 hours). Add refresh_token to the scope (e.g. "refresh_token api") of the ExternalCredential and allow "Perform requests at any time" on the Connected App, then re-authenticate.',
  lightning_redirect:
    "A 302 from a *.lightning.force.com / *.visual.force.com / *.my.site.com host: these UI hosts do not serve the API. Set the Named Credential URL to the org's My Domain (https://<domain>.my.salesforce.com).",
}

/**
 * Plain-language advice for a Salesforce error code, OAuth error or situation — or for a
 * message containing one (e.g. `expired access/refresh token`). Undefined when unknown.
 *
 * @example
 * adviceFor('invalid_client_id') // 'Salesforce does not know the consumer key. A new Connected App takes 2–10 minutes…'
 */
export function adviceFor(codeOrText: string): string | undefined {
  if (Object.hasOwn(ADVICE, codeOrText)) return ADVICE[codeOrText as SalesforceSituation]
  const t = codeOrText.toLowerCase()
  if (NOT_VALID_FOR_API.test(codeOrText)) return ADVICE.SESSION_NOT_VALID_FOR_API
  if (t.includes('expired access/refresh token')) return ADVICE.invalid_grant
  if (t.includes('same_org_sso')) return ADVICE.SAME_ORG_SSO
  if (t.includes('oauth_app_access_denied')) return ADVICE.OAUTH_APP_ACCESS_DENIED
  if (t.includes('redirect_uri_mismatch') || t.includes('redirect_uri must match'))
    return ADVICE.redirect_uri_mismatch
  if (t.includes('invalid_client_id') || t.includes('client identifier invalid'))
    return ADVICE.invalid_client_id
  if (t.includes('invalid_session_id') || t.includes('session expired or invalid'))
    return ADVICE.INVALID_SESSION_ID
  if (t.includes('refresh token') && (t.includes('missing') || t.includes('no refresh')))
    return ADVICE.missing_refresh_token
  return undefined
}

/** True when a granted scope string lacks `refresh_token`/`offline_access` (no refresh token will come). */
export function scopeLacksRefreshToken(scope: string | undefined): boolean {
  if (scope === undefined) return true
  const parts = scope.split(/\s+/)
  return !parts.includes('refresh_token') && !parts.includes('offline_access')
}
