/**
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523): an RS256 assertion signed
 * with the key whose certificate is uploaded to the connected app; `iss` = consumer key,
 * `prn` or `sub` = username (`prn` wins when both are present, as in Salesforce), `aud` = login.salesforce.com, test.salesforce.com or the org's own origin.
 * `exp` in milliseconds is tolerated (some clients send it). No refresh token; the response has
 * no `signature` or `issued_at`.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_jwt_flow.htm&type=5
 * @see https://www.rfc-editor.org/rfc/rfc7523
 */
import {
  compactVerify,
  decodeJwt,
  decodeProtectedHeader,
  importSPKI,
  importX509,
  type CryptoKey,
} from 'jose'
import type { ConnectedApp } from '../../org/principals.ts'
import { OAUTH_ERRORS } from '../oauth-error.ts'
import { mintAccessToken, tokenResponse, withoutRefreshScopes } from '../token-response.ts'
import type { GrantHandler } from './grant-context.ts'

/** The `grant_type` value of the JWT bearer flow. */
export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

const keyCache = new WeakMap<ConnectedApp, { pem: string; key: CryptoKey }>()

async function verificationKey(app: ConnectedApp, pem: string): Promise<CryptoKey> {
  const cached = keyCache.get(app)
  if (cached !== undefined && cached.pem === pem) return cached.key
  const key = pem.includes('BEGIN CERTIFICATE')
    ? await importX509(pem, 'RS256')
    : await importSPKI(pem, 'RS256')
  keyCache.set(app, { pem, key })
  return key
}

/** Handles the JWT bearer grant. */
export const jwtBearerGrant: GrantHandler = async ({ org, form }) => {
  const assertion = form.get('assertion') ?? ''
  let claims: ReturnType<typeof decodeJwt>
  let alg: string | undefined
  try {
    claims = decodeJwt(assertion)
    alg = decodeProtectedHeader(assertion).alg
  } catch {
    throw OAUTH_ERRORS.invalidAssertion()
  }
  const app = typeof claims.iss === 'string' ? org.appByKey(claims.iss) : undefined
  if (app === undefined) throw OAUTH_ERRORS.invalidClientId()
  if (app.certificate === undefined || alg !== 'RS256') throw OAUTH_ERRORS.invalidClient()
  try {
    await compactVerify(assertion, await verificationKey(app, app.certificate), {
      algorithms: ['RS256'],
    })
  } catch {
    throw OAUTH_ERRORS.invalidClient()
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
  const allowed = new Set([
    'https://login.salesforce.com',
    'https://test.salesforce.com',
    org.origins.loginUrl,
    org.origins.instanceUrl,
  ])
  if (!audiences.some((a) => typeof a === 'string' && allowed.has(a.replace(/\/$/, '')))) {
    throw OAUTH_ERRORS.audienceInvalid()
  }
  if (typeof claims.exp !== 'number') throw OAUTH_ERRORS.invalidAssertion()
  const expMs = claims.exp > 1e11 ? claims.exp : claims.exp * 1000
  if (expMs <= org.clock.now()) throw OAUTH_ERRORS.invalidAssertion()
  // Salesforce reads the username from `prn` (the older JWT profile's principal) before `sub`.
  const username = typeof claims['prn'] === 'string' ? claims['prn'] : claims.sub
  if (typeof username !== 'string' || username === '') throw OAUTH_ERRORS.invalidAssertion()
  const user = org.userByUsername(username)
  if (user === undefined) throw OAUTH_ERRORS.notApproved()
  if (!user.active) throw OAUTH_ERRORS.inactiveUser()
  if (!app.adminPreAuthorized && !org.tokens.hasApproved(user.id, app.consumerKey))
    throw OAUTH_ERRORS.notApproved()
  const access = mintAccessToken(org, app, user, withoutRefreshScopes(app.scopes))
  return tokenResponse(org, app, access, { signed: false })
}
