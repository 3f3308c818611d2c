/**
 * Route tables of the JSON API families (REST data resources and those built on them): a request
 * after routing and the handler signature.
 */

import type { RequestContext } from '../data/context.ts'

/** A data request after method normalisation and path splitting. */
export interface RouteRequest {
  /** Upper-case HTTP method (`HEAD` is served by the `GET` handler). */
  readonly method: string
  /** Path segments after `/services/data/vNN.0`, URL-decoded, without empty segments. */
  readonly segments: readonly string[]
  readonly query: URLSearchParams
  readonly body: unknown
}

/** The result of a route handler; same shape as `DataResponse`. */
export interface RouteResponse {
  status: number
  body?: unknown
  headers?: Record<string, string>
}

/** A route handler; `params` are the values of the pattern's `:name` segments, in order. */
export type RouteHandler = (
  ctx: RequestContext,
  req: RouteRequest,
  params: readonly string[],
) => RouteResponse

/** A path pattern (`['sobjects', ':type']`) and its handlers by method. */
export interface Route {
  readonly pattern: readonly string[]
  readonly methods: Readonly<Partial<Record<'GET' | 'POST' | 'PATCH' | 'DELETE', RouteHandler>>>
}
