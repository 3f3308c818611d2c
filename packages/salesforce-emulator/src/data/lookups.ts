/**
 * Finding sObject types and records the way the APIs name them: a type by path segment, an
 * upsert key field, records by external id. Shared by the REST resources and Bulk API 2.0.
 */

import { coerceFieldValue } from './coerce.ts'
import type { RequestContext } from './context.ts'
import { externalIdFieldNotFound, notFound } from './errors.ts'
import type { StoredRecord } from './records.ts'
import type { FieldDef, SObjectDef } from './schema.ts'

/** The sObject named by a path segment (any case), or 404 `NOT_FOUND`. */
export function objectOrNotFound(ctx: RequestContext, name: string): SObjectDef {
  const def = ctx.org.schema.object(name)
  if (def === undefined) throw notFound()
  return def
}

/**
 * Live records of `def` whose `field` equals `value` (text compared case-insensitively, as
 * Salesforce external ids are by default).
 */
export function findByExternalId(
  ctx: RequestContext,
  def: SObjectDef,
  field: FieldDef,
  value: unknown,
): StoredRecord[] {
  const wanted = coerceFieldValue(field, value)
  if (wanted === null) return []
  const norm = (v: unknown): unknown => (typeof v === 'string' ? v.toLowerCase() : v)
  return ctx.org.store.all(def.name).filter((r) => norm(r.fields[field.name]) === norm(wanted))
}

/** The field usable as an upsert key (`Id` or an external id field), or 404 `NOT_FOUND`. */
export function externalIdField(ctx: RequestContext, def: SObjectDef, name: string): FieldDef {
  const f = ctx.org.schema.field(def, name)
  if (f === undefined || !(f.name === 'Id' || f.externalId)) throw externalIdFieldNotFound(name)
  return f
}
