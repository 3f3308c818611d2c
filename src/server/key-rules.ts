/**
 * Client key rules: `Name`, `Name:METHODS` or `Name:METHODS:/path/prefix*` — a Named Credential,
 * optionally narrowed to methods (`GET|HEAD`, `*` for any) and a path (a trailing `*` makes it a
 * prefix). Parsed once, at `callout keys create`, with errors that name the fix.
 */
import { NAME_PATTERN } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'

/** One parsed rule. */
export interface KeyRule {
  readonly credential: string
  /** Upper-case methods; `undefined` allows every method. */
  readonly methods?: ReadonlySet<string>
  /** The path (relative to the Named Credential URL) or prefix; `undefined` allows every path. */
  readonly path?: { readonly value: string; readonly prefix: boolean }
}

const METHOD = /^[A-Z]+$/

function invalid(rule: string, why: string): CalloutError {
  return new CalloutError(
    'INVALID_ARGUMENT',
    `--allow ${JSON.stringify(rule)}: ${why}. Write Name, Name:GET|POST or Name:GET:/services/data/*.`,
    { details: { rule } },
  )
}

/**
 * Parses one rule. Throws `INVALID_ARGUMENT` naming the rule and the fix.
 *
 * @example
 * parseKeyRule('Target:GET|HEAD:/services/data/*')
 * // { credential: 'Target', methods: Set { 'GET', 'HEAD' }, path: { value: '/services/data/', prefix: true } }
 */
export function parseKeyRule(rule: string): KeyRule {
  const [credential = '', methods, path, ...rest] = rule.trim().split(':')
  if (rest.length > 0) throw invalid(rule, 'a rule has at most three parts separated by ":"')
  if (!NAME_PATTERN.test(credential)) {
    throw invalid(rule, `"${credential}" is not a Named Credential name`)
  }
  let methodSet: Set<string> | undefined
  if (methods !== undefined && methods !== '' && methods !== '*') {
    methodSet = new Set(methods.split('|').map((m) => m.trim().toUpperCase()))
    for (const m of methodSet) if (!METHOD.test(m)) throw invalid(rule, `"${m}" is not a method`)
  }
  let pathRule: KeyRule['path']
  if (path !== undefined && path !== '' && path !== '*' && path !== '/*') {
    if (!path.startsWith('/')) throw invalid(rule, 'the path must start with "/"')
    if (/[?#%\\]|\/\.\.?(?:\/|$|\*)/.test(path)) {
      throw invalid(rule, 'the path must be a plain path (no ?, #, %, \\ or dot segments)')
    }
    const prefix = path.endsWith('*')
    const value = prefix ? path.slice(0, -1) : path
    if (value.includes('*')) throw invalid(rule, '"*" is allowed only at the end of the path')
    pathRule = { value, prefix }
  }
  return {
    credential,
    ...(methodSet === undefined ? {} : { methods: methodSet }),
    ...(pathRule === undefined ? {} : { path: pathRule }),
  }
}

/**
 * Parses a comma-separated `--allow` list (one or more rules).
 *
 * @example
 * parseKeyRules('Target:GET,Billing') // two rules
 */
export function parseKeyRules(list: string): KeyRule[] {
  const rules = list
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '')
  if (rules.length === 0) throw invalid(list, 'give at least one rule')
  return rules.map(parseKeyRule)
}

/**
 * True when a rule allows `method` on `path` (the path relative to the credential URL, already
 * checked against the callout URL rules: no dot segments, no encoded slashes) of `credential`.
 *
 * @example
 * ruleAllows(parseKeyRule('Target:GET:/services/data/*'), 'Target', 'GET', '/services/data/v61.0/query')
 * // true
 */
export function ruleAllows(
  rule: KeyRule,
  credential: string,
  method: string,
  path: string,
): boolean {
  if (rule.credential !== credential) return false
  if (rule.methods !== undefined && !rule.methods.has(method.toUpperCase())) return false
  if (rule.path === undefined) return true
  return rule.path.prefix ? path.startsWith(rule.path.value) : path === rule.path.value
}

/**
 * Writes a rule back in its `--allow` syntax.
 *
 * @example
 * formatKeyRule(parseKeyRule('Target:get')) // 'Target:GET'
 */
export function formatKeyRule(rule: KeyRule): string {
  const methods = rule.methods === undefined ? '*' : [...rule.methods].join('|')
  const path =
    rule.path === undefined ? undefined : `${rule.path.value}${rule.path.prefix ? '*' : ''}`
  if (path !== undefined) return `${rule.credential}:${methods}:${path}`
  return rule.methods === undefined ? rule.credential : `${rule.credential}:${methods}`
}
