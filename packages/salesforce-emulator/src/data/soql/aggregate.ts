/**
 * Aggregate SOQL: `COUNT()`, `COUNT`, `COUNT_DISTINCT`, `SUM`, `MIN`, `MAX`, `AVG`, `GROUP BY`,
 * `HAVING` and ordering by groups or aggregates. Rows are `AggregateResult`s keyed by alias, by
 * field name for grouped fields, and `expr0`, `expr1`… for unaliased aggregates (counted among
 * those only, as Salesforce does).
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_agg_functions.htm
 */

import type { RequestContext } from '../context.ts'
import type { StoredRecord } from '../records.ts'
import { field, type FieldDef, type SObjectDef } from '../schema.ts'
import { checkLiteral, compare, compileCondition, writtenName } from './conditions.ts'
import { compareScalars, NUMBER_TYPES, resolve, valueOf, type Resolved } from './field-paths.ts'
import { soqlError } from './lexer.ts'
import type { AggregateItem, Condition, FieldPath, SoqlQuery } from './parser.ts'

/** What an aggregate query answers (the same shape as a plain query's rows). */
interface AggregateRows {
  rows: Record<string, unknown>[]
  totalSize: number
  countOnly: boolean
}

/** One group: the grouped values (by lower-case path) and its records. */
interface Group {
  readonly values: Map<string, unknown>
  readonly records: StoredRecord[]
}

/** An aggregate expression resolved on the schema. */
interface Compiled {
  readonly item: AggregateItem
  readonly arg: Resolved | undefined
  /** The type its result compares as (HAVING, ORDER BY). */
  readonly resultField: FieldDef
}

const COUNT_RESULT = field({ name: 'expr', type: 'int' })
const NUMBER_RESULT = field({ name: 'expr', type: 'double' })

/** True when the query groups or aggregates. */
export function isAggregateQuery(q: SoqlQuery): boolean {
  return q.groupBy.length > 0 || q.select.some((s) => s.kind === 'aggregate')
}

function supports(fn: AggregateItem['fn'], f: FieldDef): boolean {
  switch (fn) {
    case 'SUM':
    case 'AVG':
      return NUMBER_TYPES.has(f.type)
    case 'MIN':
    case 'MAX':
      return f.type !== 'textarea' && f.type !== 'boolean'
    default:
      return f.type !== 'textarea'
  }
}

function compileAggregate(
  ctx: RequestContext,
  q: SoqlQuery,
  root: SObjectDef,
  item: AggregateItem,
): Compiled {
  if (item.arg === undefined) return { item, arg: undefined, resultField: COUNT_RESULT }
  const arg = resolve(ctx, q, root, item.arg)
  if (!supports(item.fn, arg.field)) {
    throw soqlError(
      q.soql,
      item.offset,
      `field ${writtenName(item.arg)} does not support aggregate operator ${item.fn}`,
    )
  }
  const resultField =
    item.fn === 'COUNT' || item.fn === 'COUNT_DISTINCT'
      ? COUNT_RESULT
      : item.fn === 'SUM' || item.fn === 'AVG'
        ? NUMBER_RESULT
        : arg.field
  return { item, arg, resultField }
}

function aggregateValue(ctx: RequestContext, c: Compiled, records: StoredRecord[]): unknown {
  if (c.arg === undefined) return records.length
  const arg = c.arg
  const values = records.map((r) => valueOf(ctx, r, arg)).filter((v) => v !== null)
  switch (c.item.fn) {
    case 'COUNT':
      return values.length
    case 'COUNT_DISTINCT':
      return new Set(values.map((v) => (typeof v === 'string' ? v.toLowerCase() : v))).size
    case 'SUM':
    case 'AVG': {
      if (values.length === 0) return null
      const sum = values.reduce<number>((s, v) => s + Number(v), 0)
      return c.item.fn === 'SUM' ? sum : sum / values.length
    }
    case 'MIN':
    case 'MAX': {
      let best: unknown = null
      for (const v of values) {
        const c2 = best === null ? 0 : compareScalars(v, best, arg.field)
        if (best === null || (c.item.fn === 'MIN' ? c2 < 0 : c2 > 0)) best = v
      }
      return best
    }
  }
}

function notGrouped(q: SoqlQuery, offset: number, name: string): Error {
  return soqlError(q.soql, offset, `Field must be grouped or aggregated: ${name}`)
}

/** Compiles HAVING into a predicate over groups. */
function compileHaving(
  ctx: RequestContext,
  q: SoqlQuery,
  root: SObjectDef,
  grouped: ReadonlyMap<string, Resolved>,
  cond: Condition,
): (g: Group) => boolean {
  const groupedField = (fp: FieldPath): Resolved => {
    const res = resolve(ctx, q, root, fp)
    if (!grouped.has(res.key.toLowerCase())) throw notGrouped(q, fp.offset, fp.path.join('.'))
    return res
  }
  const now = ctx.org.now()
  switch (cond.kind) {
    case 'and':
    case 'or': {
      const parts = cond.operands.map((c) => compileHaving(ctx, q, root, grouped, c))
      return cond.kind === 'and' ? (g) => parts.every((p) => p(g)) : (g) => parts.some((p) => p(g))
    }
    case 'not': {
      const inner = compileHaving(ctx, q, root, grouped, cond.operand)
      return (g) => !inner(g)
    }
    case 'compare': {
      const res = groupedField(cond.field)
      checkLiteral(q, res.field, cond.value, cond.op, writtenName(cond.field))
      return (g) =>
        compare(g.values.get(res.key.toLowerCase()), cond.op, cond.value, res.field, now)
    }
    case 'in': {
      const res = groupedField(cond.field)
      for (const v of cond.values) checkLiteral(q, res.field, v, '=', writtenName(cond.field))
      return (g) => {
        const value = g.values.get(res.key.toLowerCase())
        const hit = cond.values.some((v) => compare(value, '=', v, res.field, now))
        return cond.negated ? !hit : hit
      }
    }
    case 'aggregateCompare': {
      const c = compileAggregate(ctx, q, root, cond.aggregate)
      checkLiteral(q, c.resultField, cond.value, cond.op)
      return (g) =>
        compare(aggregateValue(ctx, c, g.records), cond.op, cond.value, c.resultField, now)
    }
  }
}

function groupKey(v: unknown): unknown {
  return typeof v === 'string' ? v.toLowerCase() : v
}

/**
 * Runs an aggregate query.
 *
 * @throws {DataApiError} 400 `MALFORMED_QUERY` for fields neither grouped nor aggregated, an
 *   aggregate on a field type that does not support it, or a field that cannot be grouped.
 */
export function evaluateAggregate(
  ctx: RequestContext,
  q: SoqlQuery,
  root: SObjectDef,
  includeDeleted: boolean,
): AggregateRows {
  const grouped = new Map<string, Resolved>()
  for (const fp of q.groupBy) {
    const res = resolve(ctx, q, root, fp)
    const t = res.field.type
    if (t === 'textarea' || t === 'double' || t === 'currency' || t === 'percent') {
      throw soqlError(
        q.soql,
        fp.offset,
        `field '${writtenName(fp)}' can not be grouped in a query call`,
      )
    }
    grouped.set(res.key.toLowerCase(), res)
  }
  const bare = q.select.find((s) => s.kind === 'aggregate' && s.arg === undefined)
  const outputs: { name: string; value: (g: Group) => unknown }[] = []
  let unaliased = 0
  for (const item of q.select) {
    switch (item.kind) {
      case 'field': {
        const res = resolve(ctx, q, root, item)
        if (!grouped.has(res.key.toLowerCase())) {
          throw notGrouped(q, item.offset, item.path.join('.'))
        }
        const key = res.key.toLowerCase()
        outputs.push({ name: item.alias ?? res.field.name, value: (g) => g.values.get(key) })
        break
      }
      case 'fields':
        throw notGrouped(q, item.offset, `FIELDS(${item.scope})`)
      case 'subquery':
        throw soqlError(q.soql, item.offset, 'Aggregate queries do not support subqueries')
      case 'aggregate': {
        if (bare !== undefined && item !== bare) {
          throw soqlError(
            q.soql,
            bare.offset,
            'COUNT() cannot be combined with other aggregate functions',
          )
        }
        const c = compileAggregate(ctx, q, root, item)
        const name = item.alias ?? `expr${unaliased++}`
        outputs.push({ name, value: (g) => aggregateValue(ctx, c, g.records) })
        break
      }
    }
  }
  if (bare !== undefined && outputs.length > 1) {
    const other = q.select.find((s) => s !== bare)
    throw notGrouped(q, other?.offset ?? 0, other?.kind === 'field' ? other.path.join('.') : '')
  }
  const where = q.where === undefined ? () => true : compileCondition(ctx, q, root, q.where)
  const having =
    q.having === undefined ? () => true : compileHaving(ctx, q, root, grouped, q.having)
  const order = q.orderBy.map((o) => {
    if (o.field.kind === 'aggregate') {
      const c = compileAggregate(ctx, q, root, o.field)
      return { ...o, type: c.resultField, value: (g: Group) => aggregateValue(ctx, c, g.records) }
    }
    const res = resolve(ctx, q, root, o.field)
    const key = res.key.toLowerCase()
    if (!grouped.has(key)) throw notGrouped(q, o.field.offset, o.field.path.join('.'))
    return { ...o, type: res.field, value: (g: Group) => g.values.get(key) }
  })

  const records = ctx.org.store.all(root.name, includeDeleted).filter(where)
  const start = q.offset ?? 0
  if (bare !== undefined && grouped.size === 0) {
    const after = Math.max(0, records.length - start)
    return { rows: [], totalSize: Math.min(after, q.limit ?? after), countOnly: true }
  }
  const groups = new Map<string, Group>()
  if (grouped.size === 0) groups.set('', { values: new Map(), records })
  else {
    for (const rec of records) {
      const values = new Map([...grouped].map(([k, res]) => [k, valueOf(ctx, rec, res)]))
      const key = JSON.stringify([...values.values()].map(groupKey))
      const group = groups.get(key) ?? { values, records: [] }
      group.records.push(rec)
      groups.set(key, group)
    }
  }
  let selected = [...groups.values()].filter(having)
  if (order.length > 0) {
    selected = selected.sort((a, b) => {
      for (const o of order) {
        const x = o.value(a)
        const y = o.value(b)
        if (x === null || x === undefined || y === null || y === undefined) {
          if ((x ?? null) === (y ?? null)) continue
          return ((x ?? null) === null) === o.nullsLast ? 1 : -1
        }
        const c = compareScalars(x, y, o.type)
        if (c !== 0) return o.descending ? -c : c
      }
      return 0
    })
  }
  selected = selected.slice(start, q.limit === undefined ? undefined : start + q.limit)
  if (bare !== undefined) return { rows: [], totalSize: selected.length, countOnly: true }
  const rows = selected.map((g) => {
    const row: Record<string, unknown> = { attributes: { type: 'AggregateResult' } }
    for (const o of outputs) row[o.name] = o.value(g) ?? null
    return row
  })
  return { rows, totalSize: rows.length, countOnly: false }
}
