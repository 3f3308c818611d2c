/**
 * The API gateway in front of every API family: `/services/data` (versions, no authentication),
 * then for everything else under `/services/data/vNN.0` and `/services/apexrest`: fault
 * switches, authentication (401 `INVALID_SESSION_ID` only for a bad token) and API limits, then
 * dispatch to the family (Apex REST, Bulk API 2.0, the REST resources). Every answer after the versions list
 * carries `Sforce-Limit-Info`.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
 */
import { handleApex } from '../apex/apex-endpoint.ts'
import { handleBulk, isBulkPath } from '../bulk/bulk-endpoint.ts'
import { bearerToken } from '../http/bearer.ts'
import type { Call } from '../http/call.ts'
import { redirect, sendErrors, sendJson } from '../http/respond.ts'
import { apiVersions } from '../http/api-versions.ts'
import { handleRestResource } from '../rest/rest-endpoint.ts'
import {
  BLOCKED_SESSION_MESSAGE,
  MISSING_API_SCOPE_MESSAGE,
  sendInvalidSession,
  sendUnknownException,
} from './rest-errors.ts'

/** Answers a request under `/services/data` or `/services/apexrest`. */
export async function handleApi(call: Call): Promise<void> {
  const { org, res } = call
  if (call.path === '/services/data') {
    sendJson(res, 200, apiVersions())
    return
  }
  const limitHeader = (): Record<string, string> => ({
    'sforce-limit-info': `api-usage=${org.apiUsage}/${org.dailyApiLimit}`,
  })
  const injected = org.faults.takeFailure('rest')
  if (injected !== undefined) {
    if (injected >= 500 && injected !== 503) return sendUnknownException(res, limitHeader())
    const code = injected === 503 ? 'SERVER_UNAVAILABLE' : 'UNKNOWN_EXCEPTION'
    return sendErrors(
      res,
      injected,
      code,
      'Injected failure (emulator fault switch)',
      limitHeader(),
    )
  }
  if (org.faults.restRedirect !== undefined) {
    return redirect(res, `${org.faults.restRedirect}${call.path}${call.search}`)
  }
  const token = bearerToken(call.req)
  const access = token === undefined ? undefined : org.tokens.validAccessToken(token)
  if (access === undefined) return sendInvalidSession(res, limitHeader())
  if (org.faults.blockedSession)
    return sendErrors(res, 401, 'INVALID_SESSION_ID', BLOCKED_SESSION_MESSAGE, limitHeader())
  if (!access.scopes.includes('api') && !access.scopes.includes('full')) {
    return sendErrors(res, 401, 'INVALID_SESSION_ID', MISSING_API_SCOPE_MESSAGE, limitHeader())
  }
  org.apiUsage++
  if (org.faults.rateLimited || org.apiUsage > org.dailyApiLimit) {
    return sendErrors(
      res,
      403,
      'REQUEST_LIMIT_EXCEEDED',
      'TotalRequests Limit exceeded.',
      limitHeader(),
    )
  }
  if (call.path.startsWith('/services/apexrest')) return handleApex(call, access, limitHeader())
  if (isBulkPath(call.path)) return handleBulk(call, access, limitHeader())
  return handleRestResource(call, access, limitHeader())
}
