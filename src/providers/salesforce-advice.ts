/**
 * Plain-language advice for Salesforce's classic failures (DESIGN §8), in one table: used by
 * typed errors, the authorization callback, the pipeline's advice header and `callout doctor`.
 */
import { NOT_VALID_FOR_API } from './salesforce-session.ts'

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
  | 'flow_timeout'

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
    "The Connected App's Callback URL must equal the redirect URI Callout sent exactly (scheme, host, port and path).",
  invalid_client_id:
    'Salesforce does not know the consumer key. A new Connected App takes 2–10 minutes to propagate; check the consumer key.',
  invalid_client:
    'Salesforce rejected the client credentials. Check the consumer key and secret (a new Connected App takes 2–10 minutes to propagate).',
  invalid_grant:
    '"expired access/refresh token" means the refresh token was revoked, expired under the Connected App\'s refresh token policy, rotated out, or evicted by the five-approvals-per-user limit. Re-authenticate: run `callout auth <Name>`.',
  missing_refresh_token:
    'Salesforce issued no refresh token, so the credential dies when the session times out (often 2 hours). Add refresh_token to the scope (e.g. "refresh_token api") of the ExternalCredential and allow "Perform requests at any time" on the Connected App, then re-authenticate.',
  lightning_redirect:
    "A 302 from a *.lightning.force.com / *.visual.force.com / *.my.site.com host: these UI hosts do not serve the API. Set the Named Credential URL to the org's My Domain (https://<domain>.my.salesforce.com).",
  flow_timeout:
    "The login never came back to Callout. An org that allows only single sign-on (SSO) cannot finish this flow on the standard login page: use the JWT bearer flow (flow: jwt-bearer, no browser needed), or set the Auth Provider's Login URL to the target org's My Domain (https://<domain>.my.salesforce.com), whose login page offers the SSO sign-in. If the login page showed an error such as redirect_uri_mismatch, register the callback URL in the Connected App. Then authenticate again.",
}

/**
 * The advice for one known situation.
 *
 * @example
 * salesforceAdvice('SAME_ORG_SSO') // 'SAME_ORG_SSO: the Auth Provider points at its own org. …'
 */
export function salesforceAdvice(situation: SalesforceSituation): string {
  return ADVICE[situation]
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

/**
 * The advice attached to a response Salesforce refused with "This session is not valid for use
 * with the REST API": a scope problem that a refresh cannot fix.
 *
 * @example
 * sessionNotValidForApiAdvice('SfBrowser', 'Target')
 */
export function sessionNotValidForApiAdvice(
  externalCredential: string,
  namedCredential: string,
): string {
  return `Salesforce says this session is not valid for the REST API: the token's scope lacks "api" (or "full"); a refresh cannot fix that. Add api to the scope of ExternalCredential ${externalCredential}, allow it in the Connected App, then run callout auth ${namedCredential}.`
}

/**
 * The advice attached to a redirect from a Named Credential whose URL is a login or UI host
 * (see `salesforceHostKind`).
 *
 * @example
 * loginOrUiHostRedirectAdvice('Target')
 */
export function loginOrUiHostRedirectAdvice(namedCredential: string): string {
  return `Named Credential ${namedCredential} points at a Salesforce login or Lightning host, which redirects API calls; set its URL to the org's My Domain (https://<domain>.my.salesforce.com).`
}
