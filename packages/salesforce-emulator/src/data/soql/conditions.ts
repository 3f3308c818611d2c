/**
 * SOQL WHERE conditions: literals type-checked against field types as Salesforce does before
 * running a query, relative date ranges, LIKE patterns, and compilation into record predicates.
 */

import type { RequestContext } from '../context.ts'
import { ONE_DAY_MS, parseDate, parseDateTime, startOfDay } from '../datetime.ts'
import type { DataApiError } from '../errors.ts'
import { isValidId, toId18 } from '../ids.ts'
import type { StoredRecord } from '../records.ts'
import type { FieldDef, SObjectDef } from '../schema.ts'
import { compareScalars, NUMBER_TYPES, resolve, TEXT_TYPES, valueOf } from './field-paths.ts'
import { soqlError } from './lexer.ts'
import type { Condition, FieldPath, Literal, SoqlQuery } from './parser.ts'

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
  written: string,
  type: string,
  quoted: boolean,
): DataApiError {
  return soqlError(
    q.soql,
    lit.offset,
    `value of filter criterion for field '${written}' must be of type ${type} and should ${quoted ? '' : 'not '}be enclosed in quotes`,
    'INVALID_FIELD',
  )
}

/**
 * Checks that `lit` fits `field`'s type, as Salesforce does before running the query. Messages
 * name the field as the query wrote it (`written`).
 */
export function checkLiteral(
  q: SoqlQuery,
  field: FieldDef,
  lit: Literal,
  op: string,
  written: string = field.name,
): void {
  if (lit.kind === 'null') return
  const t = field.type
  if (op === 'LIKE' && !TEXT_TYPES.has(t)) {
    throw soqlError(
      q.soql,
      lit.offset,
      `invalid operator on ${t} field: ${written}`,
      'INVALID_QUERY_FILTER_OPERATOR',
    )
  }
  if (TEXT_TYPES.has(t)) {
    if (lit.kind !== 'string') throw filterTypeError(q, lit, written, 'string', true)
  } else if (t === 'id' || t === 'reference') {
    if (lit.kind !== 'string') throw filterTypeError(q, lit, written, 'id', true)
    if (lit.value !== '' && !isValidId(lit.value)) {
      throw soqlError(
        q.soql,
        lit.offset,
        `invalid ID field: ${lit.value}`,
        'INVALID_QUERY_FILTER_OPERATOR',
      )
    }
  } else if (t === 'boolean') {
    if (lit.kind !== 'boolean') throw filterTypeError(q, lit, written, 'boolean', false)
  } else if (NUMBER_TYPES.has(t)) {
    if (lit.kind !== 'number') throw filterTypeError(q, lit, written, 'double', false)
  } else if (t === 'date') {
    if (lit.kind !== 'date' && lit.kind !== 'relativeDate')
      throw filterTypeError(q, lit, written, 'date', false)
  } else if (t === 'datetime') {
    if (lit.kind !== 'datetime' && lit.kind !== 'relativeDate')
      throw filterTypeError(q, lit, written, 'dateTime', false)
  }
  if ((lit.kind === 'date' || lit.kind === 'datetime') && literalRange(lit, 0) === undefined) {
    throw soqlError(
      q.soql,
      lit.offset,
      `value of filter criterion for field '${written}' is not a valid ${lit.kind}: ${lit.text}`,
      'INVALID_FIELD',
    )
  }
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

/** Whether a field value satisfies `op lit`. */
export function compare(
  value: unknown,
  op: string,
  lit: Literal,
  field: FieldDef,
  now: number,
): boolean {
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

/** The last segment of a field path as the query wrote it. */
export function writtenName(fp: FieldPath): string {
  return fp.path.at(-1) ?? ''
}

/** A compiled WHERE condition. */
export type Predicate = (rec: StoredRecord) => boolean

/** Compiles a WHERE condition on `root` into a predicate (literals checked first). */
export function compileCondition(
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
      checkLiteral(q, res.field, cond.value, cond.op, writtenName(cond.field))
      const now = ctx.org.now()
      return (r) => compare(valueOf(ctx, r, res), cond.op, cond.value, res.field, now)
    }
    case 'aggregateCompare':
      throw soqlError(
        q.soql,
        cond.aggregate.offset,
        'Aggregate functions are only allowed in HAVING, not in WHERE',
      )
    case 'in': {
      const res = resolve(ctx, q, root, cond.field)
      for (const v of cond.values) checkLiteral(q, res.field, v, '=', writtenName(cond.field))
      const now = ctx.org.now()
      return (r) => {
        const value = valueOf(ctx, r, res)
        const hit = cond.values.some((v) => compare(value, '=', v, res.field, now))
        return cond.negated ? !hit : hit
      }
    }
  }
}
