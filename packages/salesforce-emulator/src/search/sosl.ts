/**
 * SOSL, the subset integrations use: `FIND {terms} [IN ALL|NAME|EMAIL|PHONE FIELDS]
 * [RETURNING Object [(fields [WHERE …] [ORDER BY …] [LIMIT n] [OFFSET n])], …] [LIMIT n]`.
 * Terms are words (all must match), `"quoted phrases"`, `OR`, `AND`, `AND NOT`, with `*` and `?`
 * wildcards; matching is case-insensitive against the words of text fields. The field list and
 * the WHERE/ORDER BY of a RETURNING object are SOQL and run through the SOQL engine.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_sosl_syntax.htm
 */

import type { RequestContext } from '../data/context.ts'
import { DataApiError } from '../data/errors.ts'
import type { StoredRecord } from '../data/records.ts'
import type { FieldDef, SObjectDef } from '../data/schema.ts'
import { evaluateSoql } from '../data/soql/evaluate.ts'
import { parseSoql } from '../data/soql/parser.ts'

/** Which fields a search looks in. */
export type SearchGroup = 'ALL' | 'NAME' | 'EMAIL' | 'PHONE'

/** One object of a RETURNING clause. */
export interface ReturningSpec {
  readonly object: string
  /** SOQL field list, e.g. `Id, Name`; `Id` when absent. */
  readonly fields: string | undefined
  /** SOQL text after the field list without LIMIT/OFFSET, e.g. `WHERE Industry = 'Energy'`. */
  readonly clauses: string
  readonly limit: number | undefined
  readonly offset: number | undefined
}

/** A parsed search. */
export interface SearchSpec {
  /** The search expression inside the braces. */
  readonly terms: string
  readonly group: SearchGroup
  /** Empty: every searchable object, `Id` only. */
  readonly returning: readonly ReturningSpec[]
  readonly limit: number | undefined
}

/** Largest overall result, and the default. */
export const SEARCH_MAX_RECORDS = 2000

/** 400 `MALFORMED_SEARCH` with Salesforce's wording where it has one. */
export function malformedSearch(message: string): DataApiError {
  return new DataApiError(400, 'MALFORMED_SEARCH', message)
}

const NO_TERM = 'No search term found. The search term must be enclosed in braces.'

/**
 * Parses a SOSL string.
 *
 * @throws {DataApiError} 400 `MALFORMED_SEARCH` naming what is wrong.
 */
export function parseSosl(sosl: string): SearchSpec {
  const text = sosl.trim()
  const find = /^FIND\s*\{/i.exec(text)
  if (find === null) throw malformedSearch(NO_TERM)
  let i = find[0].length
  let terms = ''
  for (;;) {
    const ch = text[i]
    if (ch === undefined) throw malformedSearch(`${NO_TERM} The closing brace is missing.`)
    if (ch === '\\' && i + 1 < text.length) {
      terms += text[i + 1]
      i += 2
      continue
    }
    if (ch === '}') break
    terms += ch
    i++
  }
  checkTerms(terms)
  let rest = text.slice(i + 1).trim()
  let group: SearchGroup = 'ALL'
  const inMatch = /^IN\s+(ALL|NAME|EMAIL|PHONE|SIDEBAR)\s+FIELDS\b/i.exec(rest)
  if (inMatch !== null) {
    const g = (inMatch[1] ?? 'ALL').toUpperCase()
    group = g === 'SIDEBAR' ? 'ALL' : (g as SearchGroup)
    rest = rest.slice(inMatch[0].length).trim()
  } else if (/^IN\b/i.test(rest)) {
    throw malformedSearch(
      `Unexpected search group: ${rest.split(/\s+/).slice(0, 3).join(' ')}; use IN ALL FIELDS, IN NAME FIELDS, IN EMAIL FIELDS or IN PHONE FIELDS`,
    )
  }
  const returning: ReturningSpec[] = []
  if (/^RETURNING\b/i.test(rest)) {
    rest = rest.slice('RETURNING'.length).trim()
    for (;;) {
      const obj = /^([A-Za-z][A-Za-z0-9_]*)/.exec(rest)
      if (obj === null)
        throw malformedSearch(
          `Expected an object name after RETURNING near: ${rest.slice(0, 30) || 'end of search'}`,
        )
      rest = rest.slice(obj[0].length).trim()
      let inner: string | undefined
      if (rest.startsWith('(')) {
        const close = matchingParen(rest)
        if (close < 0) throw malformedSearch(`Missing ')' after RETURNING ${obj[1] ?? ''}(`)
        inner = rest.slice(1, close).trim()
        rest = rest.slice(close + 1).trim()
      }
      returning.push(returningSpec(obj[1] ?? '', inner))
      if (!rest.startsWith(',')) break
      rest = rest.slice(1).trim()
    }
  }
  let limit: number | undefined
  const limitMatch = /^LIMIT\s+(\d+)\s*$/i.exec(rest)
  if (limitMatch !== null) {
    limit = Number(limitMatch[1])
    rest = ''
  }
  if (rest !== '') throw malformedSearch(`Unexpected text in search: ${rest.slice(0, 40)}`)
  return { terms, group, returning, limit }
}

function checkTerms(terms: string): void {
  const words = terms.replace(/["*?]/g, ' ').trim()
  if (words === '') throw malformedSearch(NO_TERM)
  if (words.replace(/\s+/g, '').length < 2)
    throw malformedSearch('search term must be longer than one character')
}

function matchingParen(text: string): number {
  let depth = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (ch === "'" && text[i - 1] !== '\\') quoted = !quoted
    if (quoted) continue
    if (ch === '(') depth++
    if (ch === ')' && --depth === 0) return i
  }
  return -1
}

function returningSpec(object: string, inner: string | undefined): ReturningSpec {
  if (inner === undefined || inner === '')
    return { object, fields: undefined, clauses: '', limit: undefined, offset: undefined }
  let body = inner
  let limit: number | undefined
  let offset: number | undefined
  const offsetMatch = /\s+OFFSET\s+(\d+)\s*$/i.exec(body)
  if (offsetMatch !== null) {
    offset = Number(offsetMatch[1])
    body = body.slice(0, offsetMatch.index)
  }
  const limitMatch = /\s+LIMIT\s+(\d+)\s*$/i.exec(body)
  if (limitMatch !== null) {
    limit = Number(limitMatch[1])
    body = body.slice(0, limitMatch.index)
  }
  const clause = /\s(WHERE|ORDER\s+BY)\s/i.exec(` ${body} `)
  const fields = clause === null ? body.trim() : body.slice(0, Math.max(0, clause.index - 1)).trim()
  const clauses = clause === null ? '' : body.slice(Math.max(0, clause.index - 1)).trim()
  return { object, fields: fields === '' ? undefined : fields, clauses, limit, offset }
}

/** A term of the search expression. */
type Term = { kind: 'word'; re: RegExp } | { kind: 'phrase'; text: string }

interface Expression {
  /** Alternatives (OR), each a list of required terms (AND) and excluded terms (AND NOT). */
  readonly any: { all: Term[]; none: Term[] }[]
}

function compileTerms(terms: string): Expression {
  const tokens = terms.match(/"[^"]*"|\S+/g) ?? []
  const any: { all: Term[]; none: Term[] }[] = [{ all: [], none: [] }]
  let negate = false
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? ''
    const upper = token.toUpperCase()
    if (upper === 'OR') {
      any.push({ all: [], none: [] })
      continue
    }
    if (upper === 'AND') {
      if ((tokens[i + 1] ?? '').toUpperCase() === 'NOT') {
        negate = true
        i++
      }
      continue
    }
    const term: Term = token.startsWith('"')
      ? { kind: 'phrase', text: token.slice(1, -1).toLowerCase() }
      : {
          kind: 'word',
          re: new RegExp(
            `^${token
              .toLowerCase()
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replace(/\*/g, '.*')
              .replace(/\?/g, '.')}$`,
          ),
        }
    const last = any[any.length - 1]
    if (last !== undefined) (negate ? last.none : last.all).push(term)
    negate = false
  }
  return { any: any.filter((a) => a.all.length > 0) }
}

const NAME_FIELDS = new Set(['Name', 'FirstName', 'LastName', 'Subject', 'CaseNumber', 'Title'])

function searchedFields(def: SObjectDef, group: SearchGroup): FieldDef[] {
  return def.fields.filter((f) => {
    if (group === 'NAME') return NAME_FIELDS.has(f.name)
    if (group === 'EMAIL') return f.type === 'email'
    if (group === 'PHONE') return f.type === 'phone'
    return ['string', 'textarea', 'email', 'phone', 'picklist', 'url'].includes(f.type)
  })
}

function termMatches(term: Term, texts: readonly string[], words: readonly string[]): boolean {
  return term.kind === 'phrase'
    ? texts.some((t) => t.includes(term.text))
    : words.some((w) => term.re.test(w))
}

function recordMatches(rec: StoredRecord, fields: readonly FieldDef[], expr: Expression): boolean {
  const texts = fields
    .map((f) => rec.fields[f.name])
    .filter((v): v is string => typeof v === 'string')
    .map((v) => v.toLowerCase())
  const words = texts.flatMap((t) => t.split(/[^\p{L}\p{N}@._-]+/u)).filter((w) => w !== '')
  const expanded = [...words, ...words.flatMap((w) => w.split(/[@._-]+/))]
  return expr.any.some(
    (alt) =>
      alt.all.every((t) => termMatches(t, texts, expanded)) &&
      !alt.none.some((t) => termMatches(t, texts, expanded)),
  )
}

/**
 * Runs a search: `searchRecords` in RETURNING order (or object order), each with `attributes`.
 *
 * @throws {DataApiError} `INVALID_TYPE` for an unknown object, the SOQL errors of a RETURNING
 *   clause (`INVALID_FIELD`, `MALFORMED_QUERY`), `MALFORMED_SEARCH` for a bad LIMIT.
 */
export function runSearch(ctx: RequestContext, spec: SearchSpec): Record<string, unknown>[] {
  const expr = compileTerms(spec.terms)
  const overall = spec.limit ?? SEARCH_MAX_RECORDS
  if (overall < 1 || overall > SEARCH_MAX_RECORDS)
    throw malformedSearch(`LIMIT must be from 1 to ${SEARCH_MAX_RECORDS}`)
  const targets: ReturningSpec[] =
    spec.returning.length > 0
      ? [...spec.returning]
      : ctx.org.schema
          .list()
          .filter((d) => d.queryable && d.name !== 'Organization' && d.name !== 'User')
          .map((d) => ({
            object: d.name,
            fields: undefined,
            clauses: '',
            limit: undefined,
            offset: undefined,
          }))
  const out: Record<string, unknown>[] = []
  for (const target of targets) {
    const def = ctx.org.schema.object(target.object)
    if (def === undefined || !def.queryable) {
      throw new DataApiError(
        400,
        'INVALID_TYPE',
        `sObject type '${target.object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.`,
      )
    }
    const fields = searchedFields(def, spec.group)
    const soql = `SELECT ${target.fields ?? 'Id'} FROM ${def.name} ${target.clauses}`
    const rows = evaluateSoql(ctx, parseSoql(soql), false).rows.filter((row) => {
      const url = (row['attributes'] as { url?: string } | undefined)?.url ?? ''
      const rec = ctx.org.store.byId(url.slice(url.lastIndexOf('/') + 1))
      return rec !== undefined && recordMatches(rec, fields, expr)
    })
    const start = target.offset ?? 0
    out.push(...rows.slice(start, target.limit === undefined ? undefined : start + target.limit))
    if (out.length >= overall) break
  }
  return out.slice(0, overall)
}
