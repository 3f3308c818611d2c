/**
 * A small, safe formula language for computed headers and merge fields, after Salesforce's
 * Named Credential formulas. No `eval`: formulas are parsed once into an AST and interpreted.
 *
 * Grammar (whitespace allowed between tokens):
 *
 * ```
 * formula  := expr
 * expr     := term ( '&' term )*                      concatenation
 * term     := string | '{!' expr '}' | call | field
 * string   := "'" … "'" | '"' … '"'                   escapes: \\ \' \" \n \t
 * call     := NAME '(' [ expr ( ',' expr )* ] ')'     BASE64ENCODE, BLOB, HMAC, TEXT, HEX,
 *                                                     URLENCODE, HTMLENCODE
 * field    := '$' NAME ( '.' NAME )*                   e.g. $Credential.MyEC.ApiKey
 * ```
 *
 * Merge fields: `$Credential.<ExternalCredential>.<Parameter>` (principal parameters, then
 * secrets), `$Credential.<ExternalCredential>.OAuthToken`, and the legacy
 * `$Credential.OAuthToken`, `$Credential.UserName`, `$Credential.Password`; in a JWT subject,
 * `$User.Username` (the end user of a per-user principal).
 *
 * Values are text or bytes: `BLOB(text)` gives UTF-8 bytes, `HMAC(alg, data, key)` gives bytes,
 * `BASE64ENCODE`/`HEX`/`TEXT` give text. `&` joins text only.
 *
 * Merge fields are evaluated in headers and bodies only — **never in URLs** — and only when the
 * NamedCredential allows it (`allowMergeFieldsInHeader`/`allowMergeFieldsInBody`); the caller
 * decides, this module only evaluates.
 *
 * @example
 * const f = compileFormula(`{!'Basic ' & BASE64ENCODE(BLOB($Credential.MyEC.Username & ':' & $Credential.MyEC.Password))}`)
 * evaluateHeaderFormula(f, { externalCredential: 'MyEC', parameters: { Username: 'u' }, secrets: { Password: new Secret('p') } })
 */
import { createHmac } from 'node:crypto'
import { CalloutError } from '../errors.ts'
import type { Secret } from '../secrets/secret.ts'

/** Longest formula source accepted: 8 KiB. */
export const MAX_FORMULA_LENGTH = 8192
/** Longest evaluated value (text characters or bytes): 8 KiB. */
export const MAX_FORMULA_OUTPUT = 8192
const MAX_DEPTH = 32

/** A parsed formula node. `pos` is the 0-based offset in the source. */
export type FormulaNode =
  | { readonly kind: 'string'; readonly value: string; readonly pos: number }
  | { readonly kind: 'field'; readonly path: readonly string[]; readonly pos: number }
  | {
      readonly kind: 'call'
      readonly name: string
      readonly args: readonly FormulaNode[]
      readonly pos: number
    }
  | { readonly kind: 'concat'; readonly parts: readonly FormulaNode[]; readonly pos: number }

/** A compiled formula: parse once, evaluate per request. */
export interface CompiledFormula {
  readonly source: string
  readonly ast: FormulaNode
}

/** What merge fields can read. */
export interface FormulaContext {
  /** The ExternalCredential's name (`$Credential.<this>.<Parameter>`). */
  readonly externalCredential: string
  readonly parameters: Readonly<Record<string, string>>
  readonly secrets: Readonly<Record<string, Secret>>
  /** The current access token, for `$Credential.OAuthToken`. */
  readonly token?: Secret
  /** The end user of a per-user principal, for `$User.Username` (JWT subjects only). */
  readonly user?: { readonly username: string }
}

type Value = string | Uint8Array

function invalid(message: string, pos?: number): CalloutError {
  return new CalloutError(
    'FORMULA_INVALID',
    pos === undefined ? message : `${message} (at position ${pos + 1}).`,
    { details: pos === undefined ? {} : { position: pos + 1 } },
  )
}

class Parser {
  pos: number
  depth = 0
  constructor(
    readonly src: string,
    start = 0,
  ) {
    this.pos = start
  }

  skip(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] ?? '')) this.pos++
  }

  peek(): string {
    return this.src[this.pos] ?? ''
  }

  expr(): FormulaNode {
    if (++this.depth > MAX_DEPTH) throw invalid('The formula nests too deeply', this.pos)
    const start = this.pos
    const parts = [this.term()]
    this.skip()
    while (this.peek() === '&') {
      this.pos++
      parts.push(this.term())
      this.skip()
    }
    this.depth--
    return parts.length === 1 ? (parts[0] as FormulaNode) : { kind: 'concat', parts, pos: start }
  }

  term(): FormulaNode {
    this.skip()
    const start = this.pos
    const c = this.peek()
    if (c === "'" || c === '"') return this.string(c)
    if (c === '{' && this.src[this.pos + 1] === '!') {
      this.pos += 2
      const inner = this.expr()
      this.skip()
      if (this.peek() !== '}') throw invalid('Expected "}" to close "{!"', this.pos)
      this.pos++
      return inner
    }
    if (c === '$') {
      this.pos++
      const path = [this.name('a merge field name after "$"')]
      while (this.peek() === '.') {
        this.pos++
        path.push(this.name('a name after "."'))
      }
      return { kind: 'field', path, pos: start }
    }
    if (/[A-Za-z]/.test(c)) {
      const name = this.name('a function name').toUpperCase()
      this.skip()
      if (this.peek() !== '(') {
        throw invalid(`Expected "(" after ${name}; quote literal text with '…'`, this.pos)
      }
      this.pos++
      const args: FormulaNode[] = []
      this.skip()
      if (this.peek() === ')') {
        this.pos++
      } else {
        for (;;) {
          args.push(this.expr())
          this.skip()
          const d = this.peek()
          this.pos++
          if (d === ')') break
          if (d !== ',') throw invalid('Expected "," or ")" in the argument list', this.pos - 1)
        }
      }
      return { kind: 'call', name, args, pos: start }
    }
    if (c === '') throw invalid('The formula ends where a value was expected', this.pos)
    throw invalid(
      `Unexpected character ${JSON.stringify(c)}; quote literal text with '…'`,
      this.pos,
    )
  }

  name(what: string): string {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos, this.pos + 256))
    if (m === null) throw invalid(`Expected ${what}`, this.pos)
    this.pos += m[0].length
    return m[0]
  }

  string(quote: string): FormulaNode {
    const start = this.pos
    this.pos++
    let out = ''
    for (;;) {
      const c = this.src[this.pos]
      if (c === undefined) throw invalid('Unterminated string literal', start)
      this.pos++
      if (c === quote) return { kind: 'string', value: out, pos: start }
      if (c === '\\') {
        const e = this.src[this.pos]
        this.pos++
        if (e === 'n') out += '\n'
        else if (e === 't') out += '\t'
        else if (e === '\\' || e === "'" || e === '"') out += e
        else throw invalid('Unknown escape in string literal', this.pos - 2)
      } else {
        out += c
      }
    }
  }
}

/**
 * Parses a formula once.
 *
 * @throws CalloutError `FORMULA_INVALID` naming the position of the first error.
 * @example
 * const f = compileFormula("'Bearer ' & $Credential.OAuthToken")
 */
export function compileFormula(source: string): CompiledFormula {
  if (typeof source !== 'string') throw invalid('A formula must be a string')
  if (source.length > MAX_FORMULA_LENGTH) {
    throw invalid(`The formula is longer than ${MAX_FORMULA_LENGTH} characters`)
  }
  const p = new Parser(source)
  const ast = p.expr()
  p.skip()
  if (p.pos !== source.length) {
    throw invalid('Unexpected text after the end of the formula; join values with "&"', p.pos)
  }
  return { source, ast }
}

function lookupField(path: readonly string[], ctx: FormulaContext, pos: number): Value {
  const name = `$${path.join('.')}`
  const unknown = (): CalloutError =>
    invalid(
      `Unknown merge field ${name}. Use $Credential.${ctx.externalCredential}.<Parameter> with a parameter or secret of the principal`,
      pos,
    )
  if (path[0] === 'User') {
    if (path.length !== 2 || (path[1] ?? '').toLowerCase() !== 'username') {
      throw invalid(`Unknown merge field ${name}; the one $User field is $User.Username`, pos)
    }
    if (ctx.user === undefined) {
      throw invalid(
        `${name} has a value only in jwt.subject of a per-user principal (the user option)`,
        pos,
      )
    }
    return ctx.user.username
  }
  if (path[0] !== 'Credential') throw unknown()
  const token = (): string => {
    if (ctx.token === undefined) {
      throw invalid(`${name} has no value: this credential has no OAuth access token`, pos)
    }
    return ctx.token.reveal()
  }
  if (path.length === 2) {
    const legacy = (path[1] ?? '').toLowerCase()
    if (legacy === 'oauthtoken') return token()
    if (legacy === 'username') return param(ctx, 'username') ?? throwUnknown(unknown)
    if (legacy === 'password') return secret(ctx, 'password') ?? throwUnknown(unknown)
    throw unknown()
  }
  if (path.length === 3 && path[1] === ctx.externalCredential) {
    const key = path[2] ?? ''
    const value = param(ctx, key) ?? secret(ctx, key)
    if (value !== undefined) return value
    if (key.toLowerCase() === 'oauthtoken') return token()
  }
  throw unknown()
}

function throwUnknown(make: () => CalloutError): never {
  throw make()
}

function findKey(record: Readonly<Record<string, unknown>>, key: string): string | undefined {
  if (Object.hasOwn(record, key)) return key
  const lower = key.toLowerCase()
  return Object.keys(record).find((k) => k.toLowerCase() === lower)
}

function param(ctx: FormulaContext, key: string): string | undefined {
  const k = findKey(ctx.parameters, key)
  return k === undefined ? undefined : ctx.parameters[k]
}

function secret(ctx: FormulaContext, key: string): string | undefined {
  const k = findKey(ctx.secrets, key)
  return k === undefined ? undefined : ctx.secrets[k]?.reveal()
}

function capped(value: Value, pos: number): Value {
  const size = typeof value === 'string' ? value.length : value.byteLength
  if (size > MAX_FORMULA_OUTPUT) {
    throw invalid(`The formula's value is longer than ${MAX_FORMULA_OUTPUT} characters`, pos)
  }
  return value
}

function asText(value: Value, fn: string, pos: number): string {
  if (typeof value === 'string') return value
  throw invalid(`${fn} needs text but got bytes; wrap them in BASE64ENCODE(), HEX() or TEXT()`, pos)
}

function asBytes(value: Value): Uint8Array {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value
}

const HMAC_ALGS: Readonly<Record<string, string>> = {
  sha1: 'sha1',
  'sha-1': 'sha1',
  hmacsha1: 'sha1',
  sha256: 'sha256',
  'sha-256': 'sha256',
  hmacsha256: 'sha256',
  sha512: 'sha512',
  'sha-512': 'sha512',
  hmacsha512: 'sha512',
}

function arity(name: string, args: readonly FormulaNode[], n: number, pos: number): void {
  if (args.length !== n) {
    throw invalid(`${name} takes ${n} argument${n === 1 ? '' : 's'}, got ${args.length}`, pos)
  }
}

function evaluate(node: FormulaNode, ctx: FormulaContext): Value {
  switch (node.kind) {
    case 'string':
      return capped(node.value, node.pos)
    case 'field':
      return capped(lookupField(node.path, ctx, node.pos), node.pos)
    case 'concat': {
      let out = ''
      for (const part of node.parts) {
        out += asText(evaluate(part, ctx), '"&"', part.pos)
        capped(out, node.pos)
      }
      return out
    }
    case 'call': {
      const args = node.args
      const v = (i: number): Value => evaluate(args[i] as FormulaNode, ctx)
      switch (node.name) {
        case 'BASE64ENCODE':
          arity(node.name, args, 1, node.pos)
          return capped(Buffer.from(asBytes(v(0))).toString('base64'), node.pos)
        case 'HEX':
          arity(node.name, args, 1, node.pos)
          return capped(Buffer.from(asBytes(v(0))).toString('hex'), node.pos)
        case 'BLOB':
          arity(node.name, args, 1, node.pos)
          return capped(asBytes(v(0)), node.pos)
        case 'TEXT': {
          arity(node.name, args, 1, node.pos)
          const x = v(0)
          return typeof x === 'string' ? x : Buffer.from(x).toString('utf8')
        }
        case 'URLENCODE':
          arity(node.name, args, 1, node.pos)
          return capped(encodeURIComponent(asText(v(0), node.name, node.pos)), node.pos)
        case 'HTMLENCODE':
          arity(node.name, args, 1, node.pos)
          return capped(htmlEncode(asText(v(0), node.name, node.pos)), node.pos)
        case 'HMAC': {
          arity(node.name, args, 3, node.pos)
          const alg = HMAC_ALGS[asText(v(0), node.name, node.pos).toLowerCase()]
          if (alg === undefined) {
            throw invalid("HMAC's algorithm must be 'sha1', 'sha256' or 'sha512'", node.pos)
          }
          const data = asBytes(v(1))
          const key = asBytes(v(2))
          return new Uint8Array(createHmac(alg, key).update(data).digest())
        }
        default:
          throw invalid(
            `Unknown function ${node.name}; use BASE64ENCODE, BLOB, HMAC, TEXT, HEX, URLENCODE or HTMLENCODE`,
            node.pos,
          )
      }
    }
  }
}

function htmlEncode(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/**
 * Evaluates a compiled formula to text.
 *
 * @throws CalloutError `FORMULA_INVALID` for unknown merge fields or functions, type errors, or a
 *   value over {@link MAX_FORMULA_OUTPUT}. Messages name fields, never their values.
 */
export function evaluateFormula(formula: CompiledFormula, ctx: FormulaContext): string {
  return asText(evaluate(formula.ast, ctx), 'A formula result', formula.ast.pos)
}

/**
 * Evaluates a formula for use as a header value.
 *
 * @throws CalloutError `HEADER_INJECTION` when the value contains CR, LF or NUL (never a header
 *   split), plus everything {@link evaluateFormula} throws.
 * @example
 * evaluateHeaderFormula(compileFormula('$Credential.Api.key'), ctx) // 'k-123'
 */
export function evaluateHeaderFormula(formula: CompiledFormula, ctx: FormulaContext): string {
  return assertHeaderSafe(evaluateFormula(formula, ctx))
}

/** Throws `HEADER_INJECTION` when `value` contains CR, LF or NUL; returns it otherwise. */
export function assertHeaderSafe(value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new CalloutError(
      'HEADER_INJECTION',
      'A computed header value contains CR, LF or NUL and was not sent. Check the parameters and secrets the formula reads.',
    )
  }
  return value
}

/**
 * Replaces every `{!expr}` merge field in `text` (a header value or a body) with its value;
 * text outside merge fields is kept as-is. Used only when the NamedCredential allows merge
 * fields in that place; never applied to URLs.
 *
 * @param options.header when true, the result must not contain CR, LF or NUL (`HEADER_INJECTION`).
 * @throws CalloutError `FORMULA_INVALID` for an unterminated `{!` or an invalid expression.
 * @example
 * mergeTemplate('<password>{!HTMLENCODE($Credential.Password)}</password>', ctx)
 */
export function mergeTemplate(
  text: string,
  ctx: FormulaContext,
  options: { header?: boolean } = {},
): string {
  let out = ''
  let i = 0
  for (;;) {
    const at = text.indexOf('{!', i)
    if (at < 0) {
      out += text.slice(i)
      break
    }
    out += text.slice(i, at)
    const p = new Parser(text, at + 2)
    const ast = p.expr()
    p.skip()
    if (p.peek() !== '}') throw invalid('Expected "}" to close "{!"', p.pos)
    out += asText(evaluate(ast, ctx), 'A merge field', ast.pos)
    i = p.pos + 1
  }
  return options.header === true ? assertHeaderSafe(out) : out
}
