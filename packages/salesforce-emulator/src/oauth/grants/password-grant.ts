/**
 * `grant_type=password` (legacy username-password flow). No refresh token is ever issued. Refused
 * in SSO-only mode.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_username_password_flow.htm&type=5
 */
import { authenticateClient } from '../client-auth.ts'
import { OAUTH_ERRORS } from '../oauth-error.ts'
import { secureEquals } from '../secure-compare.ts'
import { mintAccessToken, tokenResponse, withoutRefreshScopes } from '../token-response.ts'
import type { GrantHandler } from './grant-context.ts'

/** Handles the username-password grant. */
export const passwordGrant: GrantHandler = ({ org, form, client }) => {
  const app = authenticateClient(client, (key) => org.appByKey(key), 'required')
  const user = org.userByUsername(form.get('username') ?? '')
  const password = form.get('password') ?? ''
  if (org.faults.ssoOnly || user === undefined || !secureEquals(password, user.password)) {
    throw OAUTH_ERRORS.authenticationFailure()
  }
  if (!user.active) throw OAUTH_ERRORS.inactiveUser()
  const access = mintAccessToken(org, app, user, withoutRefreshScopes(app.scopes))
  return tokenResponse(org, app, access, { idToken: false })
}
