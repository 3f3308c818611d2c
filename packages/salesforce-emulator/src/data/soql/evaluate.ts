/**
 * SOQL evaluation against the record store: resolves field paths on the schema (canonical
 * casing, parent relationships), type-checks WHERE literals against field types, filters, sorts,
 * applies OFFSET/LIMIT and projects rows into REST records (parents nested with attributes).
 */

import type { RequestContext } from '../context.ts'
import { ONE_DAY_MS, parseDate, parseDateTime, startOfDay } from '../datetime.ts'
import { DataApiError, noSuchColumnOnEntity, sObjectTypeNotSupported } from '../errors.ts'
import { isValidId, toId18 } from '../ids.ts'
import type { StoredRecord } from '../records.ts'
import type { FieldDef, SObjectDef } from '../schema.ts'
import { recordAttributes } from '../serialize.ts'
import { soqlError } from './lexer.ts'
import type { Condition, FieldPath, Literal, SoqlQuery } from './parser.ts'

/** Result rows of a query, before paging. */
export interface QueryRows {
  /** Rows as REST records; empty for `COUNT()`. */
  rows: Record<string, unknown>[]
  /** `totalSize` to report: the row count, or the count for `COUNT()`. */
  totalSize: number
  /** True for `SELECT COUNT() …`: the answer is `{ totalSize, done: true, records: [] }`. */
  countOnly: boolean
}

interface Resolved {
  /** Reference fields traversed, root first. */
  readonly rels: readonly FieldDef[]
  readonly field: FieldDef
  /** Canonical path, e.g. `Account.Name`. */
  readonly key: string
}

const TEXT_TYPES = new Set(['string', 'textarea', 'picklist', 'email', 'phone', 'url'])
const NUMBER_TYPES = new Set(['double', 'currency', 'percent', 'int'])

function withPreamble(q: SoqlQuery, offset: number, err: DataApiError): DataApiError {
  return soqlError(q.soql, offset, err.message, err.errorCode as 'INVALID_FIELD' | 'INVALID_TYPE')
}

function resolve(ctx: RequestContext, q: SoqlQuery, root: SObjectDef, fp: FieldPath): Resolved {
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

function valueOf(ctx: RequestContext, rec: StoredRecord, r: Resolved): unknown {
  let cur: StoredRecord | undefined = rec
  for (const rel of r.rels) {
    const id: unknown = cur.fields[rel.name]
    cur = typeof id === 'string' ? ctx.org.store.byId(id) : undefined
    if (cur === undefined || cur.deleted) return null
  }
  return cur.fields[r.field.name] ?? null
}

/** The [start, end) millisecond range a date-ish literal denotes. */
function literalRange(lit: Literal, now: number): [number, number] | undefined {
  const today = startOfDay(now)
  switch (lit.kind) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
      return undefined
    case 'date': {
      const ms = parseDate(lit.value)
      return ms === undefined ? undefined : [ms, ms + ONE_DAY_MS]
    }
    case 'datetime': {
      const ms = parseDateTime(lit.value)
      return ms === undefined ? undefined : [ms, ms + 1]
    }
    case 'relativeDate': {
      const d = new Date(today)
      switch (lit.name) {
        case 'TODAY':
          return [today, today + ONE_DAY_MS]
        case 'YESTERDAY':
          return [today - ONE_DAY_MS, today]
        case 'TOMORROW':
          return [today + ONE_DAY_MS, today + 2 * ONE_DAY_MS]
        case 'LAST_N_DAYS':
          return [today - lit.n * ONE_DAY_MS, today + ONE_DAY_MS]
        case 'NEXT_N_DAYS':
          return [today + ONE_DAY_MS, today + (lit.n + 1) * ONE_DAY_MS]
        case 'THIS_MONTH':
          return [
            Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
            Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
          ]
        case 'THIS_YEAR':
          return [Date.UTC(d.getUTCFullYear(), 0, 1), Date.UTC(d.getUTCFullYear() + 1, 0, 1)]
      }
    }
  }
  return undefined
}

function filterTypeError(
  q: SoqlQuery,
  lit: Literal,
  field: FieldDef,
  type: string,
  quoted: boolean,
): DataApiError {
  return soqlError(
    q.soql,
    lit.offset,
    `value of filter criterion for field '${field.name}' must be of type ${type} and should ${quoted ? '' : 'not '}be enclosed in quotes`,
    'INVALID_FIELD',
  )
}

/** Checks that `lit` fits `field`'s type, as Salesforce does before running the query. */
function checkLiteral(q: SoqlQuery, field: FieldDef, lit: Literal, op: string): void {
  if (lit.kind === 'null') return
  const t = field.type
  if (op === 'LIKE' && !TEXT_TYPES.has(t)) {
    throw soqlError(
      q.soql,
      lit.offset,
      `invalid operator on ${t} field: ${field.name}`,
      'INVALID_QUERY_FILTER_OPERATOR',
    )
  }
  if (TEXT_TYPES.has(t)) {
    if (lit.kind !== 'string') throw filterTypeError(q, lit, field, 'string', true)
  } else if (t === 'id' || t === 'reference') {
    if (lit.kind !== 'string') throw filterTypeError(q, lit, field, 'id', true)
    if (lit.value !== '' && !isValidId(lit.value)) {
      throw soqlError(
        q.soql,
        lit.offset,
        `invalid ID field: ${lit.value}`,
        'INVALID_QUERY_FILTER_OPERATOR',
      )
    }
  } else if (t === 'boolean') {
    if (lit.kind !== 'boolean') throw filterTypeError(q, lit, field, 'boolean', false)
  } else if (NUMBER_TYPES.has(t)) {
    if (lit.kind !== 'number') throw filterTypeError(q, lit, field, 'double', false)
  } else if (t === 'date') {
    if (lit.kind !== 'date' && lit.kind !== 'relativeDate')
      throw filterTypeError(q, lit, field, 'date', false)
  } else if (t === 'datetime') {
    if (lit.kind !== 'datetime' && lit.kind !== 'relativeDate')
      throw filterTypeError(q, lit, field, 'dateTime', false)
  }
  if ((lit.kind === 'date' || lit.kind === 'datetime') && literalRange(lit, 0) === undefined) {
    throw soqlError(
      q.soql,
      lit.offset,
      `value of filter criterion for field '${field.name}' is not a valid ${lit.kind}: ${lit.text}`,
      'INVALID_FIELD',
    )
  }
}

function compareScalars(a: unknown, b: unknown, field: FieldDef): number {
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

/** Converts a LIKE literal's raw text (with quotes) to a case-insensitive RegExp. */
export function likeToRegExp(rawLiteral: string): RegExp {
  const body = rawLiteral.slice(1, -1)
  let re = ''
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? ''
    if (c === '\\') {
      const next = body[i + 1] ?? ''
      const decoded: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' }
      re += (decoded[next] ?? next).replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
      i++
    } else if (c === '%') re += '[\\s\\S]*'
    else if (c === '_') re += '[\\s\\S]'
    else re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
  }
  return new RegExp(`^${re}$`, 'i')
}

function compare(value: unknown, op: string, lit: Literal, field: FieldDef, now: number): boolean {
  if (lit.kind === 'null') return op === '=' ? value === null : op === '!=' ? value !== null : false
  if (value === null) return op === '!='
  if (op === 'LIKE') return lit.kind === 'string' && likeToRegExp(lit.text).test(String(value))
  const range = literalRange(lit, now)
  if (range !== undefined) {
    const v = field.type === 'date' ? parseDate(String(value)) : parseDateTime(String(value))
    if (v === undefined) return false
    const [lo, hi] = range
    switch (op) {
      case '=':
        return v >= lo && v < hi
      case '!=':
        return v < lo || v >= hi
      case '<':
        return v < lo
      case '<=':
        return v < hi
      case '>':
        return v >= hi
      default:
        return v >= lo
    }
  }
  let litValue: unknown = 'value' in lit ? lit.value : null
  if ((field.type === 'id' || field.type === 'reference') && typeof litValue === 'string') {
    litValue = toId18(litValue) ?? litValue
  }
  const c = compareScalars(value, litValue, field)
  switch (op) {
    case '=':
      return c === 0
    case '!=':
      return c !== 0
    case '<':
      return c < 0
    case '<=':
      return c <= 0
    case '>':
      return c > 0
    default:
      return c >= 0
  }
}

type Predicate = (rec: StoredRecord) => boolean

function compileCondition(
  ctx: RequestContext,
  q: SoqlQuery,
  root: SObjectDef,
  cond: Condition,
): Predicate {
  switch (cond.kind) {
    case 'and': {
      const parts = cond.operands.map((c) => compileCondition(ctx, q, root, c))
      return (r) => parts.every((p) => p(r))
    }
    case 'or': {
      const parts = cond.operands.map((c) => compileCondition(ctx, q, root, c))
      return (r) => parts.some((p) => p(r))
    }
    case 'not': {
      const inner = compileCondition(ctx, q, root, cond.operand)
      return (r) => !inner(r)
    }
    case 'compare': {
      const res = resolve(ctx, q, root, cond.field)
      checkLiteral(q, res.field, cond.value, cond.op)
      const now = ctx.org.now()
      return (r) => compare(valueOf(ctx, r, res), cond.op, cond.value, res.field, now)
    }
    case 'in': {
      const res = resolve(ctx, q, root, cond.field)
      for (const v of cond.values) checkLiteral(q, res.field, v, '=')
      const now = ctx.org.now()
      return (r) => {
        const value = valueOf(ctx, r, res)
        const hit = cond.values.some((v) => compare(value, '=', v, res.field, now))
        return cond.negated ? !hit : hit
      }
    }
  }
}

function project(
  ctx: RequestContext,
  rec: StoredRecord,
  cols: readonly Resolved[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: recordAttributes(ctx.version, rec) }
  for (const col of cols) {
    let target = out
    let cur: StoredRecord | undefined = rec
    for (const rel of col.rels) {
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
    if (cur !== undefined) target[col.field.name] = cur.fields[col.field.name] ?? null
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
  const root = ctx.org.schema.object(q.from.name)
  if (root === undefined || !root.queryable) {
    throw withPreamble(q, q.from.offset, sObjectTypeNotSupported(q.from.name))
  }
  const counts = q.select.filter((s) => s.kind === 'count')
  const plain = q.select.filter((s) => s.kind !== 'count')
  if (counts.length > 0 && plain.length > 0) {
    const first = plain[0]
    const name = first?.kind === 'field' ? first.path.join('.') : 'FIELDS'
    throw soqlError(q.soql, first?.offset ?? 0, `Field must be grouped or aggregated: ${name}`)
  }
  const bareCount = counts.find((c) => c.kind === 'count' && c.arg === undefined)
  if (bareCount !== undefined && counts.length > 1) {
    throw soqlError(
      q.soql,
      bareCount.offset,
      'COUNT() cannot be combined with other aggregate functions',
    )
  }
  const cols: Resolved[] = []
  const seen = new Set<string>()
  for (const item of plain) {
    const found =
      item.kind === 'field'
        ? [resolve(ctx, q, root, item)]
        : root.fields
            .filter(
              (f) => item.scope === 'ALL' || (item.scope === 'CUSTOM') === f.name.endsWith('__c'),
            )
            .map((f) => ({ rels: [], field: f, key: f.name }))
    for (const r of found) {
      if (seen.has(r.key.toLowerCase())) {
        if (item.kind === 'fields') continue
        throw soqlError(q.soql, item.offset, `duplicate field selected: ${r.key}`)
      }
      seen.add(r.key.toLowerCase())
      cols.push(r)
    }
  }
  const where = q.where === undefined ? () => true : compileCondition(ctx, q, root, q.where)
  const order = q.orderBy.map((o) => ({ ...o, res: resolve(ctx, q, root, o.field) }))
  const countArgs = counts.map((c) =>
    c.kind === 'count' && c.arg !== undefined ? resolve(ctx, q, root, c.arg) : undefined,
  )

  let matched = ctx.org.store.all(root.name, includeDeleted).filter(where)
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
  matched = matched.slice(start, q.limit === undefined ? undefined : start + q.limit)

  if (bareCount !== undefined) return { rows: [], totalSize: matched.length, countOnly: true }
  if (counts.length > 0) {
    const row: Record<string, unknown> = { attributes: { type: 'AggregateResult' } }
    counts.forEach((c, i) => {
      const arg = countArgs[i]
      const name = c.kind === 'count' && c.alias !== undefined ? c.alias : `expr${i}`
      row[name] =
        arg === undefined
          ? matched.length
          : matched.filter((r) => valueOf(ctx, r, arg) !== null).length
    })
    return { rows: [row], totalSize: 1, countOnly: false }
  }
  const rows = matched.map((rec) => project(ctx, rec, cols))
  return { rows, totalSize: rows.length, countOnly: false }
}
