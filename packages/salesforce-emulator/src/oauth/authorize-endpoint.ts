/**
 * `GET /services/oauth2/authorize` and its login and approval pages (forms POSTing back to the
 * same path). A bad `client_id` or `redirect_uri` cannot be redirected back: the browser goes to
 * Salesforce's `RemoteAccessErrorPage`. Other errors redirect to the callback with
 * `error`/`error_description`/`state`.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm&type=5
 */
import { parseForm } from '../http/body.ts'
import type { Call } from '../http/call.ts'
import { readCookie, setCookie } from '../http/cookies.ts'
import { redirect, sendHtml } from '../http/respond.ts'
import type { ConnectedApp, OrgUser } from '../org/principals.ts'
import type { OrgState } from '../org/org-state.ts'
import type { AuthorizeTransaction } from '../org/login-sessions.ts'
import {
  approvalPage,
  LOGIN_FAILED_MESSAGE,
  loginPage,
  remoteAccessErrorPage,
  SSO_ONLY_MESSAGE,
} from './pages.ts'
import { withResponseParams } from './redirect-uri.ts'
import { secureEquals } from './secure-compare.ts'
import { issueInteractiveTokens } from './token-response.ts'

/** The path of the page Salesforce shows for errors it cannot redirect. */
export const REMOTE_ACCESS_ERROR_PATH = '/setup/secur/RemoteAccessErrorPage.apexp'

/** The name of the emulator's login session cookie for an org (cookies ignore ports). */
export function sessionCookieName(org: OrgState): string {
  return `emu_sid_${org.orgId.slice(0, 15)}`
}

function errorPageRedirect(call: Call, error: string, description: string): void {
  const q = new URLSearchParams({ error, error_description: description })
  redirect(
    call.res,
    `${call.origin}${REMOTE_ACCESS_ERROR_PATH}?${q.toString().replace(/\+/g, '%20')}`,
  )
}

/** Answers the RemoteAccessErrorPage (HTML, 400). */
export function handleRemoteAccessErrorPage(call: Call): void {
  sendHtml(
    call.res,
    400,
    remoteAccessErrorPage(
      call.query.get('error') ?? 'unknown_error',
      call.query.get('error_description') ?? '',
    ),
  )
}

function redirectError(
  call: Call,
  uri: string,
  fragment: boolean,
  error: string,
  description: string,
  state: string | undefined,
): void {
  redirect(
    call.res,
    withResponseParams(uri, { error, error_description: description, state }, fragment),
  )
}

/** Answers `GET /services/oauth2/authorize` (start) and `POST` (login and approval pages). */
export async function handleAuthorize(call: Call): Promise<void> {
  if (call.method === 'POST') return handleAuthorizePost(call)
  const { org, query } = call
  const app = org.appByKey(query.get('client_id') ?? '')
  if (app === undefined)
    return errorPageRedirect(call, 'invalid_client_id', 'client identifier invalid')
  const redirectUri = query.get('redirect_uri') ?? ''
  if (!app.callbackUrls.includes(redirectUri)) {
    return errorPageRedirect(call, 'redirect_uri_mismatch', 'redirect_uri must match configuration')
  }
  const state = query.get('state') ?? undefined
  const requestedType = (query.get('response_type') ?? '').trim().split(/\s+/).sort().join(' ')
  // `token id_token` is the user-agent flow with an id_token (added whenever openid is granted).
  const responseType = requestedType === 'id_token token' ? 'token' : requestedType
  const fragment = responseType === 'token'
  if (responseType !== 'code' && responseType !== 'token') {
    return redirectError(
      call,
      redirectUri,
      false,
      'unsupported_response_type',
      'response type not supported',
      state,
    )
  }
  if (org.faults.sameOrgSso) {
    const params = {
      error: 'SAME_ORG_SSO',
      error_description: 'Cannot sign on into same org',
      ErrorCode: 'SAME_ORG_SSO',
      ErrorDescription: 'Cannot sign on into same org',
      state,
    }
    return redirect(call.res, withResponseParams(redirectUri, params, fragment))
  }
  const requested = (query.get('scope') ?? '').split(/\s+/).filter(Boolean)
  if (requested.some((s) => !app.scopes.includes(s))) {
    return redirectError(
      call,
      redirectUri,
      fragment,
      'invalid_scope',
      'the requested scope is not allowed',
      state,
    )
  }
  const challenge = query.get('code_challenge') ?? undefined
  const method = query.get('code_challenge_method')
  if (challenge !== undefined && method !== null && method !== 'S256') {
    return redirectError(
      call,
      redirectUri,
      fragment,
      'invalid_request',
      'invalid code challenge method',
      state,
    )
  }
  if (challenge === undefined && app.pkceRequired && responseType === 'code') {
    return redirectError(
      call,
      redirectUri,
      fragment,
      'invalid_request',
      'missing required code challenge',
      state,
    )
  }
  const prompt = (query.get('prompt') ?? '').split(/\s+/)
  const tx = org.sessions.startTransaction({
    clientId: app.consumerKey,
    redirectUri,
    responseType,
    scopes: requested.length > 0 ? requested : [...app.scopes],
    state,
    codeChallenge: challenge,
    nonce: query.get('nonce') ?? undefined,
    forceLogin: prompt.includes('login'),
    forceConsent: prompt.includes('consent'),
    loginHint: query.get('login_hint') ?? undefined,
  })
  const sessionUser = org.sessions.sessionUser(readCookie(call.req, sessionCookieName(org)))
  const user = sessionUser === undefined ? undefined : org.userById(sessionUser)
  if (user === undefined || !user.active || tx.forceLogin) return showLogin(call, tx)
  tx.userId = user.id
  return continueAfterLogin(call, tx, app, user)
}

function showLogin(call: Call, tx: AuthorizeTransaction, error?: string): void {
  const input: Parameters<typeof loginPage>[0] = { orgName: call.org.name, tx: tx.id }
  if (tx.loginHint !== undefined) input.username = tx.loginHint
  if (error !== undefined) input.error = error
  if (call.org.faults.ssoOnly && error === undefined) input.notice = SSO_ONLY_MESSAGE
  sendHtml(call.res, 200, loginPage(input))
}

function continueAfterLogin(
  call: Call,
  tx: AuthorizeTransaction,
  app: ConnectedApp,
  user: OrgUser,
): void {
  const { org } = call
  const approved = app.adminPreAuthorized || org.tokens.hasApproved(user.id, app.consumerKey)
  if (!approved || tx.forceConsent) {
    sendHtml(
      call.res,
      200,
      approvalPage({ appName: app.name, username: user.username, scopes: tx.scopes, tx: tx.id }),
    )
    return
  }
  finish(call, tx, app, user)
}

function finish(call: Call, tx: AuthorizeTransaction, app: ConnectedApp, user: OrgUser): void {
  const { org } = call
  org.sessions.finishTransaction(tx.id)
  if (tx.responseType === 'token') {
    const { body } = issueInteractiveTokens(
      org,
      app,
      user,
      tx.scopes,
      tx.nonce === undefined ? {} : { nonce: tx.nonce },
    )
    redirect(call.res, withResponseParams(tx.redirectUri, { ...body, state: tx.state }, true))
    return
  }
  const code = org.tokens.createCode({
    clientId: app.consumerKey,
    userId: user.id,
    redirectUri: tx.redirectUri,
    scopes: tx.scopes,
    codeChallenge: tx.codeChallenge,
    nonce: tx.nonce,
  })
  redirect(call.res, withResponseParams(tx.redirectUri, { code: code.value, state: tx.state }))
}

async function handleAuthorizePost(call: Call): Promise<void> {
  const { org } = call
  const form =
    (await parseForm(await call.body(), call.req.headers['content-type'])) ?? new URLSearchParams()
  const tx = org.sessions.transaction(form.get('tx'))
  const app = tx === undefined ? undefined : org.appByKey(tx.clientId)
  if (tx === undefined || app === undefined) {
    sendHtml(
      call.res,
      400,
      remoteAccessErrorPage('invalid_request', 'authorization session expired; start again'),
    )
    return
  }
  if (form.get('step') === 'login') {
    if (org.faults.ssoOnly) return showLogin(call, tx, SSO_ONLY_MESSAGE)
    const user = org.userByUsername(form.get('username') ?? '')
    if (user === undefined || !user.active || !secureEquals(form.get('pw') ?? '', user.password)) {
      return showLogin(call, tx, LOGIN_FAILED_MESSAGE)
    }
    setCookie(call.res, sessionCookieName(org), org.sessions.startSession(user.id))
    tx.userId = user.id
    tx.forceLogin = false
    return continueAfterLogin(call, tx, app, user)
  }
  if (form.get('step') === 'approve') {
    const sessionUser = org.sessions.sessionUser(readCookie(call.req, sessionCookieName(org)))
    const user = tx.userId === undefined ? undefined : org.userById(tx.userId)
    if (user === undefined || sessionUser !== user.id) return showLogin(call, tx)
    if (form.get('action') !== 'approve') {
      org.sessions.finishTransaction(tx.id)
      return redirectError(
        call,
        tx.redirectUri,
        tx.responseType === 'token',
        'access_denied',
        'end-user denied authorization',
        tx.state,
      )
    }
    org.tokens.approve(user.id, app.consumerKey)
    return finish(call, tx, app, user)
  }
  sendHtml(call.res, 400, remoteAccessErrorPage('invalid_request', 'unknown form step'))
}
