/**
 * sObject resources: describe global, basic information, describe, create, and single records by
 * id or by external id (retrieve, update, upsert, delete).
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_retrieve.htm
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm
 */

import type { RequestContext } from '../data/context.ts'
import { describeGlobal, describeSObject, sObjectBasicInfo } from '../data/describe.ts'
import { noSuchColumnOnEntity, notFound } from '../data/errors.ts'
import { externalIdField, findByExternalId, objectOrNotFound } from '../data/lookups.ts'
import { createRecord, deleteRecord, findLiveRecord, updateRecord } from '../data/record-writes.ts'
import type { StoredRecord } from '../data/records.ts'
import type { Route, RouteRequest, RouteResponse } from '../http/route-types.ts'
import type { FieldDef, SObjectDef } from '../data/schema.ts'
import { recordUrl, toApiRecord } from '../data/serialize.ts'

/** Parses a `fields=A,B` list (not necessarily URL-encoded) into field definitions. */
export function selectedFields(
  ctx: RequestContext,
  def: SObjectDef,
  list: string | null,
): FieldDef[] | undefined {
  if (list === null || list.trim() === '') return undefined
  const out: FieldDef[] = []
  for (const name of list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const f = ctx.org.schema.field(def, name)
    if (f === undefined) throw noSuchColumnOnEntity(name, def.name)
    if (!out.includes(f)) out.push(f)
  }
  return out
}

/** The 201 body and `Location` header of a created record. */
export function created(
  ctx: RequestContext,
  rec: StoredRecord,
  extra: Record<string, unknown> = {},
): RouteResponse {
  return {
    status: 201,
    body: { id: rec.id, success: true, errors: [], ...extra },
    headers: { Location: recordUrl(ctx.version, rec.type, rec.id) },
  }
}

function multipleChoices(ctx: RequestContext, matches: readonly StoredRecord[]): RouteResponse {
  return { status: 300, body: matches.map((r) => recordUrl(ctx.version, r.type, r.id)) }
}

function getRecord(
  ctx: RequestContext,
  req: RouteRequest,
  [type = '', id = '']: readonly string[],
): RouteResponse {
  const def = objectOrNotFound(ctx, type)
  const rec = findLiveRecord(ctx, def, id, 'read')
  return {
    status: 200,
    body: toApiRecord(ctx.version, def, rec, selectedFields(ctx, def, req.query.get('fields'))),
  }
}

function patchRecord(
  ctx: RequestContext,
  req: RouteRequest,
  [type = '', id = '']: readonly string[],
): RouteResponse {
  const def = objectOrNotFound(ctx, type)
  updateRecord(ctx, def, findLiveRecord(ctx, def, id, 'write'), req.body)
  return { status: 204 }
}

function deleteById(
  ctx: RequestContext,
  _req: RouteRequest,
  [type = '', id = '']: readonly string[],
): RouteResponse {
  const def = objectOrNotFound(ctx, type)
  deleteRecord(ctx, def, findLiveRecord(ctx, def, id, 'write'))
  return { status: 204 }
}

function byExternalId(
  ctx: RequestContext,
  [type = '', fieldName = '', value = '']: readonly string[],
): { def: SObjectDef; field: FieldDef; matches: StoredRecord[] } {
  const def = objectOrNotFound(ctx, type)
  const field = externalIdField(ctx, def, fieldName)
  if (field.name === 'Id') return { def, field, matches: [findLiveRecord(ctx, def, value, 'read')] }
  return { def, field, matches: findByExternalId(ctx, def, field, value) }
}

/**
 * A route handler on the one record an external id names: NOT_FOUND when none has it, 300
 * Multiple Choices (the matching records' URLs) when several share it.
 */
function onSingleMatch(
  action: (
    ctx: RequestContext,
    req: RouteRequest,
    def: SObjectDef,
    record: StoredRecord,
  ) => RouteResponse,
): (ctx: RequestContext, req: RouteRequest, params: readonly string[]) => RouteResponse {
  return (ctx, req, params) => {
    const { def, matches } = byExternalId(ctx, params)
    const [only] = matches
    if (only === undefined) throw notFound()
    if (matches.length > 1) return multipleChoices(ctx, matches)
    return action(ctx, req, def, only)
  }
}

const getByExternalId = onSingleMatch((ctx, req, def, record) => ({
  status: 200,
  body: toApiRecord(ctx.version, def, record, selectedFields(ctx, def, req.query.get('fields'))),
}))

function upsert(ctx: RequestContext, req: RouteRequest, params: readonly string[]): RouteResponse {
  const { def, field, matches } = byExternalId(ctx, params)
  const [only] = matches
  if (matches.length > 1) return multipleChoices(ctx, matches)
  if (only !== undefined) {
    updateRecord(ctx, def, only, req.body)
    return { status: 200, body: { id: only.id, success: true, errors: [], created: false } }
  }
  const withKey =
    typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body)
      ? { ...req.body, [field.name]: params[2] }
      : req.body
  return created(ctx, createRecord(ctx, def, withKey), { created: true })
}

const deleteByExternalId = onSingleMatch((ctx, _req, def, record) => {
  deleteRecord(ctx, def, record)
  return { status: 204 }
})

function recentRecords(ctx: RequestContext, def: SObjectDef): StoredRecord[] {
  return ctx.org.store.all(def.name).slice(-5).reverse()
}

/** Routes of the sObject resources. */
export const SOBJECT_ROUTES: readonly Route[] = [
  {
    pattern: ['sobjects'],
    methods: { GET: (ctx) => ({ status: 200, body: describeGlobal(ctx.version, ctx.org.schema) }) },
  },
  {
    pattern: ['sobjects', ':type'],
    methods: {
      GET: (ctx, _req, [type = '']) => {
        const def = objectOrNotFound(ctx, type)
        return { status: 200, body: sObjectBasicInfo(ctx.version, def, recentRecords(ctx, def)) }
      },
      POST: (ctx, req, [type = '']) =>
        created(ctx, createRecord(ctx, objectOrNotFound(ctx, type), req.body)),
    },
  },
  {
    pattern: ['sobjects', ':type', 'describe'],
    methods: {
      GET: (ctx, _req, [type = '']) => ({
        status: 200,
        body: describeSObject(ctx, objectOrNotFound(ctx, type)),
      }),
    },
  },
  {
    pattern: ['sobjects', ':type', ':id'],
    methods: { GET: getRecord, PATCH: patchRecord, DELETE: deleteById },
  },
  {
    pattern: ['sobjects', ':type', ':field', ':value'],
    methods: { GET: getByExternalId, PATCH: upsert, DELETE: deleteByExternalId },
  },
]
