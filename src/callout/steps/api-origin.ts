import type { AuthProvider, NamedCredential } from '../../definitions/model.ts'
import { salesforceHostKind } from '../../providers/salesforce.ts'

/**
 * True when a Salesforce Named Credential's URL is a login or Lightning/Visualforce host (or the
 * AuthProvider's own login URL), so the API origin must come from the token's `instance_url`
 * (the classic 302 / `INVALID_SESSION_ID` misconfiguration, DESIGN §4).
 *
 * @example
 * needsInstanceOrigin({ ...nc, url: 'https://acme.lightning.force.com' }, sfProvider) // true
 */
export function needsInstanceOrigin(
  nc: NamedCredential,
  provider: AuthProvider | undefined,
): boolean {
  if (provider?.type !== 'salesforce') return false
  // A pure function of two immutable definition objects: computed once per pair.
  const memo = needsInstanceMemo.get(nc)
  if (memo?.provider === provider) return memo.value
  const value = computeNeedsInstanceOrigin(nc, provider)
  needsInstanceMemo.set(nc, { provider, value })
  return value
}

const needsInstanceMemo = new WeakMap<
  NamedCredential,
  { readonly provider: AuthProvider; readonly value: boolean }
>()

function computeNeedsInstanceOrigin(nc: NamedCredential, provider: AuthProvider): boolean {
  return salesforceHostKind(nc.url, provider.loginUrl) !== 'api'
}

/**
 * Pipeline step: swaps the origin of `url` for the token's `instanceUrl` when
 * {@link needsInstanceOrigin}; path and query stay. Otherwise returns `url` unchanged.
 *
 * @example
 * apiOrigin(new URL('https://login.salesforce.com/services/data/'), nc, provider, 'https://acme.my.salesforce.com')
 * // URL https://acme.my.salesforce.com/services/data/
 */
export function apiOrigin(
  url: URL,
  nc: NamedCredential,
  provider: AuthProvider | undefined,
  instanceUrl: string | undefined,
): URL {
  if (instanceUrl === undefined || !needsInstanceOrigin(nc, provider)) return url
  let instance: URL
  try {
    instance = new URL(instanceUrl)
  } catch {
    return url
  }
  if (instance.protocol !== 'https:' && instance.protocol !== url.protocol) return url
  return new URL(`${instance.origin}${url.pathname}${url.search}`)
}
