/**
 * The OpenID Connect claims of a user, shared by `/services/oauth2/userinfo` and the `id_token`.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_userinfo_endpoint.htm&type=5
 */
import type { OrgState } from '../org/org-state.ts'
import type { OrgUser } from '../org/principals.ts'

/** First and last name from a full name (the last word is the last name). */
export function splitName(name: string): { first: string; last: string } {
  const parts = name.split(' ')
  return parts.length > 1
    ? { first: parts.slice(0, -1).join(' '), last: parts.at(-1) ?? '' }
    : { first: '', last: name }
}

/** The profile photo URLs (`photos.picture`, `photos.thumbnail`). */
export function profilePhotos(org: OrgState): { picture: string; thumbnail: string } {
  return {
    picture: `${org.origins.instanceUrl}/profilephoto/005/F`,
    thumbnail: `${org.origins.instanceUrl}/profilephoto/005/T`,
  }
}

/** The standard profile claims: names, e-mail, picture, address, locale. */
export function profileClaims(org: OrgState, user: OrgUser): Record<string, unknown> {
  const { first, last } = splitName(user.name)
  const photos = profilePhotos(org)
  return {
    user_id: user.id,
    organization_id: org.orgId,
    preferred_username: user.username,
    nickname: user.username.split('@')[0],
    name: user.name,
    email: user.email,
    email_verified: true,
    given_name: first,
    family_name: last,
    zoneinfo: 'America/Los_Angeles',
    photos,
    profile: `${org.origins.instanceUrl}/${user.id}`,
    picture: photos.picture,
    address: {},
    is_salesforce_integration_user: false,
    locale: 'en_US',
  }
}
