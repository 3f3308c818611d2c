/**
 * Records as the REST API shows them: `attributes` (type and relative url) first, then fields.
 */

import type { StoredRecord } from './records.ts'
import type { FieldDef, SObjectDef } from './schema.ts'

/** `/services/data/vNN.0/sobjects/<type>/<id>`. */
export function recordUrl(version: string, type: string, id: string): string {
  return `/services/data/v${version}/sobjects/${type}/${id}`
}

/** The `attributes` object of a record. */
export function recordAttributes(
  version: string,
  rec: StoredRecord,
): { type: string; url: string } {
  return { type: rec.type, url: recordUrl(version, rec.type, rec.id) }
}

/**
 * The REST representation of a record: every field of `def` in describe order, or only `fields`
 * (then `Id` is appended when not asked for, as Salesforce does).
 */
export function toApiRecord(
  version: string,
  def: SObjectDef,
  rec: StoredRecord,
  fields?: readonly FieldDef[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: recordAttributes(version, rec) }
  for (const f of fields ?? def.fields) out[f.name] = rec.fields[f.name] ?? null
  if (fields !== undefined && !('Id' in out)) out['Id'] = rec.id
  return out
}
