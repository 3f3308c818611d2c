/**
 * sObject Tree (`POST /composite/tree/<Type>`), what `sf data import tree` sends: records of one
 * type with nested children under their child-relationship names (`"Contacts": {"records":
 * [...]}`), each naming a `referenceId`. All or nothing: on success 201 `{hasErrors: false,
 * results: [{referenceId, id}]}` in creation order (parents before their children); on any error
 * nothing is kept and 400 `{hasErrors: true, results: [{referenceId, errors: [{statusCode,
 * message, fields}]}]}` lists the failing records.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobject_tree.htm
 */

import type { RequestContext } from '../data/context.ts'
import { DataApiError, isDataApiError, jsonParserError, unknownException } from '../data/errors.ts'
import { objectOrNotFound } from '../data/lookups.ts'
import { createRecord, requireObjectBody } from '../data/record-writes.ts'
import type { SObjectDef } from '../data/schema.ts'
import type { Route, RouteRequest, RouteResponse } from '../http/route-types.ts'

/** Most records in one tree request, children included. */
export const TREE_MAX_RECORDS = 200
/** Deepest nesting of children. */
export const TREE_MAX_DEPTH = 5

interface TreeError {
  statusCode: string
  message: string
  fields: string[]
}

interface TreeResult {
  referenceId: string
  id?: string
  errors?: TreeError[]
}

/** A record that cannot be created; collected, then answered together. */
class TreeRecordError extends Error {
  constructor(
    readonly referenceId: string,
    readonly error: TreeError,
  ) {
    super(error.message)
  }
}

function recordsOf(value: unknown, where: string): unknown[] {
  const obj = requireObjectBody(value, 'SObjectTreeRequest')
  const records = obj['records']
  if (!Array.isArray(records)) {
    throw jsonParserError(`Cannot deserialize ${where}: 'records' must be an array`)
  }
  return records
}

function countRecords(records: unknown[], depth: number): number {
  let n = 0
  for (const raw of records) {
    n++
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) continue
    for (const [key, value] of Object.entries(raw)) {
      if (key === 'attributes' || typeof value !== 'object' || value === null) continue
      if (Array.isArray((value as { records?: unknown }).records)) {
        if (depth + 1 > TREE_MAX_DEPTH) {
          throw new DataApiError(
            400,
            'LIMIT_EXCEEDED',
            `An sObject tree can nest at most ${TREE_MAX_DEPTH} levels`,
          )
        }
        n += countRecords((value as { records: unknown[] }).records, depth + 1)
      }
    }
  }
  return n
}

function invalid(referenceId: string, message: string, fields: string[] = []): TreeRecordError {
  return new TreeRecordError(referenceId, { statusCode: 'INVALID_INPUT', message, fields })
}

function insertTree(
  ctx: RequestContext,
  def: SObjectDef,
  raw: unknown,
  parent: { field: string; id: string } | undefined,
  references: Set<string>,
  out: TreeResult[],
): void {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw jsonParserError('Each record of an sObject tree must be a JSON object')
  }
  const record = raw as Record<string, unknown>
  const attributes = record['attributes'] as { type?: unknown; referenceId?: unknown } | undefined
  const referenceId = typeof attributes?.referenceId === 'string' ? attributes.referenceId : ''
  if (!/^[A-Za-z0-9_]+$/.test(referenceId)) {
    throw invalid(referenceId, 'Every record needs attributes.referenceId (letters, digits, _)')
  }
  if (references.has(referenceId)) {
    throw invalid(referenceId, `Duplicate ReferenceId provided in the request: ${referenceId}`)
  }
  references.add(referenceId)
  if (
    typeof attributes?.type !== 'string' ||
    attributes.type.toLowerCase() !== def.name.toLowerCase()
  ) {
    throw invalid(
      referenceId,
      `attributes.type must be ${def.name} here, not ${String(attributes?.type)}`,
    )
  }
  const fields: Record<string, unknown> = {}
  const children: [string, unknown[]][] = []
  for (const [key, value] of Object.entries(record)) {
    if (key === 'attributes') continue
    const nested =
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? (value as { records?: unknown }).records
        : undefined
    if (Array.isArray(nested)) children.push([key, nested])
    else fields[key] = value
  }
  if (parent !== undefined) fields[parent.field] = parent.id
  let id: string
  try {
    id = createRecord(ctx, def, fields).id
  } catch (err) {
    const e = isDataApiError(err) ? err : unknownException(err)
    throw new TreeRecordError(referenceId, {
      statusCode: e.errorCode,
      message: e.message,
      fields: e.fields ?? [],
    })
  }
  out.push({ referenceId, id })
  for (const [name, records] of children) {
    const rel = ctx.org.schema.childRelationship(def, name)
    if (rel === undefined) {
      throw invalid(referenceId, `No such child relationship '${name}' on ${def.name}`, [name])
    }
    for (const child of records) {
      insertTree(ctx, rel.child, child, { field: rel.field.name, id }, references, out)
    }
  }
}

function tree(ctx: RequestContext, req: RouteRequest, params: readonly string[]): RouteResponse {
  const def = objectOrNotFound(ctx, params[0] ?? '')
  const records = recordsOf(req.body, 'the sObject tree')
  const total = countRecords(records, 1)
  if (total > TREE_MAX_RECORDS) {
    throw new DataApiError(
      400,
      'LIMIT_EXCEEDED',
      `An sObject tree request takes at most ${TREE_MAX_RECORDS} records; this one has ${total}`,
    )
  }
  const snapshot = ctx.org.store.snapshot()
  const results: TreeResult[] = []
  const references = new Set<string>()
  try {
    for (const record of records) insertTree(ctx, def, record, undefined, references, results)
  } catch (err) {
    ctx.org.store.restore(snapshot)
    if (!(err instanceof TreeRecordError)) throw err
    return {
      status: 400,
      body: { hasErrors: true, results: [{ referenceId: err.referenceId, errors: [err.error] }] },
    }
  }
  return { status: 201, body: { hasErrors: false, results } }
}

/** Route of the sObject Tree resource. */
export const COMPOSITE_TREE_ROUTES: readonly Route[] = [
  { pattern: ['composite', 'tree', ':type'], methods: { POST: tree } },
]
