/**
 * The browser flow's refresh-token check, shared by `callout apply`, `callout auth`, the doctor
 * checks of `callout doctor` and the console: a scope without `refresh_token` (Salesforce) or `offline_access` (OpenID
 * Connect) gets no refresh token, so the credential dies when its session times out.
 */
import type { AuthProvider, ExternalCredential } from '../definitions/model.ts'
import { scopeLacksRefreshToken } from '../providers/salesforce-advice.ts'

/** What is wrong with a browser flow's scope, and what to do, as separate sentences. */
export interface RefreshScopeProblem {
  readonly externalCredential: string
  /** The scope the flow asks for (`undefined`: none). */
  readonly scope: string | undefined
  /** e.g. `the scope "api" lacks refresh_token: no refresh token is issued, …`. */
  readonly what: string
  /** e.g. `add refresh_token to the scope (e.g. "refresh_token api") …`. */
  readonly todo: string
}

/**
 * The problem with `ec`'s scope, or `undefined` when the flow is not `browser`, the scope asks for
 * a refresh token, or the provider is plain `oauth2` (whose rules Callout cannot know). `reauth`
 * says how to re-authenticate in the caller's interface (`run callout auth Target`).
 *
 * @example
 * refreshScopeProblem(ec, provider, 'callout auth Target')?.what
 * // 'the scope "api" lacks refresh_token: no refresh token is issued, so …'
 */
export function refreshScopeProblem(
  ec: ExternalCredential,
  provider: AuthProvider | undefined,
  reauth: string,
): RefreshScopeProblem | undefined {
  if (ec.protocol !== 'oauth2' || ec.flow !== 'browser' || provider === undefined) return undefined
  if (provider.type === 'oauth2') return undefined
  const scope = ec.scope ?? provider.defaultScopes
  if (!scopeLacksRefreshToken(scope)) return undefined
  const shown = scope === undefined ? '(none)' : JSON.stringify(scope)
  const salesforce = provider.type === 'salesforce'
  const wanted = salesforce ? 'refresh_token' : 'offline_access'
  const example = scope === undefined ? wanted : `${wanted} ${scope}`
  return {
    externalCredential: ec.name,
    scope,
    what: salesforce
      ? `the scope ${shown} lacks refresh_token: no refresh token is issued, so the credential stops working when the session times out (often 2 hours)`
      : `the scope ${shown} lacks offline_access: OpenID providers then issue no refresh token, so the credential stops working when the access token expires`,
    todo: salesforce
      ? `add refresh_token to the scope (e.g. "${example}") and allow "Perform requests at any time" on the Connected App, then ${reauth}`
      : `add offline_access to the scope (e.g. "${example}"), then ${reauth}`,
  }
}
