/**
 * `GET /.well-known/openid-configuration` for the org's login origin.
 *
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html
 */
import type { Call } from '../http/call.ts'
import { sendJson } from '../http/respond.ts'

/** Answers the OpenID Connect discovery document. */
export function handleDiscovery(call: Call): void {
  const issuer = call.org.origins.loginUrl
  sendJson(call.res, 200, {
    issuer,
    authorization_endpoint: `${issuer}/services/oauth2/authorize`,
    token_endpoint: `${issuer}/services/oauth2/token`,
    revocation_endpoint: `${issuer}/services/oauth2/revoke`,
    userinfo_endpoint: `${issuer}/services/oauth2/userinfo`,
    jwks_uri: `${issuer}/id/keys`,
    introspection_endpoint: `${issuer}/services/oauth2/introspect`,
    device_authorization_endpoint: `${issuer}/services/oauth2/token`,
    scopes_supported: [
      'api',
      'refresh_token',
      'offline_access',
      'full',
      'web',
      'id',
      'openid',
      'profile',
      'email',
      'address',
      'phone',
    ],
    response_types_supported: ['code', 'token', 'token id_token'],
    grant_types_supported: [
      'authorization_code',
      'refresh_token',
      'password',
      'client_credentials',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'device',
    ],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    display_values_supported: ['page', 'popup', 'touch'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    code_challenge_methods_supported: ['S256'],
    claims_supported: [
      'active',
      'address',
      'email',
      'email_verified',
      'family_name',
      'given_name',
      'is_app_installed',
      'is_salesforce_integration_user',
      'language',
      'locale',
      'name',
      'nickname',
      'organization_id',
      'photos',
      'picture',
      'preferred_username',
      'profile',
      'sub',
      'updated_at',
      'urls',
      'user_id',
      'user_type',
      'zoneinfo',
    ],
  })
}
