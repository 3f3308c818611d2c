/**
 * The OpenID Connect `id_token` Salesforce adds to token responses when `openid` is granted: an
 * RS256 JWT with the org's `kid`, `iss` = the login origin, `sub` = the identity URL, `aud` = the
 * consumer key, `at_hash`, `nonce` when the authorize request had one, and the user's profile
 * claims. It lives five minutes; verify it with the keys at `<login origin>/id/keys`.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_openid_connect.htm&type=5
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDToken
 */
import { createHash } from 'node:crypto'
import type { OrgState } from '../org/org-state.ts'
import type { ConnectedApp, OrgUser } from '../org/principals.ts'
import type { AccessTokenRecord } from '../org/token-store.ts'
import { profileClaims } from './user-claims.ts'

/** Lifetime of an `id_token`, in seconds. */
export const ID_TOKEN_TTL_SECONDS = 300

/** `at_hash`: base64url of the left half of SHA-256 of the access token (OIDC Core 3.1.3.6). */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url')
}

/** Signs the `id_token` of an access token. */
export function idToken(
  org: OrgState,
  app: ConnectedApp,
  user: OrgUser,
  access: AccessTokenRecord,
  nonce: string | undefined,
): string {
  const iat = Math.floor(access.issuedAt / 1000)
  return org.signingKey.signJwt({
    at_hash: accessTokenHash(access.value),
    sub: org.identityUrl(user.id),
    aud: app.consumerKey,
    iss: org.origins.loginUrl,
    ...(nonce === undefined ? {} : { nonce }),
    ...profileClaims(org, user),
    iat,
    exp: iat + ID_TOKEN_TTL_SECONDS,
  })
}
