/**
 * `POST /services/oauth2/token`: form-encoded (multipart accepted for the device flow), client
 * authentication in the body or HTTP Basic, JSON answers (or form-encoded with
 * `format=urlencoded`). Served on the login and the instance origin.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_endpoints.htm&type=5
 */
import { parseForm } from '../http/body.ts'
import type { Call } from '../http/call.ts'
import { sendJson } from '../http/respond.ts'
import { presentedClient } from './client-auth.ts'
import { authorizationCodeGrant } from './grants/authorization-code-grant.ts'
import { clientCredentialsGrant } from './grants/client-credentials-grant.ts'
import { deviceAuthorization, deviceGrant } from './grants/device-grant.ts'
import type { GrantHandler } from './grants/grant-context.ts'
import { JWT_BEARER_GRANT_TYPE, jwtBearerGrant } from './grants/jwt-bearer-grant.ts'
import { passwordGrant } from './grants/password-grant.ts'
import { refreshTokenGrant } from './grants/refresh-token-grant.ts'
import { OAUTH_ERRORS, OAuthError, sendOAuthError } from './oauth-error.ts'

const GRANTS: Readonly<Record<string, GrantHandler>> = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  password: passwordGrant,
  client_credentials: clientCredentialsGrant,
  [JWT_BEARER_GRANT_TYPE]: jwtBearerGrant,
  device: deviceGrant,
}

const NO_STORE = {
  'cache-control': 'no-cache,must-revalidate,max-age=0,no-store,private',
  pragma: 'no-cache',
}

/** Answers a token request. */
export async function handleTokenRequest(call: Call): Promise<void> {
  let format: 'json' | 'urlencoded' = 'json'
  try {
    if (call.method !== 'POST') throw OAUTH_ERRORS.mustUsePost()
    const form = await parseForm(await call.body(), call.req.headers['content-type'])
    if (form === undefined) {
      throw new OAuthError(
        'invalid_request',
        'unsupported content type; use application/x-www-form-urlencoded',
      )
    }
    if (form.get('format') === 'urlencoded') format = 'urlencoded'
    const grantType = form.get('grant_type') ?? undefined
    const isDeviceStart = grantType === undefined && form.get('response_type') === 'device_code'
    call.grantType = isDeviceStart ? 'device_code' : grantType
    const handler = isDeviceStart
      ? deviceAuthorization
      : grantType === undefined
        ? undefined
        : GRANTS[grantType]
    if (grantType === undefined && !isDeviceStart) throw OAUTH_ERRORS.grantTypeMissing()
    if (handler === undefined) throw OAUTH_ERRORS.unsupportedGrantType()
    const body = await handler({ org: call.org, form, client: presentedClient(call.req, form) })
    if (format === 'urlencoded') {
      const text = new URLSearchParams(
        Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]),
      ).toString()
      call.res.statusCode = 200
      for (const [k, v] of Object.entries(NO_STORE)) call.res.setHeader(k, v)
      call.res.setHeader('content-type', 'application/x-www-form-urlencoded;charset=UTF-8')
      call.res.end(text)
      return
    }
    sendJson(call.res, 200, body, NO_STORE)
  } catch (err) {
    if (err instanceof OAuthError) {
      sendOAuthError(call.res, err, format)
      return
    }
    throw err
  }
}
