/**
 * A small part of the SOAP API: `getUserInfo` and `getServerTimestamp` on the partner endpoint
 * (`POST /services/Soap/u/NN.0[/<orgId>]`), and `listMetadata` on the Metadata API
 * (`/services/Soap/m/NN.0[/<orgId>]`; always empty: the org holds no metadata components). The session is the `<sessionId>` of the envelope's
 * `SessionHeader` (never an `Authorization` header); a missing, expired or unknown one is HTTP 500
 * with the fault `sf:INVALID_SESSION_ID`, which jsforce answers with one token refresh. Any other
 * operation, and the other SOAP endpoints (`/c/`, `/T/`), is a `sf:INVALID_OPERATION` fault
 * naming what is emulated.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getuserinfo.htm
 */
import { BodyTooLargeError } from '../http/body.ts'
import type { Call } from '../http/call.ts'
import { sendText } from '../http/respond.ts'

const PARTNER = /^\/services\/Soap\/u\/\d+\.\d+(?:\/[0-9A-Za-z]{15,18})?$/
const METADATA = /^\/services\/Soap\/m\/\d+\.\d+(?:\/[0-9A-Za-z]{15,18})?$/

/** True for a SOAP API path (`/services/Soap/<kind>/…`). */
export function isSoapPath(path: string): boolean {
  return path.startsWith('/services/Soap/')
}

function xmlEscape(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
}

function envelope(body: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
    'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`
  )
}

function sendFault(call: Call, code: string, message: string): void {
  sendText(
    call.res,
    500,
    envelope(
      `<soapenv:Fault><faultcode>${code}</faultcode><faultstring>${xmlEscape(message)}</faultstring></soapenv:Fault>`,
    ),
    'text/xml;charset=UTF-8',
  )
}

/** The text of the first element named `name` (any namespace prefix), or undefined. */
function elementText(xml: string, name: string): string | undefined {
  const match = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}(?:\\s[^>]*)?>([^<]*)</`).exec(xml)
  return match?.[1]
}

/** The operation: the first element inside the envelope's Body. */
function operationOf(xml: string): string | undefined {
  const body = /<(?:[A-Za-z_][\w.-]*:)?Body(?:\s[^>]*)?>\s*<(?:[A-Za-z_][\w.-]*:)?([A-Za-z]+)/.exec(
    xml,
  )
  return body?.[1]
}

/** Answers a request under `/services/Soap/`. */
export async function handleSoap(call: Call): Promise<void> {
  if (call.method !== 'POST') {
    call.req.resume()
    return sendFault(call, 'soapenv:Client', 'The SOAP API takes POST requests only.')
  }
  let xml: string
  try {
    xml = (await call.body()).toString('utf8')
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      return sendFault(call, 'soapenv:Client', 'The SOAP request is too large.')
    }
    throw error
  }
  const session = elementText(xml, 'sessionId')
  const access = session === undefined ? undefined : call.org.tokens.validAccessToken(session)
  if (access === undefined) {
    return sendFault(
      call,
      'sf:INVALID_SESSION_ID',
      'INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session. Session not found, missing session hash',
    )
  }
  call.org.apiUsage++
  const operation = operationOf(xml)
  if (METADATA.test(call.path) && operation === 'listMetadata') {
    // The emulated org holds no metadata components: every listMetadata query is empty.
    return sendText(
      call.res,
      200,
      envelope('<listMetadataResponse xmlns="http://soap.sforce.com/2006/04/metadata"/>'),
      'text/xml;charset=UTF-8',
    )
  }
  if (
    !PARTNER.test(call.path) ||
    (operation !== 'getUserInfo' && operation !== 'getServerTimestamp')
  ) {
    return sendFault(
      call,
      'sf:INVALID_OPERATION',
      `INVALID_OPERATION: the emulator answers getUserInfo and getServerTimestamp on /services/Soap/u/NN.0 and listMetadata on /services/Soap/m/NN.0 only, not ${operation ?? 'this request'} on ${call.path}`,
    )
  }
  if (operation === 'getServerTimestamp') {
    const now = new Date(call.org.clock.now()).toISOString()
    return sendText(
      call.res,
      200,
      envelope(
        `<getServerTimestampResponse><result><timestamp>${now}</timestamp></result></getServerTimestampResponse>`,
      ),
      'text/xml;charset=UTF-8',
    )
  }
  const user = call.org.userById(access.userId)
  const fields: Record<string, string> = {
    organizationId: call.org.orgId,
    organizationName: call.org.name,
    userEmail: user?.email ?? '',
    userFullName: user?.name ?? '',
    userId: access.userId,
    userName: user?.username ?? '',
  }
  const result = Object.entries(fields)
    .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
    .join('')
  sendText(
    call.res,
    200,
    envelope(`<getUserInfoResponse><result>${result}</result></getUserInfoResponse>`),
    'text/xml;charset=UTF-8',
  )
}
