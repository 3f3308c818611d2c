/**
 * `POST /services/oauth2/introspect` (RFC 7662). The calling app must authenticate and can only
 * introspect its own tokens; anything else is `{"active":false}`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oidc_token_introspection_endpoint.htm&type=5
 */
import { parseForm } from '../http/body.ts'
import type { Call } from '../http/call.ts'
import { sendJson } from '../http/respond.ts'
import { authenticateClient, presentedClient } from './client-auth.ts'
import { OAuthError, sendOAuthError } from './oauth-error.ts'

/** Answers an introspection request. */
export async function handleIntrospect(call: Call): Promise<void> {
  const { org } = call
  try {
    const form =
      (await parseForm(await call.body(), call.req.headers['content-type'])) ??
      new URLSearchParams()
    const app = authenticateClient(
      presentedClient(call.req, form),
      (k) => org.appByKey(k),
      'required',
    )
    const token = form.get('token') ?? ''
    const access = org.tokens.validAccessToken(token)
    if (access !== undefined && access.clientId === app.consumerKey) {
      const user = org.userById(access.userId)
      sendJson(call.res, 200, {
        active: true,
        scope: access.scopes.join(' '),
        client_id: app.consumerKey,
        username: user?.username,
        sub: org.identityUrl(access.userId),
        token_type: 'access_token',
        exp: Math.floor(access.expiresAt / 1000),
        iat: Math.floor(access.issuedAt / 1000),
        nbf: Math.floor(access.issuedAt / 1000),
      })
      return
    }
    const refresh = org.tokens.findRefreshToken(token)
    if (
      refresh !== undefined &&
      refresh.state === 'active' &&
      refresh.clientId === app.consumerKey
    ) {
      const user = org.userById(refresh.userId)
      sendJson(call.res, 200, {
        active: true,
        scope: refresh.scopes.join(' '),
        client_id: app.consumerKey,
        username: user?.username,
        sub: org.identityUrl(refresh.userId),
        token_type: 'refresh_token',
        iat: Math.floor(refresh.issuedAt / 1000),
        nbf: Math.floor(refresh.issuedAt / 1000),
      })
      return
    }
    sendJson(call.res, 200, { active: false })
  } catch (err) {
    if (err instanceof OAuthError) {
      sendOAuthError(call.res, err)
      return
    }
    throw err
  }
}
