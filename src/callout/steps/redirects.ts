import type { RedirectPolicy } from '../../definitions/model.ts'

/** Redirect statuses the pipeline may follow. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

/** Where a redirect may go with credentials. */
export interface RedirectTrust {
  readonly policy: RedirectPolicy
  /** Origins that are trusted: the callout's own origin, and the token's `instance_url` origin. */
  readonly origins: ReadonlySet<string>
  /** Extra hosts (`host` or `host:port`) from the Named Credential's `allowedHosts`. */
  readonly allowedHosts: readonly string[]
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

/**
 * Pipeline step 5 as a pure function: follow a redirect only when the policy is
 * `follow-trusted`, `Location` parses, and its target is a trusted origin or an allowed host
 * (never a downgrade from https to http, never with userinfo). 307/308 keep method and body; 303 becomes GET
 * (HEAD stays HEAD); 301/302 turn POST into GET without a body (fetch semantics). Anything else
 * is returned to the caller untouched, so credentials never cross to another origin.
 *
 * @example
 * redirectDecision(302, 'https://api.example.com/v2', new URL('https://api.example.com/v1'), 'GET', trust)
 * // { follow: true, url: URL https://api.example.com/v2, method: 'GET', dropBody: false }
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
  const trusted =
    trust.origins.has(url.origin) ||
    trust.allowedHosts.some((h) => h.toLowerCase() === url.host || h.toLowerCase() === url.hostname)
  if (!trusted) return { follow: false }
  if (status === 307 || status === 308) return { follow: true, url, method, dropBody: false }
  if (status === 303) {
    return { follow: true, url, method: method === 'HEAD' ? 'HEAD' : 'GET', dropBody: true }
  }
  if (method === 'POST') return { follow: true, url, method: 'GET', dropBody: true }
  return { follow: true, url, method, dropBody: false }
}
