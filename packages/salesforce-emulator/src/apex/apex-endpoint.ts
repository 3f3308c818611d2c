/**
 * Apex REST (`/services/apexrest/...`): answers from the routes registered on the org with
 * `registerApexRoute(method, pattern, handler)`; unknown → 404 `Could not find a match for URL …`;
 * a thrown error → 500 `APEX_ERROR`. Non-JSON bodies reach the handler as text.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.apexcode.meta/apexcode/apex_rest_intro.htm
 */
import type { Call } from '../http/call.ts'
import { readJsonBody } from '../http/json-body.ts'
import { sendErrors, sendJson } from '../http/respond.ts'
import type { AccessTokenRecord } from '../org/token-store.ts'

/** Answers an authenticated request under `/services/apexrest`. */
export async function handleApex(
  call: Call,
  access: AccessTokenRecord,
  headers: Record<string, string>,
): Promise<void> {
  const parsed = await readJsonBody(call, headers, true)
  if (!parsed.ok) return
  const path = call.path.slice('/services/apexrest'.length) || '/'
  const handler = call.org.apex.match(call.method, path)
  if (handler === undefined) {
    return sendErrors(call.res, 404, 'NOT_FOUND', `Could not find a match for URL ${path}`, headers)
  }
  if (handler === 'method-not-allowed') {
    return sendErrors(
      call.res,
      405,
      'METHOD_NOT_ALLOWED',
      `HTTP Method '${call.method}' not allowed`,
      headers,
    )
  }
  const user = call.org.userById(access.userId)
  let answer
  try {
    answer = await handler({
      method: call.method,
      path,
      query: call.query,
      headers: call.req.headers,
      body: parsed.body,
      user: { id: access.userId, username: user?.username ?? '' },
    })
  } catch (err) {
    const message = err instanceof Error ? err.message : 'Script-thrown exception'
    return sendErrors(
      call.res,
      500,
      'APEX_ERROR',
      `System.UnexpectedException: ${message}`,
      headers,
    )
  }
  sendJson(call.res, answer.status ?? 200, answer.body, { ...(answer.headers ?? {}), ...headers })
}
