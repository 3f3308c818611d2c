/**
 * Proxy hygiene for headers (RFC 9110 §7.6.1): hop-by-hop headers belong to one connection and
 * are never forwarded, in either direction — the fixed list and every header the `Connection`
 * header names.
 */

/** Hop-by-hop headers, always removed (RFC 9110 §7.6.1, plus the de facto `proxy-connection`). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
])

/** Header values as Node and undici report them. */
export type HeaderValues = Record<string, string | string[] | undefined>

/**
 * The header names the `Connection` header lists (lower case), e.g. `close, x-secret` →
 * `{ 'close', 'x-secret' }`.
 *
 * @example
 * connectionNamed({ connection: 'keep-alive, X-Hop' }) // Set { 'keep-alive', 'x-hop' }
 */
export function connectionNamed(headers: HeaderValues): Set<string> {
  const named = new Set<string>()
  const value = headers.connection
  for (const line of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
    for (const name of line.split(',')) {
      const trimmed = name.trim().toLowerCase()
      if (trimmed !== '') named.add(trimmed)
    }
  }
  return named
}

/**
 * Copies `headers` without hop-by-hop headers (the fixed list and those named by `Connection`)
 * and without the names in `drop`. Names are lower case in the result.
 *
 * @example
 * withoutHopByHop({ connection: 'x-hop', 'x-hop': '1', accept: '*\/*' }) // { accept: '*\/*' }
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
export function withoutHopByHop(
  headers: HeaderValues,
  drop: ReadonlySet<string> = EMPTY,
): Record<string, string | string[]> {
  const connection = headers.connection
  const named =
    connection === undefined
      ? EMPTY
      : typeof connection === 'string'
        ? namedBy(connection)
        : connectionNamed(headers)
  const out: Record<string, string | string[]> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    const key = name.toLowerCase()
    if (HOP_BY_HOP.has(key) || named.has(key) || drop.has(key)) continue
    out[key] = value
  }
  return out
}

const EMPTY: ReadonlySet<string> = new Set()

/**
 * {@link connectionNamed} of one `Connection` value, memoised: nearly every message carries one of
 * a few values (`keep-alive`, `close`). Bounded: values up to 64 characters, emptied when it
 * holds 256 of them.
 */
const NAMED_BY = new Map<string, ReadonlySet<string>>()

/**
 * The header names one `Connection` value lists (lower case), memoised for the usual values.
 *
 * @example
 * namedBy('keep-alive, X-Hop') // Set { 'keep-alive', 'x-hop' }
 */
export function namedBy(value: string): ReadonlySet<string> {
  if (value.length > 64) return connectionNamed({ connection: value })
  let named = NAMED_BY.get(value)
  if (named === undefined) {
    named = connectionNamed({ connection: value })
    if (NAMED_BY.size >= 256) NAMED_BY.clear()
    NAMED_BY.set(value, named)
  }
  return named
}

/**
 * Appends this proxy to a `Via` header value (RFC 9110 §7.6.3).
 *
 * @example
 * appendVia('1.1 edge', '1.1 callout-3f2a') // '1.1 edge, 1.1 callout-3f2a'
 */
export function appendVia(existing: string | string[] | undefined, hop: string): string {
  const prior = Array.isArray(existing) ? existing.join(', ') : existing
  return prior === undefined || prior === '' ? hop : `${prior}, ${hop}`
}

/**
 * True when a `Via` header already names `pseudonym` (this proxy instance): the request is
 * looping through it.
 *
 * @example
 * viaNames('1.1 callout-3f2a, 1.1 edge', 'callout-3f2a') // true
 */
export function viaNames(via: string | string[] | undefined, pseudonym: string): boolean {
  if (via === undefined) return false
  const value = Array.isArray(via) ? via.join(',') : via
  return value.split(',').some((hop) => hop.trim().split(/\s+/)[1] === pseudonym)
}
