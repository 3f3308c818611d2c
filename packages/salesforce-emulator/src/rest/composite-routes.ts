/**
 * Composite resources: sObject collections (`/composite/sobjects…`: create, update, delete,
 * retrieve and upsert many, with `allOrNone` rollback) and the composite request
 * (`/composite` with `@{ref.path}` references), which runs its subrequests through the same
 * routes as top-level requests.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections.htm
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_composite.htm
 */

import type { RequestContext } from '../data/context.ts'
import {
  DataApiError,
  isDataApiError,
  jsonParserError,
  malformedId,
  unknownException,
} from '../data/errors.ts'
import { isValidId, toId18 } from '../data/ids.ts'
import {
  createRecord,
  deleteRecord,
  requireObjectBody,
  updateRecord,
} from '../data/record-writes.ts'
import type { StoredRecord } from '../data/records.ts'
import type { Route, RouteRequest, RouteResponse } from '../http/route-types.ts'
import { toApiRecord } from '../data/serialize.ts'
import { externalIdField, findByExternalId, objectOrNotFound } from '../data/lookups.ts'
import { selectedFields } from './sobject-routes.ts'

/** Most records in one collection request. */
export const COLLECTION_MAX_RECORDS = 200
/** Most ids in one collection retrieve. */
export const COLLECTION_MAX_RETRIEVE_IDS = 2000
/** Most subrequests in one composite request. */
export const COMPOSITE_MAX_SUBREQUESTS = 25

/** One element of a collection error list (`statusCode`, not `errorCode`). */
export interface CollectionError {
  statusCode: string
  message: string
  fields: string[]
}

/** One element of a collection result. */
export interface CollectionResult {
  id?: string
  success: boolean
  errors: CollectionError[]
  created?: boolean
}

const ROLLED_BACK: CollectionError = {
  statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  message:
    'Record rolled back because not all records were valid and the request was using AllOrNone header',
  fields: [],
}

function toCollectionError(err: unknown): CollectionError {
  const e = isDataApiError(err) ? err : unknownException(err)
  return { statusCode: e.errorCode, message: e.message, fields: e.fields ?? [] }
}

/**
 * Runs `op` for each item; under `allOrNone` any failure restores the store and marks the
 * successes as rolled back.
 */
function runCollection<T>(
  ctx: RequestContext,
  items: readonly T[],
  allOrNone: boolean,
  op: (item: T) => CollectionResult,
  idFor: (item: T) => string | undefined = () => undefined,
): CollectionResult[] {
  const snapshot = allOrNone ? ctx.org.store.snapshot() : undefined
  const results = items.map((item): CollectionResult => {
    try {
      return op(item)
    } catch (err) {
      const id = idFor(item)
      return {
        ...(id !== undefined ? { id } : {}),
        success: false,
        errors: [toCollectionError(err)],
      }
    }
  })
  if (snapshot !== undefined && results.some((r) => !r.success)) {
    ctx.org.store.restore(snapshot)
    return results.map((r) =>
      r.success
        ? { ...(r.id !== undefined ? { id: r.id } : {}), success: false, errors: [ROLLED_BACK] }
        : r,
    )
  }
  return results
}

interface CollectionBody {
  allOrNone: boolean
  records: unknown[]
}

function collectionBody(body: unknown): CollectionBody {
  const obj = requireObjectBody(body, 'SObjectCollectionRequest')
  const records = obj['records']
  if (!Array.isArray(records))
    throw jsonParserError("Cannot deserialize the collection: 'records' must be an array")
  if (records.length > COLLECTION_MAX_RECORDS) {
    throw new DataApiError(
      400,
      'EXCEEDED_ID_LIMIT',
      `record limit reached. cannot submit more than ${COLLECTION_MAX_RECORDS} records into this call`,
    )
  }
  return { allOrNone: obj['allOrNone'] === true || obj['allOrNone'] === 'true', records }
}

function recordType(ctx: RequestContext, record: unknown): string {
  const attrs =
    typeof record === 'object' && record !== null
      ? (record as Record<string, unknown>)['attributes']
      : undefined
  const type =
    typeof attrs === 'object' && attrs !== null
      ? (attrs as Record<string, unknown>)['type']
      : undefined
  if (typeof type !== 'string' || ctx.org.schema.object(type) === undefined) {
    throw new DataApiError(400, 'INVALID_TYPE', 'Must send a concrete entity type.')
  }
  return type
}

function idOf(record: unknown): unknown {
  return typeof record === 'object' && record !== null
    ? (record as Record<string, unknown>)['Id']
    : undefined
}

function liveRecordById(ctx: RequestContext, idText: unknown): StoredRecord {
  if (typeof idText !== 'string' || idText === '') {
    throw new DataApiError(400, 'MISSING_ARGUMENT', 'Id not specified in an update call')
  }
  const id = isValidId(idText) ? toId18(idText) : undefined
  if (id === undefined)
    throw new DataApiError(400, 'MALFORMED_ID', `malformed id ${idText}`, ['Id'])
  const rec = ctx.org.store.byId(id)
  if (rec === undefined)
    throw new DataApiError(400, 'INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', [])
  if (rec.deleted) throw new DataApiError(400, 'ENTITY_IS_DELETED', 'entity is deleted', [])
  return rec
}

function createMany(ctx: RequestContext, req: RouteRequest): RouteResponse {
  const { allOrNone, records } = collectionBody(req.body)
  const body = runCollection(ctx, records, allOrNone, (record) => {
    const rec = createRecord(ctx, objectOrNotFound(ctx, recordType(ctx, record)), record)
    return { id: rec.id, success: true, errors: [] }
  })
  return { status: 200, body }
}

function updateMany(ctx: RequestContext, req: RouteRequest): RouteResponse {
  const { allOrNone, records } = collectionBody(req.body)
  const body = runCollection(
    ctx,
    records,
    allOrNone,
    (record) => {
      const type = recordType(ctx, record)
      const rec = liveRecordById(ctx, idOf(record))
      const def = objectOrNotFound(ctx, type)
      if (rec.type !== def.name) throw malformedId(def.label, String(idOf(record)))
      updateRecord(ctx, def, rec, record)
      return { id: rec.id, success: true, errors: [] }
    },
    (record) => {
      const id = idOf(record)
      return typeof id === 'string' ? toId18(id) : undefined
    },
  )
  return { status: 200, body }
}

function deleteMany(ctx: RequestContext, req: RouteRequest): RouteResponse {
  const ids = (req.query.get('ids') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (ids.length === 0) throw new DataApiError(400, 'MISSING_ARGUMENT', 'ids parameter is required')
  if (ids.length > COLLECTION_MAX_RECORDS) {
    throw new DataApiError(
      400,
      'EXCEEDED_ID_LIMIT',
      `record limit reached. cannot submit more than ${COLLECTION_MAX_RECORDS} records into this call`,
    )
  }
  const allOrNone = req.query.get('allOrNone') === 'true'
  const body = runCollection(
    ctx,
    ids,
    allOrNone,
    (id) => {
      const rec = liveRecordById(ctx, id)
      deleteRecord(ctx, objectOrNotFound(ctx, rec.type), rec)
      return { id: rec.id, success: true, errors: [] }
    },
    (id) => toId18(id) ?? id,
  )
  return { status: 200, body }
}

function retrieveMany(
  ctx: RequestContext,
  type: string,
  ids: readonly string[],
  fields: string | null,
): RouteResponse {
  const def = objectOrNotFound(ctx, type)
  if (ids.length > COLLECTION_MAX_RETRIEVE_IDS) {
    throw new DataApiError(
      400,
      'EXCEEDED_ID_LIMIT',
      `cannot retrieve more than ${COLLECTION_MAX_RETRIEVE_IDS} records`,
    )
  }
  const cols = selectedFields(ctx, def, fields)
  const body = ids.map((idText) => {
    const id = isValidId(idText) ? toId18(idText) : undefined
    if (id === undefined) throw malformedId(def.label, idText)
    const rec = ctx.org.store.byId(id)
    return rec === undefined || rec.deleted || rec.type !== def.name
      ? null
      : toApiRecord(ctx.version, def, rec, cols)
  })
  return { status: 200, body }
}

function retrieveManyPost(
  ctx: RequestContext,
  req: RouteRequest,
  [type = '']: readonly string[],
): RouteResponse {
  const obj = requireObjectBody(req.body, 'SObjectCollectionRetrieveRequest')
  const ids = obj['ids']
  const fields = obj['fields']
  if (!Array.isArray(ids) || !ids.every((i) => typeof i === 'string')) {
    throw jsonParserError("Cannot deserialize the request: 'ids' must be an array of strings")
  }
  const fieldList = Array.isArray(fields)
    ? fields.map(String).join(',')
    : typeof fields === 'string'
      ? fields
      : null
  return retrieveMany(ctx, type, ids, fieldList)
}

function retrieveManyGet(
  ctx: RequestContext,
  req: RouteRequest,
  [type = '']: readonly string[],
): RouteResponse {
  const ids = (req.query.get('ids') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  return retrieveMany(ctx, type, ids, req.query.get('fields'))
}

function upsertMany(
  ctx: RequestContext,
  req: RouteRequest,
  [type = '', fieldName = '']: readonly string[],
): RouteResponse {
  const def = objectOrNotFound(ctx, type)
  const field = externalIdField(ctx, def, fieldName)
  const { allOrNone, records } = collectionBody(req.body)
  const body = runCollection(ctx, records, allOrNone, (record) => {
    if (
      recordType(ctx, record) !== def.name &&
      objectOrNotFound(ctx, recordType(ctx, record)) !== def
    ) {
      throw new DataApiError(400, 'INVALID_TYPE', `Record type must be ${def.name}`)
    }
    const value =
      typeof record === 'object' && record !== null
        ? (record as Record<string, unknown>)[field.name]
        : undefined
    if (value === undefined || value === null || value === '') {
      throw new DataApiError(400, 'MISSING_ARGUMENT', `${field.name} not specified`, [field.name])
    }
    const matches =
      field.name === 'Id' ? [liveRecordById(ctx, value)] : findByExternalId(ctx, def, field, value)
    const [only] = matches
    if (matches.length > 1) {
      throw new DataApiError(
        400,
        'DUPLICATE_EXTERNAL_ID',
        `${field.label}: more than one record found for external id field: [${matches.map((m) => m.id).join(', ')}]`,
        [field.name],
      )
    }
    if (only !== undefined) {
      updateRecord(ctx, def, only, record)
      return { id: only.id, success: true, errors: [], created: false }
    }
    const rec = createRecord(ctx, def, record)
    return { id: rec.id, success: true, errors: [], created: true }
  })
  return { status: 200, body }
}

/** `@{ref.path}` in composite subrequests. */
const REFERENCE_RE = /@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}/g

class UnresolvedReference extends Error {}

function lookup(results: ReadonlyMap<string, RouteResponse>, ref: string, path: string): unknown {
  const res = results.get(ref)
  if (res === undefined || res.status >= 400) throw new UnresolvedReference(ref + path)
  let cur: unknown = res.body
  for (const m of path.matchAll(/\.([A-Za-z0-9_]+)|\[(\d+)\]/g)) {
    const key = m[1] ?? Number(m[2])
    cur =
      typeof cur === 'object' && cur !== null
        ? (cur as Record<string | number, unknown>)[key]
        : undefined
  }
  if (cur === undefined) throw new UnresolvedReference(ref + path)
  return cur
}

function substitute(value: unknown, results: ReadonlyMap<string, RouteResponse>): unknown {
  if (typeof value === 'string') {
    const whole = /^@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}$/.exec(value)
    if (whole !== null) return lookup(results, whole[1] ?? '', whole[2] ?? '')
    return value.replace(REFERENCE_RE, (_m, ref: string, path: string) =>
      String(lookup(results, ref, path)),
    )
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, results))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, results)]))
  }
  return value
}

const SUB_URL_RE = /^\/services\/data\/v(\d{2,3}\.0)(\/[^?]*)?(?:\?(.*))?$/

/** Answers one composite subrequest through `dispatch`. */
export type Dispatch = (ctx: RequestContext, req: RouteRequest) => RouteResponse

function halted(message: string): RouteResponse {
  return { status: 400, body: [{ errorCode: 'PROCESSING_HALTED', message }] }
}

/** The composite request handler; subrequests go through `dispatch`. */
export function composite(dispatch: Dispatch) {
  return (ctx: RequestContext, req: RouteRequest): RouteResponse => {
    const obj = requireObjectBody(req.body, 'CompositeRequest')
    const subs = obj['compositeRequest']
    if (!Array.isArray(subs) || subs.length === 0) {
      throw jsonParserError(
        "Cannot deserialize the request: 'compositeRequest' must be a non-empty array",
      )
    }
    if (subs.length > COMPOSITE_MAX_SUBREQUESTS) {
      throw new DataApiError(
        400,
        'LIMIT_EXCEEDED',
        `Composite API supports at most ${COMPOSITE_MAX_SUBREQUESTS} subrequests`,
      )
    }
    const allOrNone = obj['allOrNone'] === true
    const seen = new Set<string>()
    for (const sub of subs) {
      const s = requireObjectBody(sub, 'CompositeSubrequest')
      const refId = s['referenceId']
      if (
        typeof refId !== 'string' ||
        !/^[A-Za-z0-9][A-Za-z0-9_]*$/.test(refId) ||
        seen.has(refId)
      ) {
        throw new DataApiError(
          400,
          'JSON_PARSER_ERROR',
          `Invalid or duplicate referenceId: ${String(refId)}`,
        )
      }
      if (typeof s['method'] !== 'string' || typeof s['url'] !== 'string') {
        throw jsonParserError(`Subrequest ${refId} needs a method and a url`)
      }
      seen.add(refId)
    }
    const snapshot = allOrNone ? ctx.org.store.snapshot() : undefined
    const results = new Map<string, RouteResponse>()
    const out: {
      body: unknown
      httpHeaders: Record<string, string>
      httpStatusCode: number
      referenceId: string
    }[] = []
    let failedAt = -1
    for (const [i, sub] of subs.entries()) {
      const s = sub as Record<string, unknown>
      const referenceId = String(s['referenceId'])
      let res: RouteResponse
      try {
        const url = String(substitute(s['url'], results))
        const m = SUB_URL_RE.exec(url)
        const version = m?.[1]
        const path = m?.[2] ?? '/'
        if (m === null || version === undefined) {
          res = {
            status: 400,
            body: [
              {
                errorCode: 'INVALID_OPERATION',
                message: `The url of subrequest ${referenceId} must start with /services/data/vXX.X/`,
              },
            ],
          }
        } else if (/^\/composite(\/batch|\/graph)?\/?$/.test(path)) {
          res = {
            status: 400,
            body: [
              {
                errorCode: 'INVALID_OPERATION',
                message: 'A composite request cannot contain a composite, batch or graph request',
              },
            ],
          }
        } else {
          const subCtx: RequestContext = { ...ctx, version }
          res = dispatch(subCtx, {
            method: String(s['method']).toUpperCase(),
            segments: splitPath(path),
            query: new URLSearchParams(m[3] ?? ''),
            body: substitute(s['body'], results),
          })
        }
      } catch (err) {
        if (!(err instanceof UnresolvedReference)) throw err
        const [ref = ''] = err.message.split(/[.[]/)
        res = halted(
          `Invalid reference specified. No value for ${err.message} found in ${ref}. Provided referenceId ('${err.message}') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_').`,
        )
      }
      results.set(referenceId, res)
      out.push({
        body: res.body ?? null,
        httpHeaders: res.headers ?? {},
        httpStatusCode: res.status,
        referenceId,
      })
      if (snapshot !== undefined && res.status >= 400) {
        failedAt = i
        break
      }
    }
    if (snapshot !== undefined && failedAt >= 0) {
      ctx.org.store.restore(snapshot)
      const haltedBody = halted(
        'The transaction was rolled back since another operation in the same transaction failed.',
      )
      const final = subs.map((sub, i) => {
        const done = out[i]
        if (i === failedAt && done !== undefined) return done
        return {
          body: haltedBody.body,
          httpHeaders: {},
          httpStatusCode: 400,
          referenceId: String((sub as Record<string, unknown>)['referenceId']),
        }
      })
      return { status: 200, body: { compositeResponse: final } }
    }
    return { status: 200, body: { compositeResponse: out } }
  }
}

/** Splits a URL path into decoded, non-empty segments (repeated slashes count as one). */
export function splitPath(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s)
      } catch {
        return s
      }
    })
}

/** Routes of the composite resources; subrequests of `/composite` go through `dispatch`. */
export function compositeRoutes(dispatch: Dispatch): Route[] {
  return [
    { pattern: ['composite'], methods: { POST: composite(dispatch) } },
    {
      pattern: ['composite', 'sobjects'],
      methods: { POST: createMany, PATCH: updateMany, DELETE: deleteMany },
    },
    {
      pattern: ['composite', 'sobjects', ':type'],
      methods: { GET: retrieveManyGet, POST: retrieveManyPost },
    },
    { pattern: ['composite', 'sobjects', ':type', ':field'], methods: { PATCH: upsertMany } },
  ]
}
