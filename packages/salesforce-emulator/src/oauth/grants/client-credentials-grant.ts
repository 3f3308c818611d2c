/**
 * `grant_type=client_credentials`: a token for the app's run-as user. Needs the run-as user and
 * admin pre-authorization; never a refresh token; `web`/`refresh_token` scopes are refused.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm&type=5
 */
import { authenticateClient } from '../client-auth.ts'
import { OAUTH_ERRORS } from '../oauth-error.ts'
import { mintAccessToken, tokenResponse, withoutRefreshScopes } from '../token-response.ts'
import type { GrantHandler } from './grant-context.ts'

const REFUSED_SCOPES = new Set(['web', 'refresh_token', 'offline_access'])

/** Handles the client credentials grant. */
export const clientCredentialsGrant: GrantHandler = ({ org, form, client }) => {
  const app = authenticateClient(client, (key) => org.appByKey(key), 'required')
  const requested = (form.get('scope') ?? '').split(/\s+/).filter(Boolean)
  if (requested.some((s) => REFUSED_SCOPES.has(s))) throw OAUTH_ERRORS.scopeNotSupported()
  if (app.clientCredentialsUser === undefined) throw OAUTH_ERRORS.noClientCredentialsUser()
  if (!app.adminPreAuthorized) throw OAUTH_ERRORS.notAdminApproved()
  const user = org.userByUsername(app.clientCredentialsUser)
  if (user === undefined) throw OAUTH_ERRORS.noClientCredentialsUser()
  if (!user.active) throw OAUTH_ERRORS.inactiveUser()
  const scopes = withoutRefreshScopes(app.scopes).filter((s) => s !== 'web')
  const access = mintAccessToken(org, app, user, scopes)
  return tokenResponse(org, app, access, { idToken: false })
}
