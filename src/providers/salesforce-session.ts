/**
 * Salesforce sessions as API responses show them: which REST and SOAP error bodies mean "the
 * session expired or is invalid" (a refresh may help) and which mean "this session is not valid
 * for the REST API" (a scope problem a refresh cannot fix). Used by the pipeline's refresh
 * trigger and by `callout doctor`.
 */

/** Salesforce's "This session is not valid for use with the (specified) REST API" text. */
export const NOT_VALID_FOR_API = /this session is not valid for use with the (specified )?rest api/i

function restErrors(body: unknown): { errorCode: string; message: string }[] {
  let value = body
  if (typeof body === 'string') {
    if (body.length > 65_536) return []
    try {
      value = JSON.parse(body)
    } catch {
      return []
    }
  } else if (body instanceof Uint8Array) {
    if (body.byteLength > 65_536) return []
    return restErrors(Buffer.from(body).toString('utf8'))
  }
  if (!Array.isArray(value)) return []
  return value.flatMap((item: unknown) => {
    if (typeof item !== 'object' || item === null) return []
    const { errorCode, message } = item as Record<string, unknown>
    return typeof errorCode === 'string'
      ? [{ errorCode, message: typeof message === 'string' ? message : '' }]
      : []
  })
}

/**
 * True when a REST error body (`[{"message","errorCode":"INVALID_SESSION_ID"}]`, as text, bytes
 * or parsed) says the session expired or is invalid — a refresh may help. False for "This
 * session is not valid for use with the REST API" (a scope problem; see
 * {@link isSessionNotValidForApi}) and for anything not shaped like a Salesforce error array.
 */
export function isInvalidSessionBody(body: unknown): boolean {
  return restErrors(body).some(
    (e) => e.errorCode === 'INVALID_SESSION_ID' && !NOT_VALID_FOR_API.test(e.message),
  )
}

/**
 * True when the body is Salesforce's `INVALID_SESSION_ID` "This session is not valid for use
 * with the (specified) REST API …": the token lacks the `api`/`full` scope; refreshing will not
 * help.
 */
export function isSessionNotValidForApi(body: unknown): boolean {
  return restErrors(body).some(
    (e) => e.errorCode === 'INVALID_SESSION_ID' && NOT_VALID_FOR_API.test(e.message),
  )
}

/**
 * True when a SOAP fault says the session is invalid: Salesforce SOAP faults carry the code as
 * XML text (`<sf:exceptionCode>INVALID_SESSION_ID</sf:exceptionCode>`).
 *
 * @example
 * isSoapInvalidSession('<sf:exceptionCode>INVALID_SESSION_ID</sf:exceptionCode>') // true
 */
export function isSoapInvalidSession(text: string): boolean {
  return /<(?:\w+:)?exceptionCode>\s*INVALID_SESSION_ID\s*</.test(text)
}
