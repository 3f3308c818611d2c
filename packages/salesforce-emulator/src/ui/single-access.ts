/**
 * `POST /services/oauth2/singleaccess` (the UI Bridge API): exchanges an access token whose
 * scopes allow UI sessions (`web` or `full`) for a single-use frontdoor URL that lands on
 * `redirect_uri` (a path on the org; form or JSON field; default `/`).
 *
 * Answers `{ "frontdoor_uri": "<origin>/secur/frontdoor.jsp?otp=…&startURL=…" }`. Errors use the
 * OAuth error JSON of the other `/services/oauth2` endpoints: 401 `invalid_token` for a missing,
 * unknown, expired or revoked token, 403 `insufficient_scope` for a token without `web`/`full`,
 * 400 `invalid_request` for a `redirect_uri` that is not a path on the org, 405 for other methods.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.frontdoor_singleaccess.htm&type=5
 */
import { parseForm, mediaType } from '../http/body.ts'
import { bearerToken } from '../http/bearer.ts'
import type { Call } from '../http/call.ts'
import { sendJson } from '../http/respond.ts'
import { isOrgPath, uiSessions } from './ui-sessions.ts'

/** The scopes of which a token needs one to open UI sessions. */
export const UI_SCOPES: readonly string[] = Object.freeze(['web', 'full'])

function oauthError(call: Call, status: number, error: string, description: string): void {
  sendJson(
    call.res,
    status,
    { error, error_description: description },
    { 'cache-control': 'no-store' },
  )
}

async function redirectUri(call: Call): Promise<string | undefined | null> {
  const body = await call.body()
  if (mediaType(call.req.headers['content-type']) === 'application/json') {
    if (body.length === 0) return undefined
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'))
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null
      const value = (parsed as Record<string, unknown>)['redirect_uri']
      if (value === undefined) return undefined
      return typeof value === 'string' ? value : null
    } catch {
      return null
    }
  }
  const form = await parseForm(body, call.req.headers['content-type'])
  if (form === undefined) return null
  return form.get('redirect_uri') ?? undefined
}

/** Answers a UI Bridge request. */
export async function handleSingleAccess(call: Call): Promise<void> {
  if (call.method !== 'POST') {
    call.res.setHeader('allow', 'POST')
    return oauthError(call, 405, 'invalid_request', 'must use HTTP POST')
  }
  const token = bearerToken(call.req)
  const access = token === undefined ? undefined : call.org.tokens.validAccessToken(token)
  if (access === undefined) return oauthError(call, 401, 'invalid_token', 'invalid token')
  if (!access.scopes.some((s) => UI_SCOPES.includes(s))) {
    return oauthError(
      call,
      403,
      'insufficient_scope',
      'the access token needs the web or full scope to start a UI session',
    )
  }
  const target = await redirectUri(call)
  if (target === null) return oauthError(call, 400, 'invalid_request', 'malformed request body')
  const startUrl = target === undefined || target === '' ? '/' : target
  if (!isOrgPath(startUrl)) {
    return oauthError(call, 400, 'invalid_request', 'redirect_uri must be a path on this org')
  }
  const otp = uiSessions(call.org).issueOtp(access.userId, startUrl)
  const query = new URLSearchParams({ otp, startURL: startUrl })
  sendJson(
    call.res,
    200,
    { frontdoor_uri: `${call.origin}/secur/frontdoor.jsp?${query.toString()}` },
    { 'cache-control': 'no-store' },
  )
}
