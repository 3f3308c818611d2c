/**
 * `grant_type=refresh_token`, with the app's refresh token policy and optional rotation: a rotated
 * refresh token is invalid afterwards, and reusing it revokes its whole family.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_refresh_token_flow.htm&type=5
 */
import { authenticateClient } from '../client-auth.ts'
import { OAUTH_ERRORS } from '../oauth-error.ts'
import { mintAccessToken, tokenResponse } from '../token-response.ts'
import type { GrantHandler } from './grant-context.ts'

/** Handles the refresh token grant. */
export const refreshTokenGrant: GrantHandler = ({ org, form, client }) => {
  const find = (key: string) => org.appByKey(key)
  const app = authenticateClient(client, find, 'ignored')
  authenticateClient(client, find, app.requireSecretForRefresh ? 'required' : 'if-present')
  const record = org.tokens.findRefreshToken(form.get('refresh_token') ?? '')
  if (record === undefined || record.clientId !== app.consumerKey) throw OAUTH_ERRORS.expiredToken()
  if (record.state === 'rotated') {
    org.tokens.revokeFamily(record.familyId)
    throw OAUTH_ERRORS.expiredToken()
  }
  if (record.state === 'revoked') throw OAUTH_ERRORS.expiredToken()
  const now = org.clock.now()
  const policy = app.refreshTokenPolicy
  const expired =
    policy.kind === 'immediately' ||
    (policy.kind === 'expire-after' && now - record.issuedAt >= policy.seconds * 1000) ||
    (policy.kind === 'expire-if-unused' && now - record.lastUsedAt >= policy.seconds * 1000)
  if (expired) {
    org.tokens.revokeFamily(record.familyId)
    throw OAUTH_ERRORS.expiredToken()
  }
  const user = org.userById(record.userId)
  if (user === undefined || !user.active) throw OAUTH_ERRORS.inactiveUser()
  record.lastUsedAt = now
  const rotated = app.rotation ? org.tokens.rotate(record) : undefined
  const access = mintAccessToken(org, app, user, record.scopes, { familyId: record.familyId })
  return tokenResponse(
    org,
    app,
    access,
    rotated === undefined ? {} : { refreshToken: rotated.value },
  )
}
