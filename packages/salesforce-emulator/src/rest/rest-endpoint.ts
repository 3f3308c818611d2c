/**
 * The REST resources under `/services/data/vNN.0` for an authenticated caller: the resource map,
 * `/limits`, and the data resources (sObjects, query, composite). Unknown versions are 404
 * `NOT_FOUND`.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_list.htm
 */
import type { Call } from '../http/call.ts'
import { readJsonBody } from '../http/json-body.ts'
import { sendErrors, sendJson } from '../http/respond.ts'
import type { AccessTokenRecord } from '../org/token-store.ts'
import { parseVersionSegment } from '../http/api-versions.ts'
import { handleDataRequest } from './data-api.ts'
import { limitsDocument } from './limits.ts'
import { resourceMap } from './resource-map.ts'

const NOT_FOUND = 'The requested resource does not exist'

/** Answers an authenticated request under `/services/data/`; `limitHeader` goes on every answer. */
export async function handleRestResource(
  call: Call,
  access: AccessTokenRecord,
  limitHeader: Record<string, string>,
): Promise<void> {
  const { org, res } = call
  const parsed = await readJsonBody(call, limitHeader, false)
  if (!parsed.ok) return
  const segments = call.path.split('/')
  const version = parseVersionSegment(segments[3] ?? '')
  if (!call.path.startsWith('/services/data/') || version === undefined) {
    return sendErrors(res, 404, 'NOT_FOUND', NOT_FOUND, limitHeader)
  }
  const rest = `/${segments.slice(4).join('/')}`
  if (rest === '/') {
    if (call.method !== 'GET' && call.method !== 'HEAD')
      return methodNotAllowed(call, 'GET,HEAD', limitHeader)
    return sendJson(res, 200, resourceMap(version, org.identityUrl(access.userId)), limitHeader)
  }
  if (rest === '/limits') {
    if (call.method !== 'GET' && call.method !== 'HEAD')
      return methodNotAllowed(call, 'GET,HEAD', limitHeader)
    return sendJson(res, 200, limitsDocument(org.apiUsage, org.dailyApiLimit), limitHeader)
  }
  const headers: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(call.req.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value
  }
  const answer = handleDataRequest(
    org.data,
    { method: call.method, path: rest, query: call.query, body: parsed.body, version, headers },
    { userId: access.userId },
  )
  sendJson(res, answer.status, answer.body, { ...(answer.headers ?? {}), ...limitHeader })
}

function methodNotAllowed(call: Call, allowed: string, headers: Record<string, string>): void {
  sendErrors(
    call.res,
    405,
    'METHOD_NOT_ALLOWED',
    `HTTP Method '${call.method}' not allowed. Allowed are ${allowed}`,
    { ...headers, allow: allowed },
  )
}
