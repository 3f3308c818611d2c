/**
 * `/secur/frontdoor.jsp`: turns a one-time code (`otp`, from the UI Bridge API) or, in the older
 * form, an access token (`sid`, with `retURL`) into a UI session cookie and redirects to the
 * start page. A used, expired or unknown code, or a token without `web`/`full`, lands on the
 * login page instead.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.security_frontdoorjsp.htm&type=5
 */
import type { Call } from '../http/call.ts'
import { setCookie } from '../http/cookies.ts'
import { redirect } from '../http/respond.ts'
import { UI_SCOPES } from './single-access.ts'
import { isOrgPath, UI_SESSION_COOKIE, uiSessions } from './ui-sessions.ts'

/** The path of the frontdoor. */
export const FRONTDOOR_PATH = '/secur/frontdoor.jsp'

/** The org's login page URL, carrying where to go after logging in. */
export function loginUrl(call: Call, startUrl: string | undefined): string {
  const query = new URLSearchParams({ ec: '302' })
  if (startUrl !== undefined && isOrgPath(startUrl)) query.set('startURL', startUrl)
  return `${call.origin}/?${query.toString()}`
}

function landing(path: string | null | undefined): string {
  return path !== null && path !== undefined && path !== '' && isOrgPath(path) ? path : '/'
}

/** Answers a frontdoor request. */
export function handleFrontdoor(call: Call): void {
  const ui = uiSessions(call.org)
  call.res.setHeader('cache-control', 'no-store')
  const otp = call.query.get('otp')
  let userId: string | undefined
  let start: string
  if (otp !== null) {
    const redeemed = ui.redeemOtp(otp)
    userId = redeemed?.userId
    start = landing(redeemed?.startUrl ?? call.query.get('startURL'))
  } else {
    const sid = call.query.get('sid') ?? ''
    const access = call.org.tokens.validAccessToken(sid)
    userId =
      access !== undefined && access.scopes.some((s) => UI_SCOPES.includes(s))
        ? access.userId
        : undefined
    start = landing(call.query.get('retURL'))
  }
  if (userId === undefined) return redirect(call.res, loginUrl(call, start))
  setCookie(call.res, UI_SESSION_COOKIE, ui.startSession(userId))
  redirect(call.res, `${call.origin}${start}`)
}
