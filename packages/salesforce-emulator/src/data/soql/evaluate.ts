/**
 * SOQL evaluation against the record store: filters, sorts, applies OFFSET/LIMIT and projects
 * rows into REST records (parents nested with attributes, parent-to-child subqueries nested as
 * `{ totalSize, done, records }` or null). Aggregate queries go to `aggregate.ts`.
 */

import type { RequestContext } from '../context.ts'
import { sObjectTypeNotSupported } from '../errors.ts'
import type { StoredRecord } from '../records.ts'
import type { SObjectDef } from '../schema.ts'
import { recordAttributes } from '../serialize.ts'
import { evaluateAggregate, isAggregateQuery } from './aggregate.ts'
import { compileCondition, type Predicate } from './conditions.ts'
import { compareScalars, resolve, valueOf, withPreamble, type Resolved } from './field-paths.ts'
import { soqlError } from './lexer.ts'
import type { SelectItem, SoqlQuery, SubqueryItem } from './parser.ts'

export { likeToRegExp } from './conditions.ts'

/** Result rows of a query, before paging. */
export interface QueryRows {
  /** Rows as REST records; empty for `COUNT()`. */
  rows: Record<string, unknown>[]
  /** `totalSize` to report: the row count, or the count for `COUNT()`. */
  totalSize: number
  /** True for `SELECT COUNT() …`: the answer is `{ totalSize, done: true, records: [] }`. */
  countOnly: boolean
}

/** A projected column: a field path, or a subquery answered per parent record. */
type Column =
  | { readonly kind: 'path'; readonly res: Resolved }
  | {
      readonly kind: 'children'
      readonly name: string
      readonly run: (parentId: string) => Record<string, unknown> | null
    }

/** The queried sObject, or 400 `INVALID_TYPE`. */
export function rootObject(ctx: RequestContext, q: SoqlQuery): SObjectDef {
  const root = ctx.org.schema.object(q.from.name)
  if (root === undefined || !root.queryable) {
    throw withPreamble(q, q.from.offset, sObjectTypeNotSupported(q.from.name))
  }
  return root
}

/** The records a non-aggregate query selects: WHERE (and `extra`), ORDER BY, OFFSET, LIMIT. */
function selectRecords(
  ctx: RequestContext,
  q: SoqlQuery,
  root: SObjectDef,
  includeDeleted: boolean,
  extra?: Predicate,
): StoredRecord[] {
  const where = q.where === undefined ? () => true : compileCondition(ctx, q, root, q.where)
  const order = q.orderBy.map((o) => {
    if (o.field.kind !== 'field') {
      throw soqlError(
        q.soql,
        o.field.offset,
        'Aggregate functions can only order aggregate queries',
      )
    }
    return { ...o, res: resolve(ctx, q, root, o.field) }
  })
  let matched = ctx.org.store
    .all(root.name, includeDeleted)
    .filter((r) => where(r) && (extra === undefined || extra(r)))
  if (order.length > 0) {
    matched = matched
      .map((rec, index) => ({ rec, index }))
      .sort((a, b) => {
        for (const o of order) {
          const x = valueOf(ctx, a.rec, o.res)
          const y = valueOf(ctx, b.rec, o.res)
          if (x === null || y === null) {
            if (x === y) continue
            return (x === null) === o.nullsLast ? 1 : -1
          }
          const c = compareScalars(x, y, o.res.field)
          if (c !== 0) return o.descending ? -c : c
        }
        return a.index - b.index
      })
      .map((e) => e.rec)
  }
  const start = q.offset ?? 0
  return matched.slice(start, q.limit === undefined ? undefined : start + q.limit)
}

/** A parent-to-child subquery compiled against `parent`: one nested result per parent id. */
function childColumn(
  ctx: RequestContext,
  parent: SObjectDef,
  item: SubqueryItem,
  includeDeleted: boolean,
): Column {
  const inner = item.query
  const rel = ctx.org.schema.childRelationship(parent, inner.from.name)
  if (rel === undefined) {
    throw soqlError(
      inner.soql,
      inner.from.offset,
      `Didn't understand relationship '${inner.from.name}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
      'INVALID_TYPE',
    )
  }
  if (isAggregateQuery(inner)) {
    const first = inner.select.find((s) => s.kind === 'aggregate') ?? inner.groupBy[0]
    throw soqlError(
      inner.soql,
      first?.offset ?? inner.from.offset,
      'Only root queries support aggregate expressions',
    )
  }
  const cols = columns(ctx, inner, rel.child, includeDeleted)
  return {
    kind: 'children',
    name: rel.name,
    run: (parentId) => {
      const records = selectRecords(
        ctx,
        inner,
        rel.child,
        includeDeleted,
        (r) => r.fields[rel.field.name] === parentId,
      ).map((rec) => project(ctx, rec, cols))
      return records.length === 0 ? null : { totalSize: records.length, done: true, records }
    },
  }
}

/** The columns of a non-aggregate SELECT list, in order, with duplicate fields refused. */
function columns(
  ctx: RequestContext,
  q: SoqlQuery,
  root: SObjectDef,
  includeDeleted: boolean,
): Column[] {
  const cols: Column[] = []
  const seen = new Set<string>()
  const add = (key: string, item: SelectItem, col: Column, skipDuplicate: boolean): void => {
    if (seen.has(key.toLowerCase())) {
      if (skipDuplicate) return
      throw soqlError(q.soql, item.offset, `duplicate field selected: ${key}`)
    }
    seen.add(key.toLowerCase())
    cols.push(col)
  }
  for (const item of q.select) {
    switch (item.kind) {
      case 'field': {
        if (item.alias !== undefined) {
          throw soqlError(q.soql, item.offset, 'Only aggregate expressions use field aliasing')
        }
        const res = resolve(ctx, q, root, item)
        add(res.key, item, { kind: 'path', res }, false)
        break
      }
      case 'fields':
        for (const f of root.fields) {
          if (item.scope !== 'ALL' && (item.scope === 'CUSTOM') !== f.name.endsWith('__c')) continue
          add(f.name, item, { kind: 'path', res: { rels: [], field: f, key: f.name } }, true)
        }
        break
      case 'subquery': {
        const col = childColumn(ctx, root, item, includeDeleted)
        if (col.kind === 'children') add(col.name, item, col, false)
        break
      }
      case 'aggregate':
        // isAggregateQuery sent every query with an aggregate to evaluateAggregate.
        break
    }
  }
  return cols
}

function project(
  ctx: RequestContext,
  rec: StoredRecord,
  cols: readonly Column[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: recordAttributes(ctx.version, rec) }
  for (const col of cols) {
    if (col.kind === 'children') {
      out[col.name] = col.run(rec.id)
      continue
    }
    let target = out
    let cur: StoredRecord | undefined = rec
    for (const rel of col.res.rels) {
      const key = rel.relationshipName ?? rel.name
      if (target[key] === null) {
        cur = undefined
        break
      }
      const id: unknown = cur.fields[rel.name]
      const parent = typeof id === 'string' ? ctx.org.store.byId(id) : undefined
      if (parent === undefined || parent.deleted) {
        target[key] = null
        cur = undefined
        break
      }
      if (typeof target[key] !== 'object')
        target[key] = { attributes: recordAttributes(ctx.version, parent) }
      target = target[key] as Record<string, unknown>
      cur = parent
    }
    if (cur !== undefined) target[col.res.field.name] = cur.fields[col.res.field.name] ?? null
  }
  return out
}

/**
 * Runs a parsed query. `includeDeleted` is true for `queryAll`.
 *
 * @throws {DataApiError} 400 `INVALID_TYPE`, `INVALID_FIELD`, `MALFORMED_QUERY`,
 *   `INVALID_QUERY_FILTER_OPERATOR`.
 */
export function evaluateSoql(
  ctx: RequestContext,
  q: SoqlQuery,
  includeDeleted: boolean,
): QueryRows {
  const root = rootObject(ctx, q)
  if (isAggregateQuery(q)) return evaluateAggregate(ctx, q, root, includeDeleted)
  const cols = columns(ctx, q, root, includeDeleted)
  const rows = selectRecords(ctx, q, root, includeDeleted).map((rec) => project(ctx, rec, cols))
  return { rows, totalSize: rows.length, countOnly: false }
}
