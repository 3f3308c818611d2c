/**
 * Bulk API 1.0 (`/services/async/NN.0/…`, XML) is not emulated: every request answers at once in
 * the v1 error shape, `<error><exceptionCode>…</exceptionCode><exceptionMessage>…</…></error>`
 * (JSON `{exceptionCode, exceptionMessage}` when the request is JSON), so a v1 client fails fast
 * with a message that names Bulk API 2.0. A missing or invalid session (the `X-SFDC-Session`
 * header; Bulk API 1.0 reads no `Authorization` header) is `InvalidSessionId`
 * (HTTP 400), which jsforce answers with one token refresh; a valid one is `FeatureNotEnabled`.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/asynch_api_reference_errors.htm
 */
import { mediaType } from '../http/body.ts'
import type { Call } from '../http/call.ts'
import { sendText } from '../http/respond.ts'

/** The message of a v1 request with a valid session. */
export const BULK_V1_MESSAGE =
  'Bulk API 1.0 (/services/async) is not emulated; use Bulk API 2.0 (/services/data/vNN.0/jobs/ingest and /jobs/query)'

/** True for a Bulk API 1.0 path. */
export function isBulkV1Path(path: string): boolean {
  return path === '/services/async' || path.startsWith('/services/async/')
}

function xmlEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

/** Answers any Bulk API 1.0 request with the v1 error shape. */
export function handleBulkV1(call: Call): void {
  call.req.resume()
  // Bulk API 1.0 reads the session from X-SFDC-Session only (never Authorization).
  const token = call.req.headers['x-sfdc-session']
  const valid = typeof token === 'string' && call.org.tokens.validAccessToken(token) !== undefined
  const code = valid ? 'FeatureNotEnabled' : 'InvalidSessionId'
  const message = valid ? BULK_V1_MESSAGE : 'Invalid session id'
  if (mediaType(call.req.headers['content-type']) === 'application/json') {
    sendText(
      call.res,
      400,
      JSON.stringify({ exceptionCode: code, exceptionMessage: message }),
      'application/json;charset=UTF-8',
    )
    return
  }
  sendText(
    call.res,
    400,
    `<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload"><exceptionCode>${code}</exceptionCode><exceptionMessage>${xmlEscape(message)}</exceptionMessage></error>`,
    'application/xml;charset=UTF-8',
  )
}
