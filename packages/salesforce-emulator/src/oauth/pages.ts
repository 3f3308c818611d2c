/**
 * The HTML of the login, approval, device and error pages. Plain forms that POST back, so tests can
 * drive them with fetch and a cookie jar (field names follow Salesforce's login form: `username`,
 * `pw`).
 */
import { escapeHtml, page } from '../http/html.ts'

/** The generic message Salesforce shows for a failed login. */
export const LOGIN_FAILED_MESSAGE =
  "Please check your username and password. If you still can't log in, contact your Salesforce administrator."

/** The message shown when the org only allows single sign-on. */
export const SSO_ONLY_MESSAGE =
  'Your company requires single sign-on (SSO). Log in with your identity provider; password login is disabled for this org.'

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`
}

function errorBlock(message: string | undefined): string {
  return message === undefined
    ? ''
    : `<p class="error" role="alert" id="error">${escapeHtml(message)}</p>`
}

/** The login page of an authorize transaction. */
export function loginPage(input: {
  orgName: string
  tx: string
  username?: string
  error?: string
  notice?: string
}): string {
  return page(
    `Log in to ${input.orgName}`,
    `${errorBlock(input.error)}${input.notice === undefined ? '' : `<p id="notice">${escapeHtml(input.notice)}</p>`}
<form method="post" action="/services/oauth2/authorize" id="login">
${hidden('tx', input.tx)}${hidden('step', 'login')}
<label for="username">Username</label><input type="text" id="username" name="username" value="${escapeHtml(input.username ?? '')}" autocomplete="username">
<label for="pw">Password</label><input type="password" id="pw" name="pw" autocomplete="current-password">
<button type="submit" id="Login" name="Login">Log In</button>
</form>`,
  )
}

/** The approval ("Allow Access?") page of an authorize transaction. */
export function approvalPage(input: {
  appName: string
  username: string
  scopes: string[]
  tx: string
}): string {
  const items = input.scopes.map((s) => `<li>${escapeHtml(s)}</li>`).join('')
  return page(
    'Allow Access?',
    `<p><strong>${escapeHtml(input.appName)}</strong> is asking to access your account <strong>${escapeHtml(input.username)}</strong>:</p>
<ul id="scopes">${items}</ul>
<form method="post" action="/services/oauth2/authorize" id="approve">
${hidden('tx', input.tx)}${hidden('step', 'approve')}
<button type="submit" name="action" value="approve" id="oaapprove">Allow</button>
<button type="submit" name="action" value="deny" id="oadeny">Deny</button>
</form>`,
  )
}

/** The device-flow verification page (`/setup/connect`). */
export function devicePage(input: {
  orgName: string
  userCode: string
  loggedIn: boolean
  error?: string
  done?: string
}): string {
  if (input.done !== undefined)
    return page('Connect Your Device', `<p id="done">${escapeHtml(input.done)}</p>`)
  const credentials = input.loggedIn
    ? ''
    : `<label for="username">Username</label><input type="text" id="username" name="username">
<label for="pw">Password</label><input type="password" id="pw" name="pw">`
  return page(
    `Connect Your Device to ${input.orgName}`,
    `${errorBlock(input.error)}
<form method="post" action="/setup/connect" id="device">
<label for="user_code">Code</label><input type="text" id="user_code" name="user_code" value="${escapeHtml(input.userCode)}">
${credentials}
<button type="submit" name="action" value="approve" id="allow">Allow</button>
<button type="submit" name="action" value="deny" id="deny">Deny</button>
</form>`,
  )
}

/** The page Salesforce shows when it cannot redirect back (bad client or redirect URI). */
export function remoteAccessErrorPage(error: string, description: string): string {
  return page(
    'Remote Access Error',
    `<p id="error">error=${escapeHtml(error)}&amp;error_description=${escapeHtml(description)}</p>`,
  )
}
