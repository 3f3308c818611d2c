/**
 * Matches a {@link RouteRequest} against a route table: first pattern that fits wins; a fitting
 * pattern without a handler for the method is 405 `METHOD_NOT_ALLOWED`; no pattern is 404.
 */

import type { RequestContext } from '../data/context.ts'
import {
  isDataApiError,
  methodNotAllowed,
  notFound,
  toErrorResponse,
  unknownException,
} from '../data/errors.ts'
import type { Route, RouteRequest, RouteResponse } from './route-types.ts'

function match(pattern: readonly string[], segments: readonly string[]): string[] | undefined {
  if (pattern.length !== segments.length) return undefined
  const params: string[] = []
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] ?? ''
    const s = segments[i] ?? ''
    if (p.startsWith(':')) params.push(s)
    else if (p !== s) return undefined
  }
  return params
}

/** Dispatches `req` to the first matching route of `routes`. */
export function route(
  routes: readonly Route[],
  ctx: RequestContext,
  req: RouteRequest,
): RouteResponse {
  for (const r of routes) {
    const params = match(r.pattern, req.segments)
    if (params === undefined) continue
    const method = req.method === 'HEAD' ? 'GET' : req.method
    const handler = r.methods[method as keyof Route['methods']]
    if (handler === undefined) {
      const allowed = Object.keys(r.methods)
      if (allowed.includes('GET')) allowed.splice(allowed.indexOf('GET') + 1, 0, 'HEAD')
      throw methodNotAllowed(req.method, allowed)
    }
    const res = handler(ctx, req, params)
    if (req.method === 'HEAD') {
      const { body: _ignored, ...rest } = res
      return rest
    }
    return res
  }
  throw notFound()
}

/**
 * Like {@link route}, but never throws: Salesforce errors become error-array responses and
 * anything unexpected becomes 500 `UNKNOWN_EXCEPTION` (no stack trace leaves).
 */
export function routeSafely(
  routes: readonly Route[],
  ctx: RequestContext,
  req: RouteRequest,
): RouteResponse {
  try {
    return route(routes, ctx, req)
  } catch (err) {
    return toErrorResponse(isDataApiError(err) ? err : unknownException(err))
  }
}
