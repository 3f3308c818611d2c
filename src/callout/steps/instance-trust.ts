import type { AuthProvider } from '../../definitions/model.ts'
import { CalloutError } from '../../errors.ts'

/**
 * True when `host` matches a `trustedInstanceHosts` pattern: the same host, or for `*.domain`
 * any host that ends with `.domain` (not `domain` itself).
 *
 * @example
 * matchesHostPattern('acme.my.salesforce.com', '*.my.salesforce.com') // true
 * matchesHostPattern('my.salesforce.com', '*.my.salesforce.com')      // false
 */
export function matchesHostPattern(host: string, pattern: string): boolean {
  const h = host.toLowerCase()
  const p = pattern.toLowerCase()
  if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && h.length > p.length - 1
  return h === p
}

/**
 * The origin of a token's `instance_url` that Callout may send the credential to, or `undefined`:
 * only a Salesforce AuthProvider's `instance_url` is trusted (other providers' tokens may carry
 * one, but nothing vouches for it), and with `trustedInstanceHosts` set only on a matching host.
 *
 * @example
 * trustedInstanceOrigin(salesforceProvider, 'https://acme.my.salesforce.com') // 'https://acme.my.salesforce.com'
 * trustedInstanceOrigin(oidcProvider, 'https://acme.my.salesforce.com')       // undefined
 */
export function trustedInstanceOrigin(
  provider: AuthProvider | undefined,
  instanceUrl: string | undefined,
): string | undefined {
  if (instanceUrl === undefined || provider?.type !== 'salesforce') return undefined
  let url: URL
  try {
    url = new URL(instanceUrl)
  } catch {
    return undefined
  }
  const patterns = provider.trustedInstanceHosts
  if (patterns !== undefined && !patterns.some((p) => matchesHostPattern(url.hostname, p))) {
    return undefined
  }
  return url.origin
}

/**
 * The error for a Salesforce token whose `instance_url` is outside the AuthProvider's
 * `trustedInstanceHosts`: the callout would send the token there, so nothing is sent.
 *
 * @example
 * throw untrustedInstance('Salesforce', provider, 'https://evil.example')
 */
export function untrustedInstance(
  namedCredential: string,
  provider: AuthProvider,
  instanceUrl: string,
): CalloutError {
  let host = 'an unparsable URL'
  try {
    host = new URL(instanceUrl).host
  } catch {
    // keep the placeholder
  }
  return new CalloutError(
    'INSTANCE_URL_UNTRUSTED',
    `The token for ${namedCredential} names the instance ${host}, which is not in AuthProvider ${provider.name}'s trustedInstanceHosts; nothing was sent. Add the org's host to trustedInstanceHosts if it is yours, or re-authenticate the principal.`,
    { details: { namedCredential, authProvider: provider.name, instanceHost: host } },
  )
}
