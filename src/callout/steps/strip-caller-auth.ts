/** Headers a caller may never set: credentials, and hop-by-hop headers the transport owns. */
export const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
])

/**
 * Pipeline step: drops the caller's own `Authorization` and `Proxy-Authorization` (the broker
 * supplies credentials; a caller's header must never reach the upstream or mix with ours) and
 * hop-by-hop headers, including those the caller's `Connection` header names. Mutates and returns
 * `headers` (lower-case names).
 *
 * @example
 * stripCallerAuth({ authorization: 'Bearer mine', accept: 'application/json' })
 * // { accept: 'application/json' }
 */
export function stripCallerAuth(headers: Record<string, string>): Record<string, string> {
  const connection = headers.connection
  if (connection !== undefined) {
    for (const name of connection.split(',')) delete headers[name.trim().toLowerCase()]
  }
  // Visit the caller's few headers rather than deleting all eleven names: `delete` of an absent
  // key still costs, and an object with nothing to drop keeps its fast shape.
  for (const name in headers) if (DROPPED_REQUEST_HEADERS.has(name)) delete headers[name]
  return headers
}
