/**
 * Token revocation (RFC 7009): one request to the AuthProvider's revocation endpoint (from its
 * configuration, `revokeUrl`, or its discovery document's `revocation_endpoint`; Salesforce's is
 * `<login host>/services/oauth2/revoke`), built and sent with oauth4webapi and read by
 * {@link parseRevocationResponse}, a pure function.
 */
import * as oauth from 'oauth4webapi'
import type { AuthProvider } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import type { Secret } from '../secrets/secret.ts'
import { resolveAuthDeps, type AuthDeps } from './deps.ts'
import { oauthClientContext, requestOptions, sendAuthRequest } from './oauth-client.ts'
import { sanitizeExcerpt } from './excerpt.ts'
import { readTokenResponse, type RawTokenResponse } from './token-response.ts'
import type { ProviderEndpoints } from './types.ts'

/** Which token is revoked (RFC 7009 §2.1 `token_type_hint`). */
export type RevocationTokenType = 'refresh_token' | 'access_token'

/**
 * What the authorization server said: `revoked` (200), or `already-invalid` (Salesforce answers
 * 400 `invalid_token` for a token it no longer knows: the token is unusable either way).
 */
export type RevocationOutcome = 'revoked' | 'already-invalid'

/**
 * Reads a revocation endpoint's answer. Pure: no network.
 *
 * @throws CalloutError `REVOCATION_FAILED` for anything but 200 or `invalid_token` (5xx, other
 *   OAuth errors such as `unsupported_token_type` or `invalid_client`, redirects).
 * @example
 * parseRevocationResponse({ status: 200, contentType: '', body: '' }, 'SfTarget') // 'revoked'
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.2
 */
export function parseRevocationResponse(
  raw: RawTokenResponse,
  providerName: string,
): RevocationOutcome {
  if (raw.status === 200) return 'revoked'
  const { error, description } = oauthErrorOf(raw)
  if (raw.status === 400 && error === 'invalid_token') return 'already-invalid'
  const what =
    error === undefined
      ? `HTTP ${raw.status}`
      : `${error}${description === undefined ? '' : `: ${description}`}`
  throw new CalloutError(
    'REVOCATION_FAILED',
    `The revocation endpoint of AuthProvider "${providerName}" refused the request (${what}); the stored tokens were kept.`,
    {
      details: {
        provider: providerName,
        status: raw.status,
        ...(error === undefined ? {} : { error }),
      },
    },
  )
}

/** `error` and `error_description` of a JSON or form-encoded error body (sanitised excerpts). */
function oauthErrorOf(raw: RawTokenResponse): { error?: string; description?: string } {
  let fields: Record<string, unknown> | undefined
  try {
    const parsed: unknown = JSON.parse(raw.body)
    if (typeof parsed === 'object' && parsed !== null) fields = parsed as Record<string, unknown>
  } catch {
    if (/x-www-form-urlencoded/i.test(raw.contentType)) {
      fields = Object.fromEntries(new URLSearchParams(raw.body))
    }
  }
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' && value !== '' ? sanitizeExcerpt(value, 200) : undefined
  const error = text(fields?.error)
  const description = text(fields?.error_description)
  return {
    ...(error === undefined ? {} : { error }),
    ...(description === undefined ? {} : { description }),
  }
}

/**
 * Revokes one token at the AuthProvider's revocation endpoint, authenticating the client as for
 * the token endpoint. Revoking a refresh token also invalidates the access tokens issued from it
 * at Salesforce and at servers that follow RFC 7009 §2.1's recommendation.
 *
 * @throws CalloutError `REVOCATION_FAILED` (no endpoint, refused, 5xx), `TOKEN_ENDPOINT_ERROR`
 *   (unreachable, timeout), `INSECURE_URL`.
 * @example
 * await revokeToken(provider, endpoints, credential.refreshToken, 'refresh_token')
 * @see https://www.rfc-editor.org/rfc/rfc7009
 */
export async function revokeToken(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
  token: Secret,
  tokenType: RevocationTokenType,
  deps?: AuthDeps,
): Promise<RevocationOutcome> {
  const url = endpoints.revokeUrl
  if (url === undefined) {
    throw new CalloutError(
      'REVOCATION_FAILED',
      `AuthProvider "${provider.name}" has no revocation endpoint (set revokeUrl, or use an issuer whose discovery document names a revocation_endpoint).`,
      { details: { provider: provider.name, reason: 'no-endpoint' } },
    )
  }
  const d = resolveAuthDeps(deps)
  const ctx = await oauthClientContext(provider, endpoints, d)
  const options = requestOptions(url, provider.allowInsecureHttp, d)
  const response = await sendAuthRequest(provider.name, 'revocation endpoint', url, () =>
    oauth.revocationRequest(ctx.as, ctx.client, ctx.clientAuth, token.reveal(), {
      ...options,
      additionalParameters: { token_type_hint: tokenType },
    }),
  )
  return parseRevocationResponse(await readTokenResponse(response), provider.name)
}
