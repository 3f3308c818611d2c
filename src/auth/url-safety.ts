/**
 * URL checks shared by the protocol functions: loopback detection and the decision to let
 * oauth4webapi talk plain http (its loud `allowInsecureRequests` switch).
 */

import { isLoopbackHost } from '../definitions/url-rules.ts'

/** True when `url` points at this machine: `localhost`, `127.0.0.0/8`, `[::1]` (see `isLoopbackHost`). */
export function isLoopbackUrl(url: URL): boolean {
  return isLoopbackHost(url.hostname)
}

/**
 * True when oauth4webapi may send to `url` over plain http: only for loopback hosts, or when
 * the AuthProvider carries the loud `allowInsecureHttp` switch. Always false for https.
 */
export function mayUseInsecureHttp(url: string | URL, allowInsecureHttp: boolean): boolean {
  const parsed = typeof url === 'string' ? new URL(url) : url
  if (parsed.protocol !== 'http:') return false
  return allowInsecureHttp || isLoopbackUrl(parsed)
}

/**
 * True when `url` is an acceptable absolute server URL: https, or http on loopback (or with
 * `allowInsecureHttp`); no userinfo.
 */
export function isAcceptableServerUrl(url: URL, allowInsecureHttp = false): boolean {
  if (url.username !== '' || url.password !== '') return false
  if (url.protocol === 'https:') return true
  return url.protocol === 'http:' && (allowInsecureHttp || isLoopbackUrl(url))
}
