/**
 * Composite batch (`POST /composite/batch`: up to 25 independent subrequests, each answered on
 * its own; `haltOnError` stops at the first failure) and composite graph (`POST /composite/graph`:
 * several composite requests, each all-or-nothing on its own).
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_batch.htm
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_graph_introduction.htm
 */

import type { RequestContext } from '../data/context.ts'
import { DataApiError, jsonParserError } from '../data/errors.ts'
import { requireObjectBody } from '../data/record-writes.ts'
import type { Route, RouteRequest, RouteResponse } from '../http/route-types.ts'
import { composite, splitPath, type Dispatch } from './composite-routes.ts'

/** Most subrequests in one batch. */
export const BATCH_MAX_SUBREQUESTS = 25
/** Most graphs in one graph request. */
export const GRAPH_MAX_GRAPHS = 75

const BATCH_URL_RE = /^(?:\/services\/data\/)?\/?v(\d{2,3}\.0)(\/[^?]*)?(?:\?(.*))?$/

function batch(dispatch: Dispatch) {
  return (ctx: RequestContext, req: RouteRequest): RouteResponse => {
    const obj = requireObjectBody(req.body, 'BatchRequest')
    const subs = obj['batchRequests']
    if (!Array.isArray(subs) || subs.length === 0) {
      throw jsonParserError(
        "Cannot deserialize the request: 'batchRequests' must be a non-empty array",
      )
    }
    if (subs.length > BATCH_MAX_SUBREQUESTS) {
      throw new DataApiError(
        400,
        'LIMIT_EXCEEDED',
        `A batch request takes at most ${BATCH_MAX_SUBREQUESTS} subrequests`,
      )
    }
    const haltOnError = obj['haltOnError'] === true
    let halted = false
    const results = subs.map((sub): { statusCode: number; result: unknown } => {
      if (halted) {
        return {
          statusCode: 412,
          result: [
            {
              errorCode: 'BATCH_PROCESSING_HALTED',
              message: 'Batch processing halted per request',
            },
          ],
        }
      }
      const s = requireObjectBody(sub, 'BatchSubrequest')
      const method = typeof s['method'] === 'string' ? s['method'].toUpperCase() : ''
      const m = typeof s['url'] === 'string' ? BATCH_URL_RE.exec(s['url']) : null
      let res: RouteResponse
      if (method === '' || m === null || m[1] === undefined) {
        res = invalidSubrequest(
          'Each batch subrequest needs a method and a url such as v61.0/sobjects/Account',
        )
      } else if (/^\/composite(\/batch|\/graph)?\/?$/.test(m[2] ?? '/')) {
        res = invalidSubrequest('A batch cannot contain a composite, batch or graph request')
      } else {
        res = dispatch(
          { ...ctx, version: m[1] },
          {
            method,
            segments: splitPath(m[2] ?? '/'),
            query: new URLSearchParams(m[3] ?? ''),
            body: s['richInput'],
          },
        )
      }
      if (res.status >= 400 && haltOnError) halted = true
      return { statusCode: res.status, result: res.body ?? null }
    })
    return { status: 200, body: { hasErrors: results.some((r) => r.statusCode >= 400), results } }
  }
}

function invalidSubrequest(message: string): RouteResponse {
  return { status: 400, body: [{ errorCode: 'INVALID_OPERATION', message }] }
}

function graph(dispatch: Dispatch) {
  const runComposite = composite(dispatch)
  return (ctx: RequestContext, req: RouteRequest): RouteResponse => {
    const obj = requireObjectBody(req.body, 'GraphRequest')
    const graphs = obj['graphs']
    if (!Array.isArray(graphs) || graphs.length === 0) {
      throw jsonParserError("Cannot deserialize the request: 'graphs' must be a non-empty array")
    }
    if (graphs.length > GRAPH_MAX_GRAPHS) {
      throw new DataApiError(
        400,
        'LIMIT_EXCEEDED',
        `A graph request takes at most ${GRAPH_MAX_GRAPHS} graphs`,
      )
    }
    const ids = new Set<string>()
    for (const g of graphs) {
      const graphId = requireObjectBody(g, 'Graph')['graphId']
      if (
        typeof graphId !== 'string' ||
        !/^[A-Za-z0-9][A-Za-z0-9_]*$/.test(graphId) ||
        ids.has(graphId)
      ) {
        throw new DataApiError(
          400,
          'JSON_PARSER_ERROR',
          `Invalid or duplicate graphId: ${String(graphId)}`,
        )
      }
      ids.add(graphId)
    }
    const out = graphs.map((g) => {
      const { graphId, compositeRequest } = g as Record<string, unknown>
      const res = runComposite(ctx, {
        ...req,
        body: { allOrNone: true, compositeRequest },
      })
      const body = res.body as { compositeResponse: { httpStatusCode: number }[] }
      return {
        graphId,
        graphResponse: body,
        isSuccessful: body.compositeResponse.every((r) => r.httpStatusCode < 400),
      }
    })
    return { status: 200, body: { graphs: out } }
  }
}

/** Routes of composite batch and graph; subrequests go through `dispatch`. */
export function compositeBatchRoutes(dispatch: Dispatch): Route[] {
  return [
    {
      pattern: ['composite'],
      methods: {
        GET: (ctx) => {
          const base = `/services/data/v${ctx.version}/composite`
          return {
            status: 200,
            body: {
              tree: `${base}/tree`,
              batch: `${base}/batch`,
              sobjects: `${base}/sobjects`,
              graph: `${base}/graph`,
            },
          }
        },
        POST: composite(dispatch),
      },
    },
    { pattern: ['composite', 'batch'], methods: { POST: batch(dispatch) } },
    { pattern: ['composite', 'graph'], methods: { POST: graph(dispatch) } },
  ]
}
