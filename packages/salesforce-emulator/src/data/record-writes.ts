/**
 * Record writes with the Salesforce REST validation order: body shape, unknown fields, read-only
 * fields, type coercion, references, required fields. Used by single-record routes, composite
 * collections and `OrgData.insert`.
 */

import { coerceFieldValue } from './coerce.ts'
import type { RequestContext } from './context.ts'
import { formatDateTime } from './datetime.ts'
import {
  DataApiError,
  entityIsDeleted,
  externalIdFieldNotFound,
  jsonParserError,
  malformedId,
  methodNotAllowed,
  noSuchColumnOnSObject,
  notFound,
  requiredFieldMissing,
} from './errors.ts'
import { isValidId, toId18 } from './ids.ts'
import type { StoredRecord } from './records.ts'
import type { FieldDef, SObjectDef } from './schema.ts'

/** How a write is checked: `api` as a REST caller, `trusted` for seeding (system fields allowed). */
export type WriteMode = 'api' | 'trusted'

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Asserts that a request body is a JSON object. */
export function requireObjectBody(body: unknown, typeName: string): Record<string, unknown> {
  if (isPlainObject(body)) return body
  if (body === undefined) throw jsonParserError('The request body is empty or not valid JSON')
  const token = Array.isArray(body) ? 'START_ARRAY' : 'VALUE_' + typeof body
  throw jsonParserError(`Cannot deserialize instance of ${typeName} from ${token} value`)
}

function readOnly(fields: string[], op: 'create' | 'update'): DataApiError {
  return new DataApiError(
    400,
    'INVALID_FIELD_FOR_INSERT_UPDATE',
    `Unable to ${op} fields: ${fields.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
    fields,
  )
}

function checkReference(ctx: RequestContext, field: FieldDef, id: string): void {
  const target = ctx.org.store.byId(id)
  if (target === undefined || target.deleted) {
    throw new DataApiError(400, 'INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', [
      field.name,
    ])
  }
  if (!field.referenceTo.includes(target.type)) {
    throw new DataApiError(
      400,
      'FIELD_INTEGRITY_EXCEPTION',
      `${field.label}: id value of incorrect type: ${id}`,
      [field.name],
    )
  }
}

/** Validates and coerces the fields of a create or update body; keys become canonical. */
export function prepareFields(
  ctx: RequestContext,
  def: SObjectDef,
  body: unknown,
  op: 'create' | 'update',
  mode: WriteMode,
): Record<string, unknown> {
  const input = requireObjectBody(body, def.name)
  const out: Record<string, unknown> = {}
  const denied: string[] = []
  for (const [key, value] of Object.entries(input)) {
    if (key === 'attributes') continue
    const f = ctx.org.schema.field(def, key)
    if (f === undefined) throw noSuchColumnOnSObject(key, def.name)
    if (f.name === 'Id' && (op === 'update' || mode === 'trusted')) {
      if (mode === 'trusted') out['Id'] = coerceFieldValue(f, value)
      continue
    }
    if (mode === 'api' && !(op === 'create' ? f.createable : f.updateable)) {
      denied.push(f.name)
      continue
    }
    out[f.name] = coerceFieldValue(f, value)
  }
  if (denied.length > 0) throw readOnly(denied, op)
  if (mode === 'api') {
    for (const [name, value] of Object.entries(out)) {
      const f = ctx.org.schema.field(def, name)
      if (f?.type === 'reference' && typeof value === 'string') checkReference(ctx, f, value)
    }
    const missing = def.fields
      .filter((f) => f.required && f.createable && f.defaultValue === undefined)
      .filter((f) =>
        op === 'create' ? out[f.name] == null : f.name in out && out[f.name] === null,
      )
      .map((f) => f.name)
    if (missing.length > 0) throw requiredFieldMissing(missing)
  }
  return out
}

/**
 * Refuses a value of a `unique` field that another live record of the type already holds (text
 * compared case-insensitively, Salesforce's default for unique text fields).
 */
function checkUnique(
  ctx: RequestContext,
  def: SObjectDef,
  values: Record<string, unknown>,
  selfId: string | undefined,
): void {
  const norm = (v: unknown): unknown => (typeof v === 'string' ? v.toLowerCase() : v)
  for (const f of def.fields) {
    const value = values[f.name]
    if (!f.unique || value === null || value === undefined) continue
    const other = ctx.org.store
      .all(def.name)
      .find((r) => r.id !== selfId && norm(r.fields[f.name]) === norm(value))
    if (other !== undefined) {
      throw new DataApiError(
        400,
        'DUPLICATE_VALUE',
        `duplicate value found: ${f.name} duplicates value on record with id: ${other.id}`,
        [],
      )
    }
  }
}

/** Recomputes formula-like fields (Contact.Name, Opportunity.IsClosed, …) after a write. */
function derive(ctx: RequestContext, rec: StoredRecord): void {
  const f = rec.fields
  switch (rec.type) {
    case 'Contact':
    case 'User':
      f['Name'] =
        [f['FirstName'], f['LastName']]
          .filter((v) => typeof v === 'string' && v !== '')
          .join(' ') ||
        (f['Name'] ?? null)
      break
    case 'Opportunity': {
      const stage = typeof f['StageName'] === 'string' ? f['StageName'] : ''
      f['IsClosed'] = stage.startsWith('Closed')
      f['IsWon'] = stage === 'Closed Won'
      break
    }
    case 'Case':
      f['IsClosed'] = f['Status'] === 'Closed'
      if (f['CaseNumber'] == null)
        f['CaseNumber'] = String(1000 + ctx.org.store.nextSequence('Case')).padStart(8, '0')
      break
    default:
      if (rec.type.endsWith('__c') && f['Name'] == null) f['Name'] = rec.id
  }
}

/**
 * Creates a record and returns it.
 *
 * @throws {DataApiError} for any validation failure (nothing is stored then).
 */
export function createRecord(
  ctx: RequestContext,
  def: SObjectDef,
  body: unknown,
  mode: WriteMode = 'api',
): StoredRecord {
  if (mode === 'api' && !def.createable) throw methodNotAllowed('POST', ['GET', 'HEAD'])
  const values = prepareFields(ctx, def, body, 'create', mode)
  checkUnique(ctx, def, values, undefined)
  const givenId = values['Id']
  if (
    typeof givenId === 'string' &&
    (givenId.slice(0, 3) !== def.keyPrefix || ctx.org.store.byId(givenId))
  ) {
    throw malformedId(def.label, givenId)
  }
  const id = typeof givenId === 'string' ? givenId : ctx.org.store.nextId(def.keyPrefix)
  const now = formatDateTime(ctx.org.now())
  const fields: Record<string, unknown> = {}
  for (const f of def.fields)
    fields[f.name] = f.defaultValue ?? (f.type === 'boolean' ? false : null)
  const system: Record<string, unknown> = {
    Id: id,
    CreatedDate: now,
    LastModifiedDate: now,
    SystemModstamp: now,
    CreatedById: ctx.userId,
    LastModifiedById: ctx.userId,
    OwnerId: ctx.userId,
  }
  for (const [k, v] of Object.entries(system)) if (k in fields) fields[k] = v
  for (const [k, v] of Object.entries(values)) if (v !== null || !(k in system)) fields[k] = v
  fields['Id'] = id
  const rec: StoredRecord = { type: def.name, id, fields, deleted: false }
  derive(ctx, rec)
  ctx.org.store.add(rec)
  return rec
}

/** Updates a live record in place. */
export function updateRecord(
  ctx: RequestContext,
  def: SObjectDef,
  rec: StoredRecord,
  body: unknown,
): void {
  if (!def.updateable) throw methodNotAllowed('PATCH', ['GET', 'HEAD'])
  const values = prepareFields(ctx, def, body, 'update', 'api')
  checkUnique(ctx, def, values, rec.id)
  const now = formatDateTime(ctx.org.now())
  Object.assign(rec.fields, values)
  if ('LastModifiedDate' in rec.fields) {
    rec.fields['LastModifiedDate'] = now
    rec.fields['SystemModstamp'] = now
    rec.fields['LastModifiedById'] = ctx.userId
  }
  derive(ctx, rec)
}

/** Soft-deletes a live record (`IsDeleted` becomes true; `queryAll` still sees it). */
export function deleteRecord(ctx: RequestContext, def: SObjectDef, rec: StoredRecord): void {
  if (!def.deletable) throw methodNotAllowed('DELETE', ['GET', 'PATCH', 'HEAD'])
  rec.deleted = true
  if ('IsDeleted' in rec.fields) rec.fields['IsDeleted'] = true
  rec.fields['SystemModstamp'] = formatDateTime(ctx.org.now())
}

/**
 * Finds the live record of `def` named by an id path segment.
 *
 * Documented choice for malformed ids: a read (`GET`) answers 404 `NOT_FOUND` "Provided external
 * ID field does not exist or is not accessible: xyz" (the segment is taken for an external id
 * field name, as real orgs do); a write (`PATCH`/`DELETE`) answers 400 `MALFORMED_ID`
 * "Account ID: id value of incorrect type: xyz". A well-formed id of another type answers 404
 * `NOT_FOUND` on read and 400 `MALFORMED_ID` on write. A deleted record is 404 `ENTITY_IS_DELETED`.
 */
export function findLiveRecord(
  ctx: RequestContext,
  def: SObjectDef,
  idText: string,
  access: 'read' | 'write',
): StoredRecord {
  const id = isValidId(idText) ? toId18(idText) : undefined
  if (id === undefined)
    throw access === 'read' ? externalIdFieldNotFound(idText) : malformedId(def.label, idText)
  if (id.slice(0, 3) !== def.keyPrefix)
    throw access === 'read' ? notFound() : malformedId(def.label, idText)
  const rec = ctx.org.store.byId(id)
  if (rec === undefined || rec.type !== def.name) throw notFound()
  if (rec.deleted) throw entityIsDeleted()
  return rec
}
