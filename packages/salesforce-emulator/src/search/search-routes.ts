/**
 * `GET /search?q=<SOSL>` and `GET|POST /parameterizedSearch`, answering
 * `{searchRecords: [{attributes, …fields}]}`.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_search.htm
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_search_parameterized.htm
 */

import type { RequestContext } from '../data/context.ts'
import { DataApiError } from '../data/errors.ts'
import { requireObjectBody } from '../data/record-writes.ts'
import type { Route, RouteRequest, RouteResponse } from '../http/route-types.ts'
import {
  malformedSearch,
  parseSosl,
  runSearch,
  type ReturningSpec,
  type SearchGroup,
  type SearchSpec,
} from './sosl.ts'

function answer(ctx: RequestContext, spec: SearchSpec): RouteResponse {
  return { status: 200, body: { searchRecords: runSearch(ctx, spec) } }
}

function search(ctx: RequestContext, req: RouteRequest): RouteResponse {
  const q = req.query.get('q')
  if (q === null || q.trim() === '') {
    throw malformedSearch('No search term found. The search term must be enclosed in braces.')
  }
  return answer(ctx, parseSosl(q))
}

function group(value: unknown): SearchGroup {
  if (value === undefined || value === null) return 'ALL'
  const g = String(value).toUpperCase()
  if (g === 'SIDEBAR') return 'ALL'
  if (g === 'ALL' || g === 'NAME' || g === 'EMAIL' || g === 'PHONE') return g
  throw malformedSearch(`Invalid 'in' value: ${String(value)}; use ALL, NAME, EMAIL or PHONE`)
}

function positive(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw malformedSearch(`${name} must be a positive integer`)
  return n
}

function fieldList(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  const list = Array.isArray(value) ? value.map(String) : String(value).split(',')
  const names = list.map((s) => s.trim()).filter((s) => s !== '')
  return names.length === 0 ? undefined : names.join(', ')
}

function requireTerms(q: unknown): string {
  if (typeof q !== 'string' || q.trim() === '')
    throw new DataApiError(
      400,
      'MISSING_ARGUMENT',
      "The 'q' parameter (the search text) is required",
    )
  return q.replace(/[{}]/g, ' ')
}

function parameterizedGet(ctx: RequestContext, req: RouteRequest): RouteResponse {
  const p = req.query
  const defaultFields = fieldList(p.get('fields'))
  const defaultLimit = positive(p.get('defaultLimit'), 'defaultLimit')
  const returning: ReturningSpec[] = p.getAll('sobject').map((object) => ({
    object,
    fields: fieldList(p.get(`${object}.fields`)) ?? defaultFields,
    clauses: '',
    limit: positive(p.get(`${object}.limit`), `${object}.limit`) ?? defaultLimit,
    offset: undefined,
  }))
  return answer(ctx, {
    terms: requireTerms(p.get('q')),
    group: group(p.get('in')),
    returning,
    limit: positive(p.get('overallLimit'), 'overallLimit'),
  })
}

function parameterizedPost(ctx: RequestContext, req: RouteRequest): RouteResponse {
  const body = requireObjectBody(req.body, 'ParameterizedSearchRequest')
  const defaultFields = fieldList(body['fields'])
  const defaultLimit = positive(body['defaultLimit'], 'defaultLimit')
  const sobjects = body['sobjects'] ?? []
  if (!Array.isArray(sobjects)) throw malformedSearch("'sobjects' must be an array")
  const returning = sobjects.map((raw): ReturningSpec => {
    const o = requireObjectBody(raw, 'SearchSObjectSpec')
    if (typeof o['name'] !== 'string') throw malformedSearch('Each entry of sobjects needs a name')
    const where =
      typeof o['where'] === 'string' && o['where'].trim() !== '' ? `WHERE ${o['where']}` : ''
    return {
      object: o['name'],
      fields: fieldList(o['fields']) ?? defaultFields,
      clauses: where,
      limit: positive(o['limit'], `${o['name']}.limit`) ?? defaultLimit,
      offset: undefined,
    }
  })
  return answer(ctx, {
    terms: requireTerms(body['q']),
    group: group(body['in']),
    returning,
    limit: positive(body['overallLimit'], 'overallLimit'),
  })
}

/** Routes of the search resources. */
export const SEARCH_ROUTES: readonly Route[] = [
  { pattern: ['search'], methods: { GET: search } },
  { pattern: ['parameterizedSearch'], methods: { GET: parameterizedGet, POST: parameterizedPost } },
]
