/**
 * SOQL lexer: turns query text into tokens with their offsets. Keywords are not special here;
 * the parser matches identifiers case-insensitively. Every failure is a `MALFORMED_QUERY`
 * {@link DataApiError}.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm
 */

import { DataApiError } from '../errors.ts'

/** Token kinds. */
export type TokenKind =
  | 'ident'
  | 'string'
  | 'number'
  | 'date'
  | 'datetime'
  | 'op'
  | 'comma'
  | 'dot'
  | 'lparen'
  | 'rparen'
  | 'colon'
  | 'eof'

/** One token. `value` is the decoded text (string literals unescaped). */
export interface Token {
  readonly kind: TokenKind
  readonly value: string
  /** Offset of the first character in the query text. */
  readonly offset: number
  /** The token as written. */
  readonly text: string
}

/**
 * The `MALFORMED_QUERY` error for `message` at `offset`, with Salesforce's caret and
 * "ERROR at Row:…:Column:…" preamble.
 */
export function soqlError(
  soql: string,
  offset: number,
  message: string,
  errorCode:
    | 'MALFORMED_QUERY'
    | 'INVALID_FIELD'
    | 'INVALID_TYPE'
    | 'INVALID_QUERY_FILTER_OPERATOR' = 'MALFORMED_QUERY',
): DataApiError {
  const before = soql.slice(0, offset)
  const row = before.split('\n').length
  const column = offset - (before.lastIndexOf('\n') + 1) + 1
  const line = soql.split('\n')[row - 1] ?? ''
  return new DataApiError(
    400,
    errorCode,
    `\n${line}\n${' '.repeat(column - 1)}^\nERROR at Row:${row}:Column:${column}\n${message}`,
  )
}

const ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
  // LIKE reads the raw token text to tell an escaped % or _ from a wildcard
  '%': '%',
  _: '_',
}

const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})/
const DATE_RE = /^\d{4}-\d{2}-\d{2}(?![0-9A-Za-z_])/
const NUMBER_RE = /^(?:\d+(?:\.\d*)?|\.\d+)(?![A-Za-z_])/
const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*/

/** Tokenizes `soql`; the last token is `eof`. */
export function lex(soql: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const push = (kind: TokenKind, value: string, start: number, end: number): void => {
    tokens.push({ kind, value, offset: start, text: soql.slice(start, end) })
    i = end
  }
  while (i < soql.length) {
    const c = soql[i] ?? ''
    if (/\s/.test(c)) {
      i++
      continue
    }
    const rest = soql.slice(i)
    if (c === "'") {
      let value = ''
      let j = i + 1
      for (;;) {
        const ch = soql[j]
        if (ch === undefined) throw soqlError(soql, i, "mismatched character '<EOF>' expecting '''")
        if (ch === "'") break
        if (ch === '\\') {
          const next = soql[j + 1]
          const decoded = next === undefined ? undefined : ESCAPES[next]
          if (decoded === undefined) {
            throw soqlError(
              soql,
              j,
              `Invalid string literal '${soql.slice(i, j + 2)}'. Illegal character sequence '\\${next ?? ''}' in string literal.`,
            )
          }
          value += decoded
          j += 2
          continue
        }
        value += ch
        j++
      }
      push('string', value, i, j + 1)
      continue
    }
    const dt = DATETIME_RE.exec(rest)
    if (dt !== null) {
      push('datetime', dt[0], i, i + dt[0].length)
      continue
    }
    const d = DATE_RE.exec(rest)
    if (d !== null) {
      push('date', d[0], i, i + d[0].length)
      continue
    }
    const n = NUMBER_RE.exec(rest)
    if (n !== null) {
      push('number', n[0], i, i + n[0].length)
      continue
    }
    const id = IDENT_RE.exec(rest)
    if (id !== null) {
      push('ident', id[0], i, i + id[0].length)
      continue
    }
    const two = rest.slice(0, 2)
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
      push('op', two, i, i + 2)
      continue
    }
    if (c === '=' || c === '<' || c === '>') {
      push('op', c, i, i + 1)
      continue
    }
    if (c === '-' || c === '+') {
      const signed = NUMBER_RE.exec(rest.slice(1))
      if (signed !== null) {
        push('number', c + signed[0], i, i + 1 + signed[0].length)
        continue
      }
    }
    const single: Partial<Record<string, TokenKind>> = {
      ',': 'comma',
      '.': 'dot',
      '(': 'lparen',
      ')': 'rparen',
      ':': 'colon',
    }
    const kind = single[c]
    if (kind !== undefined) {
      push(kind, c, i, i + 1)
      continue
    }
    throw soqlError(soql, i, `unexpected token: '${c}'`)
  }
  tokens.push({ kind: 'eof', value: '<EOF>', offset: soql.length, text: '' })
  return tokens
}
