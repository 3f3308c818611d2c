/**
 * Salesforce's token response: `access_token`, `refresh_token` (only when one was issued),
 * `signature`, `scope`, `id_token` (when `openid` is granted), `instance_url`, `id`, `token_type`,
 * `issued_at` (ms, as a string) and **no `expires_in`**. JWT bearer responses carry no `signature` or `issued_at`.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm&type=5
 */
import { createHmac } from 'node:crypto'
import type { ConnectedApp, OrgUser } from '../org/principals.ts'
import type { OrgState } from '../org/org-state.ts'
import { idToken } from './id-token.ts'
import type { AccessTokenRecord } from '../org/token-store.ts'

/** Scopes that make the server issue a refresh token. */
export function grantsRefreshToken(scopes: readonly string[]): boolean {
  return scopes.includes('refresh_token') || scopes.includes('offline_access')
}

/** Scopes minus those a non-interactive flow cannot carry. */
export function withoutRefreshScopes(scopes: readonly string[]): string[] {
  return scopes.filter((s) => s !== 'refresh_token' && s !== 'offline_access')
}

/** `base64(HMAC-SHA256(consumer secret, id + issued_at))`. */
export function tokenSignature(consumerSecret: string, id: string, issuedAt: string): string {
  return createHmac('sha256', consumerSecret)
    .update(id + issuedAt)
    .digest('base64')
}

/** Mints an access token (a session) for a user of an app, valid for the org's session timeout. */
export function mintAccessToken(
  org: OrgState,
  app: ConnectedApp,
  user: OrgUser,
  scopes: string[],
  from: { familyId?: string; code?: string } = {},
): AccessTokenRecord {
  return org.tokens.issueAccessToken({
    userId: user.id,
    clientId: app.consumerKey,
    scopes,
    ttlMs: org.sessionTimeoutMs,
    ...from,
  })
}

/** Options of {@link tokenResponse}. */
export interface TokenResponseOptions {
  /** The refresh token to return, when one was issued. */
  refreshToken?: string
  /** `signature` and `issued_at` (default true; JWT bearer responses have neither). */
  signed?: boolean
  /** An `id_token` when `openid` is granted (default: same as `signed`). */
  idToken?: boolean
  /** The authorize request's `nonce`, echoed in the `id_token`. */
  nonce?: string
}

/** Builds the JSON token response for a minted access token. */
export function tokenResponse(
  org: OrgState,
  app: ConnectedApp,
  access: AccessTokenRecord,
  options: TokenResponseOptions = {},
): Record<string, string> {
  const id = org.identityUrl(access.userId)
  const issuedAt = String(access.issuedAt)
  const signed = options.signed ?? true
  const body: Record<string, string> = { access_token: access.value }
  if (options.refreshToken !== undefined) body['refresh_token'] = options.refreshToken
  if (signed) body['signature'] = tokenSignature(app.consumerSecret, id, issuedAt)
  body['scope'] = access.scopes.join(' ')
  const user = org.userById(access.userId)
  if ((options.idToken ?? signed) && access.scopes.includes('openid') && user !== undefined) {
    body['id_token'] = idToken(org, app, user, access, options.nonce)
  }
  body['instance_url'] = org.tokenInstanceUrl()
  body['id'] = id
  body['token_type'] = 'Bearer'
  if (signed) body['issued_at'] = issuedAt
  return body
}

/** What {@link issueInteractiveTokens} issued. */
export interface InteractiveTokens {
  /** The token response body. */
  readonly body: Record<string, string>
  readonly access: AccessTokenRecord
  /** The refresh-token family, when a refresh token was issued. */
  readonly familyId?: string
}

/**
 * Issues the tokens of an interactive flow (authorization code, user-agent, device): an access
 * token, and a refresh token in a new family when `refresh_token`/`offline_access` was granted.
 */
export function issueInteractiveTokens(
  org: OrgState,
  app: ConnectedApp,
  user: OrgUser,
  scopes: string[],
  from: { code?: string; nonce?: string } = {},
): InteractiveTokens {
  const refresh = grantsRefreshToken(scopes)
    ? org.tokens.issueRefreshFamily({ userId: user.id, clientId: app.consumerKey, scopes })
    : undefined
  const access = mintAccessToken(org, app, user, scopes, {
    ...(from.code === undefined ? {} : { code: from.code }),
    ...(refresh === undefined ? {} : { familyId: refresh.familyId }),
  })
  const body = tokenResponse(org, app, access, {
    ...(refresh === undefined ? {} : { refreshToken: refresh.value }),
    ...(from.nonce === undefined ? {} : { nonce: from.nonce }),
  })
  return { body, access, ...(refresh === undefined ? {} : { familyId: refresh.familyId }) }
}
