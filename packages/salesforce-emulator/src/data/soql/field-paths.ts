/**
 * SOQL field paths: resolution on the schema (canonical casing, parent relationships such as
 * `Account.Owner.Name`), reading a path's value from a record, and value ordering.
 */

import type { RequestContext } from '../context.ts'
import { parseDate, parseDateTime } from '../datetime.ts'
import { DataApiError, noSuchColumnOnEntity } from '../errors.ts'
import type { StoredRecord } from '../records.ts'
import type { FieldDef, SObjectDef } from '../schema.ts'
import { soqlError } from './lexer.ts'
import type { FieldPath, SoqlQuery } from './parser.ts'

/** A field path resolved on the schema. */
export interface Resolved {
  /** Reference fields traversed, root first. */
  readonly rels: readonly FieldDef[]
  readonly field: FieldDef
  /** Canonical path, e.g. `Account.Name`. */
  readonly key: string
}

/** Text field types. */
export const TEXT_TYPES = new Set(['string', 'textarea', 'picklist', 'email', 'phone', 'url'])
/** Numeric field types. */
export const NUMBER_TYPES = new Set(['double', 'currency', 'percent', 'int'])

/** `err` re-worded with the query's caret preamble at `offset`. */
export function withPreamble(q: SoqlQuery, offset: number, err: DataApiError): DataApiError {
  return soqlError(q.soql, offset, err.message, err.errorCode as 'INVALID_FIELD' | 'INVALID_TYPE')
}

/** Resolves a field path from `root`; 400 `INVALID_FIELD` for an unknown field or relationship. */
export function resolve(
  ctx: RequestContext,
  q: SoqlQuery,
  root: SObjectDef,
  fp: FieldPath,
): Resolved {
  const { schema } = ctx.org
  let def = root
  let path = fp.path
  if (
    path.length > 1 &&
    path[0]?.toLowerCase() === root.name.toLowerCase() &&
    schema.relationship(root, path[0]) === undefined
  ) {
    path = path.slice(1)
  }
  const rels: FieldDef[] = []
  for (const seg of path.slice(0, -1)) {
    const rel = schema.relationship(def, seg)
    const target = rel?.referenceTo[0] === undefined ? undefined : schema.object(rel.referenceTo[0])
    if (rel === undefined || target === undefined) {
      throw soqlError(
        q.soql,
        fp.offset,
        `Didn't understand relationship '${seg}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
        'INVALID_FIELD',
      )
    }
    rels.push(rel)
    def = target
  }
  const last = path[path.length - 1] ?? ''
  const field = schema.field(def, last)
  if (field === undefined) throw withPreamble(q, fp.offset, noSuchColumnOnEntity(last, def.name))
  return {
    rels,
    field,
    key: [...rels.map((r) => r.relationshipName ?? r.name), field.name].join('.'),
  }
}

/** The value of a resolved path on a record (null through a missing or deleted parent). */
export function valueOf(ctx: RequestContext, rec: StoredRecord, r: Resolved): unknown {
  let cur: StoredRecord | undefined = rec
  for (const rel of r.rels) {
    const id: unknown = cur.fields[rel.name]
    cur = typeof id === 'string' ? ctx.org.store.byId(id) : undefined
    if (cur === undefined || cur.deleted) return null
  }
  return cur.fields[r.field.name] ?? null
}

/** Orders two non-null values of `field`'s type (text case-insensitively). */
export function compareScalars(a: unknown, b: unknown, field: FieldDef): number {
  if (TEXT_TYPES.has(field.type)) {
    const x = String(a).toLowerCase()
    const y = String(b).toLowerCase()
    return x < y ? -1 : x > y ? 1 : 0
  }
  if (field.type === 'date' || field.type === 'datetime') {
    const x = parseDateTime(String(a)) ?? parseDate(String(a)) ?? 0
    const y = parseDateTime(String(b)) ?? parseDate(String(b)) ?? 0
    return x - y
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b)
  const x = String(a)
  const y = String(b)
  return x < y ? -1 : x > y ? 1 : 0
}
