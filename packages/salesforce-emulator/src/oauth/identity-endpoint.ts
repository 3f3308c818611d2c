/**
 * The identity URL `GET /id/<orgId>/<userId>` and the OIDC `GET /services/oauth2/userinfo`. The
 * token comes from `Authorization: Bearer` or `?oauth_token=` (jsforce sends both). A bad token is
 * **403** `Bad_OAuth_Token` in plain text, so clients do not mistake it for an expired REST session.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_openid.htm&type=5
 */
import { bearerToken } from '../http/bearer.ts'
import type { Call } from '../http/call.ts'
import { sendJson, sendText } from '../http/respond.ts'
import { toId18 } from '../data/ids.ts'
import type { OrgUser } from '../org/principals.ts'
import type { OrgState } from '../org/org-state.ts'
import { profileClaims, profilePhotos, splitName } from './user-claims.ts'
import type { AccessTokenRecord } from '../org/token-store.ts'

function presentedToken(call: Call): string | undefined {
  return bearerToken(call.req) ?? call.query.get('oauth_token') ?? undefined
}

function authenticate(call: Call): AccessTokenRecord | undefined {
  const token = presentedToken(call)
  if (token === undefined) {
    sendText(call.res, 403, 'Missing_OAuth_Token')
    return undefined
  }
  const access = call.org.tokens.validAccessToken(token)
  if (access === undefined) {
    sendText(call.res, 403, 'Bad_OAuth_Token')
    return undefined
  }
  return access
}

function urls(org: OrgState, user: OrgUser, version: string | null): Record<string, string> {
  const base = org.origins.instanceUrl
  const v = version ?? '{version}'
  return {
    enterprise: `${base}/services/Soap/c/${v}/${org.orgId}`,
    metadata: `${base}/services/Soap/m/${v}/${org.orgId}`,
    partner: `${base}/services/Soap/u/${v}/${org.orgId}`,
    rest: `${base}/services/data/v${v}/`,
    sobjects: `${base}/services/data/v${v}/sobjects/`,
    search: `${base}/services/data/v${v}/search/`,
    query: `${base}/services/data/v${v}/query/`,
    recent: `${base}/services/data/v${v}/recent/`,
    tooling_soap: `${base}/services/Soap/T/${v}/${org.orgId}`,
    tooling_rest: `${base}/services/data/v${v}/tooling/`,
    profile: `${base}/${user.id}`,
    feeds: `${base}/services/data/v${v}/chatter/feeds`,
    groups: `${base}/services/data/v${v}/chatter/groups`,
    users: `${base}/services/data/v${v}/chatter/users`,
    feed_items: `${base}/services/data/v${v}/chatter/feed-items`,
    feed_elements: `${base}/services/data/v${v}/chatter/feed-elements`,
    custom_domain: base,
  }
}

/** Answers `GET /id/<orgId>/<userId>`. */
export function handleIdentity(call: Call, orgIdParam: string, userIdParam: string): void {
  const access = authenticate(call)
  if (access === undefined) return
  const { org } = call
  const user = org.userById(toId18(userIdParam) ?? '')
  if (toId18(orgIdParam) !== org.orgId || user === undefined) {
    sendText(call.res, 403, 'Bad_Id')
    return
  }
  const { first, last } = splitName(user.name)
  sendJson(call.res, 200, {
    id: org.identityUrl(user.id),
    asserted_user: user.id === access.userId,
    user_id: user.id,
    organization_id: org.orgId,
    username: user.username,
    nick_name: user.username.split('@')[0],
    display_name: user.name,
    email: user.email,
    email_verified: true,
    first_name: first,
    last_name: last,
    timezone: 'America/Los_Angeles',
    photos: profilePhotos(org),
    addr_street: null,
    addr_city: null,
    addr_state: null,
    addr_country: null,
    addr_zip: null,
    mobile_phone: null,
    mobile_phone_verified: false,
    is_lightning_login_user: false,
    status: { created_date: null, body: null },
    urls: urls(org, user, call.query.get('version')),
    active: user.active,
    user_type: 'STANDARD',
    language: 'en_US',
    locale: 'en_US',
    utcOffset: -28800000,
    last_modified_date: '2024-01-01T00:00:00Z',
    is_app_installed: true,
  })
}

/** Answers `GET /services/oauth2/userinfo` (OIDC claims). */
export function handleUserinfo(call: Call): void {
  const access = authenticate(call)
  if (access === undefined) return
  const { org } = call
  const user = org.userById(access.userId)
  if (user === undefined) {
    sendText(call.res, 403, 'Bad_OAuth_Token')
    return
  }
  sendJson(call.res, 200, {
    sub: org.identityUrl(user.id),
    ...profileClaims(org, user),
    urls: urls(org, user, null),
    active: user.active,
    user_type: 'STANDARD',
    language: 'en_US',
    utcOffset: -28800000,
    updated_at: '2024-01-01T00:00:00Z',
    is_app_installed: true,
  })
}
