/**
 * The REST data resources of `/services/data/vNN.0`: sObjects, describe, SOQL query/queryAll
 * with locators, and composite. Pure and synchronous: the API gateway strips
 * `/services/data/vNN.0`, authenticates the caller and hands the rest to
 * {@link handleDataRequest}.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
 */

import type { RequestContext } from '../data/context.ts'
import { toErrorResponse, unknownException } from '../data/errors.ts'
import { toId18 } from '../data/ids.ts'
import type { OrgData } from '../data/org-data.ts'
import type { Route } from '../http/route-types.ts'
import { routeSafely } from '../http/router.ts'
import { SEARCH_ROUTES } from '../search/search-routes.ts'
import { TOOLING_ROUTES } from '../tooling/tooling-routes.ts'
import { CHANGE_TRACKING_ROUTES } from './change-tracking.ts'
import { compositeBatchRoutes } from './composite-batch.ts'
import { compositeRoutes, splitPath, type Dispatch } from './composite-routes.ts'
import { COMPOSITE_TREE_ROUTES } from './composite-tree.ts'
import { QUERY_ROUTES } from './query-routes.ts'
import { RECENT_ROUTES } from './recent-routes.ts'
import { SOBJECT_ROUTES } from './sobject-routes.ts'

/** One REST data request, already authenticated, with the `/services/data/vNN.0` prefix removed. */
export interface DataRequest {
  /** HTTP method, any case. */
  method: string
  /** The part after `/services/data/vNN.0`, e.g. `/sobjects/Account/001…` or `/query`. */
  path: string
  /** The decoded query string. */
  query: URLSearchParams
  /** The parsed JSON body, or undefined when the request had none. */
  body: unknown
  /** The API version of the request, e.g. `'61.0'`. */
  version: string
  /** Optional request headers (lower-case names); only `sforce-query-options` is read. */
  headers?: Record<string, string | undefined>
}

/** The answer to a {@link DataRequest}. */
export interface DataResponse {
  /** HTTP status code. */
  status: number
  /** JSON-serialisable body; undefined means no body (204). */
  body?: unknown
  /** Extra response headers, e.g. `Location`. */
  headers?: Record<string, string>
}

const ROUTES: Route[] = [
  ...CHANGE_TRACKING_ROUTES,
  ...SOBJECT_ROUTES,
  ...QUERY_ROUTES,
  ...SEARCH_ROUTES,
  ...RECENT_ROUTES,
  ...TOOLING_ROUTES,
]
const dispatch: Dispatch = (ctx, req) => routeSafely(ROUTES, ctx, req)
ROUTES.push(
  ...COMPOSITE_TREE_ROUTES,
  ...compositeBatchRoutes(dispatch),
  ...compositeRoutes(dispatch),
)

function lowerCaseHeaders(headers: DataRequest['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v
  return out
}

/**
 * Handles one REST data request of `data` for the acting user. Never throws: bad input answers a
 * Salesforce error array, anything unexpected 500 `UNKNOWN_EXCEPTION`.
 *
 * @example
 * handleDataRequest(org.data, { method: 'GET', path: '/query', version: '61.0', body: undefined,
 *   query: new URLSearchParams({ q: 'SELECT Name FROM Organization' }) }, { userId })
 */
export function handleDataRequest(
  data: OrgData,
  req: DataRequest,
  ctx: { userId: string },
): DataResponse {
  try {
    let method = req.method.toUpperCase()
    const override = req.query.get('_HttpMethod')
    if (method === 'POST' && override !== null) method = override.toUpperCase()
    const rctx: RequestContext = {
      org: data.context,
      version: req.version.replace(/^v/i, ''),
      userId: toId18(ctx.userId) ?? ctx.userId,
      headers: lowerCaseHeaders(req.headers),
    }
    const res = routeSafely(ROUTES, rctx, {
      method,
      segments: splitPath(req.path),
      query: req.query,
      body: req.body,
    })
    const out: DataResponse = { status: res.status }
    if (res.body !== undefined) out.body = res.body
    if (res.headers !== undefined && Object.keys(res.headers).length > 0) out.headers = res.headers
    return out
  } catch (err) {
    return toErrorResponse(unknownException(err))
  }
}
