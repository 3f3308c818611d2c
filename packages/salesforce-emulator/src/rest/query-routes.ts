/**
 * `GET /query?q=`, `GET /queryAll?q=` and `GET /query/<locator>-<offset>`.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
 */

import type { RequestContext } from '../data/context.ts'
import { malformedQuery } from '../data/errors.ts'
import { BATCH_SIZE_MAX, BATCH_SIZE_MIN } from '../data/query-locators.ts'
import type { Route, RouteRequest, RouteResponse } from '../http/route-types.ts'
import { evaluateSoql } from '../data/soql/evaluate.ts'
import { parseSoql } from '../data/soql/parser.ts'

/** The batch size for a request: the header's value clamped to 200..2000, else the org default. */
export function batchSizeFor(ctx: RequestContext): number {
  const header = ctx.headers['sforce-query-options']
  const m = header === undefined ? null : /batchSize\s*=\s*(\d+)/i.exec(header)
  if (m === null) return ctx.org.defaultBatchSize
  return Math.min(BATCH_SIZE_MAX, Math.max(BATCH_SIZE_MIN, Number(m[1])))
}

/** Runs a SOQL query and answers its first page. */
export function runQuery(
  ctx: RequestContext,
  soql: string,
  includeDeleted: boolean,
): RouteResponse {
  if (soql.trim() === '') throw malformedQuery('A query string has to be specified')
  const result = evaluateSoql(ctx, parseSoql(soql), includeDeleted)
  if (result.countOnly)
    return { status: 200, body: { totalSize: result.totalSize, done: true, records: [] } }
  return {
    status: 200,
    body: ctx.org.locators.firstPage(result.rows, batchSizeFor(ctx), ctx.version),
  }
}

function query(includeDeleted: boolean) {
  return (ctx: RequestContext, req: RouteRequest): RouteResponse =>
    runQuery(ctx, req.query.get('q') ?? '', includeDeleted)
}

function more(ctx: RequestContext, _req: RouteRequest, params: readonly string[]): RouteResponse {
  return { status: 200, body: ctx.org.locators.nextPage(params[0] ?? '', ctx.version) }
}

/** Routes of the query resources. */
export const QUERY_ROUTES: readonly Route[] = [
  { pattern: ['query'], methods: { GET: query(false) } },
  { pattern: ['queryAll'], methods: { GET: query(true) } },
  { pattern: ['query', ':locator'], methods: { GET: more } },
  { pattern: ['queryAll', ':locator'], methods: { GET: more } },
]
