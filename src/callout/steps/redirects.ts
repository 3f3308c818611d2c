import type { RedirectPolicy } from '../../definitions/model.ts'
import { isWithinBasePath } from '../callout-url.ts'

/** Redirect statuses the pipeline may follow. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

/** An origin and the base path under which a redirect keeps its credentials. */
export interface TrustedPlace {
  /** `scheme://host[:port]`, as `URL.origin` writes it. */
  readonly origin: string
  /** The Named Credential's path without a trailing `/` (`''` for the whole origin). */
  readonly basePath: string
}

/** Where a redirect may go with credentials. */
export interface RedirectTrust {
  readonly policy: RedirectPolicy
  /**
   * The credential's own places: its URL's origin and, for Salesforce, the token's
   * `instance_url` origin, each with the Named Credential's base path.
   */
  readonly places: readonly TrustedPlace[]
  /** The Named Credential's `allowRedirectsOutsideBasePath`: the base path is not enforced. */
  readonly outsideBasePath: boolean
  /**
   * Extra hosts (`host` or `host:port`, lower case, IPv6 in brackets) from the Named Credential's
   * `allowedHosts`; a bare host means `defaultPort`.
   */
  readonly allowedHosts: readonly string[]
  /** The Named Credential URL's port (`'443'` for https without a port). */
  readonly defaultPort: string
}

/** What to do with a response to the current request. */
export type RedirectDecision =
  | { readonly follow: false }
  | {
      readonly follow: true
      readonly url: URL
      readonly method: string
      readonly dropBody: boolean
    }

/** A redirect the pipeline follows: where the next hop goes, with which method and body. */
export type FollowedRedirect = Extract<RedirectDecision, { readonly follow: true }>

/**
 * The port a URL connects to: its explicit port, else its scheme's default.
 *
 * @example
 * effectivePort(new URL('https://api.example.com/')) // '443'
 */
export function effectivePort(url: URL): string {
  return url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80'
}

/** True when `url` is on an `allowedHosts` entry: host and port (a bare host: `defaultPort`). */
function isAllowedHost(url: URL, allowedHosts: readonly string[], defaultPort: string): boolean {
  if (allowedHosts.length === 0) return false
  const port = effectivePort(url)
  return allowedHosts.some((entry) => {
    const match = /^(.*?)(?::(\d+))?$/.exec(entry.toLowerCase())
    // `[::1]` has colons inside the brackets, which the lazy host part keeps.
    return match?.[1] === url.hostname && (match[2] ?? defaultPort) === port
  })
}

function isTrusted(url: URL, trust: RedirectTrust): boolean {
  for (const place of trust.places) {
    if (place.origin !== url.origin) continue
    if (trust.outsideBasePath || isWithinBasePath(url.pathname, place.basePath)) return true
  }
  return isAllowedHost(url, trust.allowedHosts, trust.defaultPort)
}

/**
 * Pipeline step 5 as a pure function: follow a redirect only when the policy is
 * `follow-trusted`, `Location` parses, and its target is inside the credential's base path on a
 * trusted origin (anywhere on it with `allowRedirectsOutsideBasePath`), or on an `allowedHosts`
 * host and port — never a downgrade from https to http, never with userinfo. 307/308 keep method
 * and body; 303 becomes GET (HEAD stays HEAD); 301/302 turn POST into GET without a body (fetch
 * semantics). Anything else is returned to the caller untouched, so credentials never cross to
 * another origin or out of the base path.
 *
 * @example
 * redirectDecision(302, '/v1/items?page=2', new URL('https://api.example.com/v1/items'), 'GET', trust)
 * // { follow: true, url: URL https://api.example.com/v1/items?page=2, method: 'GET', dropBody: false }
 */
export function redirectDecision(
  status: number,
  location: string | string[] | undefined,
  current: URL,
  method: string,
  trust: RedirectTrust,
): RedirectDecision {
  if (trust.policy === 'manual' || !REDIRECT_STATUSES.has(status)) return { follow: false }
  if (typeof location !== 'string' || location === '') return { follow: false }
  let url: URL
  try {
    url = new URL(location, current)
  } catch {
    return { follow: false }
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { follow: false }
  if (url.username !== '' || url.password !== '') return { follow: false }
  if (current.protocol === 'https:' && url.protocol === 'http:') return { follow: false }
  url.hash = ''
  if (!isTrusted(url, trust)) return { follow: false }
  if (status === 307 || status === 308) return { follow: true, url, method, dropBody: false }
  if (status === 303) {
    return { follow: true, url, method: method === 'HEAD' ? 'HEAD' : 'GET', dropBody: true }
  }
  if (method === 'POST') return { follow: true, url, method: 'GET', dropBody: true }
  return { follow: true, url, method, dropBody: false }
}
