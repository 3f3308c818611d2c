/** Reads the access token from `Authorization: Bearer <t>` or the legacy `Authorization: OAuth <t>`. */
import type { IncomingMessage } from 'node:http'

/** The presented token, or undefined when there is none. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  if (header !== undefined) {
    const match = /^(?:bearer|oauth)\s+(\S+)\s*$/i.exec(header)
    if (match !== null) return match[1]
  }
  const session = req.headers['x-sfdc-session']
  return typeof session === 'string' && session !== '' ? session : undefined
}
