/**
 * SOQL parser: a recursive-descent parser over {@link lex} tokens producing a {@link SoqlQuery}.
 * Keywords are case-insensitive. Supported: SELECT fields (with parent paths and, in aggregate
 * queries, aliases), aggregate functions (COUNT(), COUNT, COUNT_DISTINCT, SUM, MIN, MAX, AVG, with
 * aliases), FIELDS(ALL|STANDARD|CUSTOM) and parent-to-child subqueries (`(SELECT … FROM Contacts)`);
 * FROM one object; WHERE with comparison, LIKE, [NOT] IN, AND/OR/NOT and parentheses; GROUP BY;
 * HAVING (aggregates or grouped fields); ORDER BY … ASC|DESC NULLS FIRST|LAST; LIMIT; OFFSET.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm
 */

import { lex, soqlError, type Token } from './lexer.ts'

/** A field reference such as `Name` or `Account.Owner.Name` (an alias only in aggregate queries). */
export interface FieldPath {
  readonly kind: 'field'
  readonly path: readonly string[]
  readonly offset: number
  readonly alias?: string
}

/** Aggregate functions. */
export type AggregateFn = 'COUNT' | 'COUNT_DISTINCT' | 'SUM' | 'MIN' | 'MAX' | 'AVG'

/** `COUNT()` (no argument) or `FN(field) [alias]`. */
export interface AggregateItem {
  readonly kind: 'aggregate'
  readonly fn: AggregateFn
  readonly arg?: FieldPath
  readonly alias?: string
  readonly offset: number
}

/** A parent-to-child subquery `(SELECT … FROM <relationship> …)`; `query.from` names the relationship. */
export interface SubqueryItem {
  readonly kind: 'subquery'
  readonly query: SoqlQuery
  readonly offset: number
}

/** `FIELDS(ALL|STANDARD|CUSTOM)`. */
export interface FieldsItem {
  readonly kind: 'fields'
  readonly scope: 'ALL' | 'STANDARD' | 'CUSTOM'
  readonly offset: number
}

/** One item of the SELECT list. */
export type SelectItem = FieldPath | AggregateItem | FieldsItem | SubqueryItem

/** Relative date literals (`TODAY`, `LAST_N_DAYS:7`, …). */
export type DateLiteralName =
  'TODAY' | 'YESTERDAY' | 'TOMORROW' | 'THIS_MONTH' | 'THIS_YEAR' | 'LAST_N_DAYS' | 'NEXT_N_DAYS'

/** A literal value in a WHERE clause. `text` is the raw token text. */
export type Literal = { readonly offset: number; readonly text: string } & (
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' }
  | { readonly kind: 'date'; readonly value: string }
  | { readonly kind: 'datetime'; readonly value: string }
  | { readonly kind: 'relativeDate'; readonly name: DateLiteralName; readonly n: number }
)

/** Comparison operators (`<>` is normalised to `!=`). */
export type CompareOp = '=' | '!=' | '<' | '>' | '<=' | '>=' | 'LIKE'

/** A WHERE condition. */
export type Condition =
  | { readonly kind: 'and' | 'or'; readonly operands: readonly Condition[] }
  | { readonly kind: 'not'; readonly operand: Condition }
  | {
      readonly kind: 'compare'
      readonly field: FieldPath
      readonly op: CompareOp
      readonly value: Literal
    }
  | {
      /** `FN(field) op literal`: HAVING only. */
      readonly kind: 'aggregateCompare'
      readonly aggregate: AggregateItem
      readonly op: CompareOp
      readonly value: Literal
    }
  | {
      readonly kind: 'in'
      readonly field: FieldPath
      readonly negated: boolean
      readonly values: readonly Literal[]
    }

/** One ORDER BY item. */
export interface OrderItem {
  readonly field: FieldPath | AggregateItem
  readonly descending: boolean
  readonly nullsLast: boolean
}

/** A parsed query. */
export interface SoqlQuery {
  readonly soql: string
  readonly select: readonly SelectItem[]
  readonly from: { readonly name: string; readonly offset: number }
  readonly where?: Condition
  readonly groupBy: readonly FieldPath[]
  readonly having?: Condition
  readonly orderBy: readonly OrderItem[]
  readonly limit?: number
  readonly offset?: number
}

const RESERVED = new Set([
  'SELECT',
  'FROM',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'IN',
  'LIKE',
  'ORDER',
  'BY',
  'LIMIT',
  'OFFSET',
  'GROUP',
  'HAVING',
  'WITH',
  'FOR',
  'USING',
  'NULL',
  'TRUE',
  'FALSE',
  'ASC',
  'DESC',
  'NULLS',
  'INCLUDES',
  'EXCLUDES',
  'TYPEOF',
])

const AGGREGATE_FNS = new Set<string>(['COUNT', 'COUNT_DISTINCT', 'SUM', 'MIN', 'MAX', 'AVG'])

const UNSUPPORTED_CLAUSES = new Set(['WITH', 'FOR', 'USING', 'TYPEOF', 'INCLUDES', 'EXCLUDES'])

const RELATIVE_DATES = new Set<string>([
  'TODAY',
  'YESTERDAY',
  'TOMORROW',
  'THIS_MONTH',
  'THIS_YEAR',
])
const RELATIVE_N_DATES = new Set<string>(['LAST_N_DAYS', 'NEXT_N_DAYS'])

class Parser {
  readonly #soql: string
  readonly #tokens: Token[]
  #pos = 0
  /** Depth of subquery nesting: subqueries may not nest. */
  #depth = 0

  constructor(soql: string) {
    this.#soql = soql
    this.#tokens = lex(soql)
  }

  parse(): SoqlQuery {
    const q = this.#query()
    const end = this.#peek()
    if (end.kind !== 'eof') {
      if (end.kind === 'ident' && UNSUPPORTED_CLAUSES.has(end.value.toUpperCase())) {
        throw soqlError(
          this.#soql,
          end.offset,
          `${end.value.toUpperCase()} is not supported by the Salesforce emulator`,
        )
      }
      throw this.#unexpected(end)
    }
    return q
  }

  #query(): SoqlQuery {
    this.#expectKeyword('SELECT')
    const select = this.#selectList()
    this.#expectKeyword('FROM')
    const fromTok = this.#next()
    if (fromTok.kind !== 'ident' || RESERVED.has(fromTok.value.toUpperCase()))
      throw this.#unexpected(fromTok)
    const from = { name: fromTok.value, offset: fromTok.offset }
    let where: Condition | undefined
    if (this.#isKeyword('WHERE')) {
      this.#next()
      where = this.#conditionExpr()
    }
    const groupBy: FieldPath[] = []
    if (this.#isKeyword('GROUP')) {
      this.#next()
      this.#expectKeyword('BY')
      do {
        if (groupBy.length > 0) this.#next()
        groupBy.push(this.#fieldPath())
      } while (this.#peek().kind === 'comma')
    }
    let having: Condition | undefined
    if (this.#isKeyword('HAVING')) {
      this.#next()
      having = this.#conditionExpr()
    }
    const orderBy: OrderItem[] = []
    if (this.#isKeyword('ORDER')) {
      this.#next()
      this.#expectKeyword('BY')
      do {
        if (orderBy.length > 0) this.#next()
        orderBy.push(this.#orderItem())
      } while (this.#peek().kind === 'comma')
    }
    let limit: number | undefined
    if (this.#isKeyword('LIMIT')) {
      this.#next()
      limit = this.#nonNegativeInt()
    }
    let offset: number | undefined
    if (this.#isKeyword('OFFSET')) {
      this.#next()
      offset = this.#nonNegativeInt()
    }
    return {
      soql: this.#soql,
      select,
      from,
      ...(where !== undefined ? { where } : {}),
      groupBy,
      ...(having !== undefined ? { having } : {}),
      orderBy,
      ...(limit !== undefined ? { limit } : {}),
      ...(offset !== undefined ? { offset } : {}),
    }
  }

  #selectList(): SelectItem[] {
    const items: SelectItem[] = []
    for (;;) {
      items.push(this.#selectItem())
      if (this.#peek().kind !== 'comma') return items
      this.#next()
    }
  }

  #selectItem(): SelectItem {
    const tok = this.#peek()
    if (tok.kind === 'lparen') {
      if (this.#depth > 0) throw this.#unexpected(tok)
      this.#next()
      this.#depth++
      const query = this.#query()
      this.#depth--
      this.#expect('rparen')
      return { kind: 'subquery', query, offset: tok.offset }
    }
    if (tok.kind !== 'ident' || RESERVED.has(tok.value.toUpperCase())) throw this.#unexpected(tok)
    const upper = tok.value.toUpperCase()
    if (upper === 'FIELDS' && this.#peek(1).kind === 'lparen') {
      this.#next()
      this.#next()
      const scope = this.#next()
      const s = scope.value.toUpperCase()
      if (scope.kind !== 'ident' || (s !== 'ALL' && s !== 'STANDARD' && s !== 'CUSTOM'))
        throw this.#unexpected(scope)
      this.#expect('rparen')
      return { kind: 'fields', scope: s, offset: tok.offset }
    }
    if (AGGREGATE_FNS.has(upper) && this.#peek(1).kind === 'lparen') {
      const agg = this.#aggregate()
      const alias = agg.arg === undefined ? undefined : this.#alias()
      return alias === undefined ? agg : { ...agg, alias }
    }
    if (this.#peek(1).kind === 'lparen') {
      throw soqlError(
        this.#soql,
        tok.offset,
        `function ${tok.value} is not supported by the Salesforce emulator`,
      )
    }
    const field = this.#fieldPath()
    const alias = this.#alias()
    return alias === undefined ? field : { ...field, alias }
  }

  /** `FN(field)` or `COUNT()`, the function name being the next token. */
  #aggregate(): AggregateItem {
    const tok = this.#next()
    const fn = tok.value.toUpperCase() as AggregateFn
    this.#expect('lparen')
    let arg: FieldPath | undefined
    if (this.#peek().kind !== 'rparen' || fn !== 'COUNT') arg = this.#fieldPath()
    this.#expect('rparen')
    return { kind: 'aggregate', fn, offset: tok.offset, ...(arg !== undefined ? { arg } : {}) }
  }

  /**
   * An alias: a non-reserved identifier right after a select item and before `,`, `FROM` or `)`
   * (so that `SELECT Id FORM Account` still reports the misspelt keyword).
   */
  #alias(): string | undefined {
    const next = this.#peek()
    if (next.kind !== 'ident' || RESERVED.has(next.value.toUpperCase())) return undefined
    const after = this.#peek(1)
    const ends =
      after.kind === 'comma' ||
      after.kind === 'rparen' ||
      (after.kind === 'ident' && after.value.toUpperCase() === 'FROM')
    return ends ? this.#next().value : undefined
  }

  #fieldPath(): FieldPath {
    const first = this.#next()
    if (first.kind !== 'ident' || RESERVED.has(first.value.toUpperCase()))
      throw this.#unexpected(first)
    const path = [first.value]
    while (this.#peek().kind === 'dot') {
      this.#next()
      const seg = this.#next()
      if (seg.kind !== 'ident') throw this.#unexpected(seg)
      path.push(seg.value)
    }
    return { kind: 'field', path, offset: first.offset }
  }

  #conditionExpr(): Condition {
    const first = this.#unary()
    const operands = [first]
    let connective: 'AND' | 'OR' | undefined
    while (this.#isKeyword('AND') || this.#isKeyword('OR')) {
      const tok = this.#next()
      const kw = tok.value.toUpperCase() as 'AND' | 'OR'
      if (connective !== undefined && kw !== connective) throw this.#unexpected(tok)
      connective = kw
      operands.push(this.#unary())
    }
    if (connective === undefined) return first
    return { kind: connective === 'AND' ? 'and' : 'or', operands }
  }

  #unary(): Condition {
    if (this.#isKeyword('NOT')) {
      this.#next()
      return { kind: 'not', operand: this.#unary() }
    }
    if (this.#peek().kind === 'lparen') {
      this.#next()
      const inner = this.#conditionExpr()
      this.#expect('rparen')
      return inner
    }
    return this.#simpleCondition()
  }

  #simpleCondition(): Condition {
    const tok = this.#peek()
    if (
      tok.kind === 'ident' &&
      AGGREGATE_FNS.has(tok.value.toUpperCase()) &&
      this.#peek(1).kind === 'lparen'
    ) {
      const aggregate = this.#aggregate()
      const opTok = this.#next()
      if (opTok.kind !== 'op') throw this.#unexpected(opTok)
      const op = opTok.value === '<>' ? '!=' : (opTok.value as CompareOp)
      return { kind: 'aggregateCompare', aggregate, op, value: this.#literal() }
    }
    if (tok.kind === 'ident' && this.#peek(1).kind === 'lparen') {
      throw soqlError(
        this.#soql,
        tok.offset,
        `function ${tok.value} is not supported by the Salesforce emulator`,
      )
    }
    const field = this.#fieldPath()
    const opTok = this.#next()
    if (opTok.kind === 'op') {
      const op = opTok.value === '<>' ? '!=' : (opTok.value as CompareOp)
      return { kind: 'compare', field, op, value: this.#literal() }
    }
    const kw = opTok.kind === 'ident' ? opTok.value.toUpperCase() : ''
    if (kw === 'LIKE') return { kind: 'compare', field, op: 'LIKE', value: this.#literal() }
    if (kw === 'IN') return { kind: 'in', field, negated: false, values: this.#literalList() }
    if (kw === 'NOT' && this.#isKeyword('IN')) {
      this.#next()
      return { kind: 'in', field, negated: true, values: this.#literalList() }
    }
    if (kw === 'INCLUDES' || kw === 'EXCLUDES') {
      throw soqlError(this.#soql, opTok.offset, `${kw} is not supported by the Salesforce emulator`)
    }
    throw this.#unexpected(opTok)
  }

  #literalList(): Literal[] {
    const open = this.#peek()
    if (open.kind === 'colon')
      throw soqlError(this.#soql, open.offset, 'Bind variables only allowed in Apex code')
    this.#expect('lparen')
    if (this.#peek().kind === 'ident' && this.#peek().value.toUpperCase() === 'SELECT') {
      throw soqlError(
        this.#soql,
        this.#peek().offset,
        'semi-join subqueries are not supported by the Salesforce emulator',
      )
    }
    const values = [this.#literal()]
    while (this.#peek().kind === 'comma') {
      this.#next()
      values.push(this.#literal())
    }
    this.#expect('rparen')
    return values
  }

  #literal(): Literal {
    const tok = this.#next()
    const base = { offset: tok.offset, text: tok.text }
    switch (tok.kind) {
      case 'string':
        return { ...base, kind: 'string', value: tok.value }
      case 'number':
        return { ...base, kind: 'number', value: Number(tok.value) }
      case 'date':
        return { ...base, kind: 'date', value: tok.value }
      case 'datetime':
        return { ...base, kind: 'datetime', value: tok.value }
      case 'colon':
        throw soqlError(this.#soql, tok.offset, 'Bind variables only allowed in Apex code')
      case 'ident': {
        const upper = tok.value.toUpperCase()
        if (upper === 'NULL') return { ...base, kind: 'null' }
        if (upper === 'TRUE' || upper === 'FALSE')
          return { ...base, kind: 'boolean', value: upper === 'TRUE' }
        if (RELATIVE_DATES.has(upper))
          return { ...base, kind: 'relativeDate', name: upper as DateLiteralName, n: 0 }
        if (RELATIVE_N_DATES.has(upper)) {
          this.#expect('colon')
          const nTok = this.#next()
          if (nTok.kind !== 'number' || !/^\d+$/.test(nTok.value)) throw this.#unexpected(nTok)
          return {
            ...base,
            text: this.#soql.slice(tok.offset, nTok.offset + nTok.text.length),
            kind: 'relativeDate',
            name: upper as DateLiteralName,
            n: Number(nTok.value),
          }
        }
        throw this.#unexpected(tok)
      }
      default:
        throw this.#unexpected(tok)
    }
  }

  #orderItem(): OrderItem {
    const tok = this.#peek()
    const field =
      tok.kind === 'ident' &&
      AGGREGATE_FNS.has(tok.value.toUpperCase()) &&
      this.#peek(1).kind === 'lparen'
        ? this.#aggregate()
        : this.#fieldPath()
    let descending = false
    if (this.#isKeyword('ASC') || this.#isKeyword('DESC'))
      descending = this.#next().value.toUpperCase() === 'DESC'
    let nullsLast = descending
    if (this.#isKeyword('NULLS')) {
      this.#next()
      const which = this.#next()
      const w = which.value.toUpperCase()
      if (which.kind !== 'ident' || (w !== 'FIRST' && w !== 'LAST')) throw this.#unexpected(which)
      nullsLast = w === 'LAST'
    }
    return { field, descending, nullsLast }
  }

  #nonNegativeInt(): number {
    const tok = this.#next()
    if (tok.kind === 'colon')
      throw soqlError(this.#soql, tok.offset, 'Bind variables only allowed in Apex code')
    if (tok.kind !== 'number' || !/^\d+$/.test(tok.value)) throw this.#unexpected(tok)
    return Number(tok.value)
  }

  #peek(ahead = 0): Token {
    return this.#tokens[Math.min(this.#pos + ahead, this.#tokens.length - 1)] as Token
  }

  #next(): Token {
    const tok = this.#peek()
    if (this.#pos < this.#tokens.length - 1) this.#pos++
    return tok
  }

  #isKeyword(kw: string): boolean {
    const tok = this.#peek()
    return tok.kind === 'ident' && tok.value.toUpperCase() === kw
  }

  #expectKeyword(kw: string): void {
    if (!this.#isKeyword(kw)) throw this.#unexpected(this.#peek())
    this.#next()
  }

  #expect(kind: Token['kind']): Token {
    const tok = this.#next()
    if (tok.kind !== kind) throw this.#unexpected(tok)
    return tok
  }

  #unexpected(tok: Token): Error {
    return soqlError(
      this.#soql,
      tok.offset,
      `unexpected token: '${tok.kind === 'eof' ? '<EOF>' : tok.text}'`,
    )
  }
}

/**
 * Parses a SOQL query.
 *
 * @throws {DataApiError} 400 `MALFORMED_QUERY` with Salesforce's "unexpected token: 'X'" message.
 * @example parseSoql("SELECT Id, Account.Name FROM Contact WHERE LastName LIKE 'S%' LIMIT 10")
 */
export function parseSoql(soql: string): SoqlQuery {
  return new Parser(soql).parse()
}
