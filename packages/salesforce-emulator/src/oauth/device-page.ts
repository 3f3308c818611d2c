/**
 * The device-flow verification page `/setup/connect`: enter the user code, log in if needed, and
 * allow or deny.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_device_flow.htm&type=5
 */
import { parseForm } from '../http/body.ts'
import type { Call } from '../http/call.ts'
import { readCookie, setCookie } from '../http/cookies.ts'
import { sendHtml } from '../http/respond.ts'
import { sessionCookieName } from './authorize-endpoint.ts'
import { devicePage, LOGIN_FAILED_MESSAGE, SSO_ONLY_MESSAGE } from './pages.ts'
import { secureEquals } from './secure-compare.ts'

/** Answers `GET`/`POST /setup/connect`. */
export async function handleDevicePage(call: Call): Promise<void> {
  const { org } = call
  const sessionUserId = org.sessions.sessionUser(readCookie(call.req, sessionCookieName(org)))
  if (call.method !== 'POST') {
    sendHtml(
      call.res,
      200,
      devicePage({
        orgName: org.name,
        userCode: call.query.get('user_code') ?? '',
        loggedIn: sessionUserId !== undefined,
      }),
    )
    return
  }
  const form =
    (await parseForm(await call.body(), call.req.headers['content-type'])) ?? new URLSearchParams()
  const userCode = form.get('user_code') ?? ''
  const show = (error: string, status = 200): void =>
    sendHtml(
      call.res,
      status,
      devicePage({ orgName: org.name, userCode, loggedIn: sessionUserId !== undefined, error }),
    )
  const device = org.tokens.findDeviceByUserCode(userCode)
  if (device === undefined) return show('The code is invalid or has expired.', 400)
  let userId = sessionUserId
  if (userId === undefined) {
    if (org.faults.ssoOnly) return show(SSO_ONLY_MESSAGE)
    const user = org.userByUsername(form.get('username') ?? '')
    if (user === undefined || !user.active || !secureEquals(form.get('pw') ?? '', user.password)) {
      return show(LOGIN_FAILED_MESSAGE)
    }
    setCookie(call.res, sessionCookieName(org), org.sessions.startSession(user.id))
    userId = user.id
  }
  if (form.get('action') === 'approve') {
    device.status = 'approved'
    device.userId = userId
    org.tokens.approve(userId, device.clientId)
    sendHtml(
      call.res,
      200,
      devicePage({
        orgName: org.name,
        userCode,
        loggedIn: true,
        done: 'Your device is connected.',
      }),
    )
    return
  }
  device.status = 'denied'
  sendHtml(
    call.res,
    200,
    devicePage({ orgName: org.name, userCode, loggedIn: true, done: 'Access denied.' }),
  )
}
