/**
 * Who a credential authenticated as ("Authenticated as <username>"): Salesforce's identity URL
 * or the OIDC userinfo endpoint.
 */
import type { AuthProvider, CredentialIdentity } from '../definitions/model.ts'
import { MAX_AUTH_RESPONSE_BYTES, resolveAuthDeps, type AuthDeps } from './deps.ts'
import { readCappedText } from './capped-body.ts'
import type { ProviderEndpoints, TokenSet } from './types.ts'
import { isAcceptableServerUrl } from './url-safety.ts'

/**
 * Fetches the identity behind a token set and merges it over what the token response already
 * told (`tokenSet.identity`).
 *
 * - Salesforce: `GET <id URL>` with `Authorization: Bearer` → `username`, `user_id`,
 *   `organization_id`.
 * - OIDC / OAuth 2.0: `GET <userinfo>` with Bearer → `preferred_username`, else `email`, else
 *   `sub`; `sub` is the user id.
 *
 * **Non-fatal by design**: the identity is a label for people, not an authorization decision, so
 * any failure (no URL, network error, timeout, non-200, non-JSON, unexpected shape, a URL that is
 * not https) returns what is already known instead of throwing. The access token is sent only to
 * an https URL (or loopback http, or with the provider's `allowInsecureHttp`), never in a query.
 *
 * @example
 * const identity = await fetchIdentity(provider, endpoints, tokens)
 * console.log(`Authenticated as ${identity.username ?? 'unknown'}`)
 * @see https://openid.net/specs/openid-connect-core-1_0.html#UserInfo
 */
export async function fetchIdentity(
  provider: AuthProvider,
  endpoints: ProviderEndpoints,
  tokenSet: TokenSet,
  deps: AuthDeps = {},
): Promise<CredentialIdentity> {
  const known: CredentialIdentity = tokenSet.identity ?? {}
  const target = provider.type === 'salesforce' ? known.idUrl : endpoints.userInfoUrl
  if (target === undefined) return known
  let url: URL
  try {
    url = new URL(target)
  } catch {
    return known
  }
  if (!isAcceptableServerUrl(url, provider.allowInsecureHttp)) return known
  const d = resolveAuthDeps(deps)
  let json: Record<string, unknown>
  try {
    const res = await d.fetch(url, {
      method: 'GET',
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${tokenSet.accessToken.reveal()}`,
      },
      redirect: 'manual',
      signal: AbortSignal.timeout(d.timeoutMs),
    })
    const text = await readCappedText(res, MAX_AUTH_RESPONSE_BYTES, 'identity')
    if (res.status !== 200) return known
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return known
    json = parsed as Record<string, unknown>
  } catch {
    return known
  }
  const str = (v: unknown): string | undefined =>
    typeof v === 'string' && v !== '' && v.length <= 512 && !/[\x00-\x1f\x7f]/.test(v)
      ? v
      : undefined
  const found: CredentialIdentity =
    provider.type === 'salesforce'
      ? pick({
          username: str(json.username),
          userId: str(json.user_id),
          orgId: str(json.organization_id),
        })
      : pick({
          username: str(json.preferred_username) ?? str(json.email) ?? str(json.sub),
          userId: str(json.sub),
          orgId: str(json.organization_id),
        })
  return { ...known, ...found }
}

function pick(value: Record<string, string | undefined>): CredentialIdentity {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as CredentialIdentity
}
