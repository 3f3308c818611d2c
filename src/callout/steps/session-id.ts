import type { OutboundRequest } from '../types.ts'

/**
 * Where the access token goes besides `Authorization`, for Salesforce APIs that read the session
 * elsewhere: Bulk API 1.0 reads the `X-SFDC-Session` header, SOAP and the Metadata API read the
 * `<sessionId>` of the envelope's `SessionHeader`.
 */
export interface SessionIdPlacement {
  /** A header (lower case) that gets the bare access token, e.g. `x-sfdc-session`. */
  readonly header?: string
  /**
   * A marker in the request body, a `string` or bytes, replaced by the access token (XML-escaped).
   * Choose one that cannot occur elsewhere in the body (a random value).
   */
  readonly bodyMarker?: string
}

const XML_ESCAPES: Readonly<Record<string, string>> = Object.freeze({
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
})

/**
 * Text as XML character data or an attribute value: `&`, `<`, `>`, `"` and `'` escaped.
 *
 * @example
 * xmlEscape('a&b') // 'a&amp;b'
 */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c)
}

/**
 * Pipeline step 2b (after authentication): copies the bearer token of the authenticated request
 * into `placement.header` and in place of `placement.bodyMarker`. A request without a bearer
 * token (a credential that is not OAuth 2.0) is returned unchanged.
 *
 * @example
 * placeSessionId(authed, { header: 'x-sfdc-session' }).headers['x-sfdc-session'] // '00D…!…'
 */
export function placeSessionId(
  request: OutboundRequest,
  placement: SessionIdPlacement,
): OutboundRequest {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')
  const token = match?.[1]
  if (token === undefined) return request
  const headers =
    placement.header === undefined
      ? request.headers
      : { ...request.headers, [placement.header]: token }
  const marker = placement.bodyMarker
  const body = request.body
  if (
    marker === undefined ||
    marker === '' ||
    (typeof body !== 'string' && !(body instanceof Uint8Array))
  ) {
    return { ...request, headers }
  }
  const escaped = xmlEscape(token)
  const bytes =
    typeof body === 'string'
      ? Buffer.from(body)
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const at = bytes.indexOf(marker)
  if (at === -1) return { ...request, headers }
  const replaced = Buffer.concat([
    bytes.subarray(0, at),
    Buffer.from(escaped),
    bytes.subarray(at + Buffer.byteLength(marker)),
  ])
  return { ...request, headers, body: replaced }
}
