/**
 * URL rules for definitions: https only (http for loopback hosts or behind the loud
 * `allowInsecureHttp` switch), no userinfo, no fragment, and for Named Credential URLs no query.
 */
import { isIP } from 'node:net'

/** What kind of URL is checked; Named Credential URLs are stricter than endpoints. */
export type UrlKind = 'named-credential' | 'endpoint' | 'base'

/** The result of {@link checkUrl}: the normalised URL, or the problems, and whether to warn. */
export type UrlCheck =
  | { readonly ok: true; readonly url: string; readonly insecure: boolean }
  | { readonly ok: false; readonly problems: readonly string[] }

/**
 * True for hosts that never leave the machine, where plain http is allowed: the literal loopback
 * addresses 127.0.0.0/8 and `::1`, and the name `localhost` itself (RFC 6761; resolved from the
 * hosts file, which only root can change). Subdomains such as `api.localhost` are not: a resolver
 * may send them anywhere. `host` is a URL hostname (IPv6 in brackets).
 *
 * @example
 * isLoopbackHost('127.0.0.1')     // true
 * isLoopbackHost('[::1]')         // true
 * isLoopbackHost('api.localhost') // false
 * isLoopbackHost('10.0.0.1')      // false
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1'
  return false
}

const HOST_PATTERN =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/

/**
 * True for a lower-case `host` or `host:port` (port 1–65535), the form of an `allowedHosts` entry:
 * no scheme, no path, no userinfo.
 *
 * @example
 * isHostAndPort('api.example.com:8443') // true
 * isHostAndPort('https://api.example.com') // false
 */
export function isHostAndPort(value: string): boolean {
  const match = HOST_PATTERN.exec(value)
  if (match === null) return false
  const port = match[1] === undefined ? undefined : Number(match[1])
  return port === undefined || (port >= 1 && port <= 65_535)
}

/**
 * True for a lower-case host name or bracketed IPv6 address without a port.
 *
 * @example
 * isHost('acme.my.salesforce.com') // true
 * isHost('acme.my.salesforce.com:443') // false
 */
export function isHost(value: string): boolean {
  const match = HOST_PATTERN.exec(value)
  return match !== null && match[1] === undefined
}

/**
 * Checks and normalises a URL from a definition. A trailing `/` is removed from the path
 * (`https://api.example.com/v1/` → `https://api.example.com/v1`, `https://h/` → `https://h`) so
 * that `callout:Name/path` joins the same way whichever form was written.
 *
 * - `named-credential`: path allowed; no query, fragment or userinfo.
 * - `base` (Salesforce login host, OIDC issuer): path allowed; no query, fragment or userinfo.
 * - `endpoint` (authorize/token/… URLs): query allowed; no fragment or userinfo.
 *
 * @example
 * checkUrl('https://api.example.com/v1/', 'named-credential', false)
 * // { ok: true, url: 'https://api.example.com/v1', insecure: false }
 */
export function checkUrl(value: string, kind: UrlKind, allowInsecureHttp: boolean): UrlCheck {
  if (/[\s\\\u0000-\u001f\u007f]/.test(value)) {
    return {
      ok: false,
      problems: [
        'contains whitespace, a backslash or a control character — write a plain absolute URL such as https://api.example.com/v1',
      ],
    }
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return {
      ok: false,
      problems: ['is not an absolute URL — write it as https://host[:port][/path]'],
    }
  }
  const problems: string[] = []
  let insecure = false
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) {
      if (allowInsecureHttp) insecure = true
      else
        problems.push(
          `uses http:// for the non-loopback host ${url.hostname} — use https://, or set allowInsecureHttp: true on this definition if you really mean plaintext`,
        )
    }
  } else if (url.protocol !== 'https:') {
    problems.push(`uses the scheme ${url.protocol.slice(0, -1)} — only https:// URLs are allowed`)
  }
  if (url.username !== '' || url.password !== '') {
    problems.push(
      'contains userinfo (user:password@) — remove it; put credentials in an ExternalCredential principal',
    )
  }
  if (url.hash !== '' || value.includes('#')) {
    problems.push('contains a fragment (#…) — remove it')
  }
  if (kind !== 'endpoint' && (url.search !== '' || value.includes('?'))) {
    problems.push(
      kind === 'named-credential'
        ? 'contains a query (?…) — remove it; add the query to each callout:Name/path?query instead'
        : 'contains a query (?…) — remove it',
    )
  }
  if (problems.length > 0) return { ok: false, problems }
  const path = url.pathname.replace(/\/+$/, '')
  return { ok: true, url: `${url.origin}${path}${kind === 'endpoint' ? url.search : ''}`, insecure }
}
