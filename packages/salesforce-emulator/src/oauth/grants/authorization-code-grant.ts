/**
 * `grant_type=authorization_code`: single-use codes (a replay revokes what the code minted),
 * exact `redirect_uri`, PKCE S256, a refresh token when `refresh_token`/`offline_access` was granted.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 */
import { authenticateClient } from '../client-auth.ts'
import { OAUTH_ERRORS } from '../oauth-error.ts'
import { verifyPkce } from '../pkce.ts'
import { issueInteractiveTokens } from '../token-response.ts'
import type { GrantHandler } from './grant-context.ts'

/** Handles the authorization code grant. */
export const authorizationCodeGrant: GrantHandler = ({ org, form, client }) => {
  const find = (key: string) => org.appByKey(key)
  const app = authenticateClient(client, find, 'ignored')
  authenticateClient(client, find, app.requireSecret ? 'required' : 'if-present')
  const code = org.tokens.findCode(form.get('code') ?? '')
  if (code === undefined || code.clientId !== app.consumerKey) throw OAUTH_ERRORS.invalidCode()
  if (code.used) {
    org.tokens.revokeCodeTokens(code)
    throw OAUTH_ERRORS.invalidCode()
  }
  if (org.tokens.codeExpired(code)) throw OAUTH_ERRORS.expiredCode()
  if (form.get('redirect_uri') !== code.redirectUri) throw OAUTH_ERRORS.redirectUriMismatch()
  if (
    code.codeChallenge !== undefined &&
    !verifyPkce(code.codeChallenge, form.get('code_verifier'))
  ) {
    throw OAUTH_ERRORS.invalidCodeVerifier()
  }
  code.used = true
  const user = org.userById(code.userId)
  if (user === undefined || !user.active) throw OAUTH_ERRORS.inactiveUser()
  const issued = issueInteractiveTokens(org, app, user, code.scopes, {
    code: code.value,
    ...(code.nonce === undefined ? {} : { nonce: code.nonce }),
  })
  if (issued.familyId !== undefined) code.familyId = issued.familyId
  code.accessTokens.push(issued.access.value)
  return issued.body
}
