/**
 * `callout:[ns__]Name[/path][?query]` URLs (DESIGN §3): parsing with one rule per hostile input,
 * and resolution against a Named Credential's URL by concatenation.
 */
import {
  DEFAULTS,
  NAME_PATTERN,
  type Definitions,
  type NamedCredential,
} from '../definitions/model.ts'
import { isLoopbackHost } from '../definitions/url-rules.ts'
import { closest } from '../definitions/issues.ts'
import { CalloutError } from '../errors.ts'

/** The rule a malformed callout URL broke, reported as `details.rule`. */
export type CalloutUrlRule =
  | 'not-a-string'
  | 'bad-scheme'
  | 'plain-url-not-allowed'
  | 'plain-url-invalid'
  | 'bad-name'
  | 'no-userinfo'
  | 'no-backslash'
  | 'no-scheme-relative'
  | 'no-encoded-slash'
  | 'no-control-chars'
  | 'no-dot-segments'
  | 'no-dot-segment-params'
  | 'bad-utf8-escape'
  | 'no-fragment'
  | 'bad-percent-encoding'
  | 'escapes-base'

/** A parsed `callout:` URL. `pathAndQuery` is `''` or starts with `/` or `?`. */
export interface ParsedCalloutUrl {
  readonly kind: 'callout'
  /** The name as written, namespace prefix included (`ns__Name`). */
  readonly name: string
  readonly path: string
  /** Without the `?`; undefined when absent. */
  readonly query?: string
}

/** A plain `https://` URL the caller explicitly allowed; used as-is with no credential. */
export interface PlainUrl {
  readonly kind: 'plain'
  readonly url: URL
}

/** Options for {@link parseCalloutUrl}. */
export interface ParseCalloutUrlOptions {
  /** Accept a plain `https://` URL (used as-is, no credential). Default false. */
  readonly allowPlainUrl?: boolean
}

const CALLOUT_SCHEME = 'callout:'
// C0 controls, space, DEL, C1 controls, and any Unicode whitespace.
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f-\u009f\s\u2028\u2029\ufeff]/u
const ENCODED_SLASH = /%(?:25)*(?:2f|5c)/i
const ENCODED_CONTROL = /%(?:25)*(?:[01][0-9a-f]|7f)/i
const BAD_PERCENT = /%(?![0-9a-f]{2})/i
const ESCAPE = /%[0-9a-f]{2}/i
const ESCAPES = /(?:%[0-9a-f]{2})+/gi
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true })

function malformed(rule: CalloutUrlRule, message: string): CalloutError {
  return new CalloutError('CALLOUT_URL_MALFORMED', `Malformed callout URL (${rule}): ${message}`, {
    details: { rule },
  })
}

/**
 * Parses a `callout:` URL (or, with `allowPlainUrl`, a plain `https://` URL). Throws
 * `CALLOUT_URL_MALFORMED` with `details.rule` naming the broken rule.
 *
 * @example
 * parseCalloutUrl('callout:Salesforce/services/data/v61.0/query?q=SELECT+Id+FROM+Account')
 * // { kind: 'callout', name: 'Salesforce', path: '/services/data/v61.0/query', query: 'q=SELECT+Id+FROM+Account' }
 * parseCalloutUrl('callout:Api/../admin') // throws CALLOUT_URL_MALFORMED, details.rule 'no-dot-segments'
 */
export function parseCalloutUrl(
  input: string | URL,
  options: ParseCalloutUrlOptions = {},
): ParsedCalloutUrl | PlainUrl {
  if (input instanceof URL) input = input.href
  if (typeof input !== 'string') {
    throw malformed('not-a-string', 'pass a string such as "callout:Name/path".')
  }
  if (CONTROL_OR_SPACE.test(input)) {
    throw malformed(
      'no-control-chars',
      'the URL contains whitespace or a control character; percent-encode spaces in the query (%20 or +).',
    )
  }
  if (input.includes('#')) {
    throw malformed('no-fragment', 'a fragment (#…) is never sent to a server; remove it.')
  }
  if (input.includes('\\')) {
    throw malformed('no-backslash', 'backslashes are not allowed; use / in paths.')
  }
  if (input.slice(0, CALLOUT_SCHEME.length).toLowerCase() !== CALLOUT_SCHEME) {
    return parsePlainUrl(input, options)
  }
  const rest = input.slice(CALLOUT_SCHEME.length)
  if (rest.startsWith('//')) {
    throw malformed(
      'no-scheme-relative',
      'write callout:Name/path (no slashes between "callout:" and the credential name).',
    )
  }
  const end = rest.search(/[/?]/)
  const name = end === -1 ? rest : rest.slice(0, end)
  const after = end === -1 ? '' : rest.slice(end)
  checkName(name)
  const q = after.indexOf('?')
  const path = q === -1 ? after : after.slice(0, q)
  const query = q === -1 ? undefined : after.slice(q + 1)
  checkPath(path)
  if (query !== undefined) checkQuery(query)
  return { kind: 'callout', name, path, ...(query === undefined || query === '' ? {} : { query }) }
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > DEFAULTS.maxNameLength + 20 || !NAME_PATTERN.test(name)) {
    throw malformed(
      'bad-name',
      `"${name.slice(0, 40)}" is not a Named Credential name; names match [A-Za-z][A-Za-z0-9_]* (optionally prefixed ns__).`,
    )
  }
}

function checkPath(path: string): void {
  if (path.startsWith('//')) {
    throw malformed('no-scheme-relative', 'the path must not start with "//".')
  }
  if (path.includes('@')) {
    throw malformed('no-userinfo', '"@" is not allowed in the path; percent-encode it as %40.')
  }
  checkPercentEncoding(path)
  if (ENCODED_SLASH.test(path)) {
    throw malformed(
      'no-encoded-slash',
      'encoded slashes (%2F, %5C) are not allowed in the path; they can change the path an upstream sees.',
    )
  }
  for (const segment of path.split('/')) checkSegment(segment)
}

/**
 * A path segment must not be, once decoded (every layer of escapes, `%252e` included, and
 * NFKC-normalised: `．` is a dot), `.` or `..` — nor `.`/`..` followed by a path parameter or
 * whitespace (`..;`, `.. `), which Tomcat, Spring and others treat as `..`. Escapes must decode
 * to valid UTF-8: overlong forms such as `%c0%ae` (a `.` to lenient decoders) are refused.
 */
function checkSegment(segment: string): void {
  if (segment === '') return
  const plain = !segment.includes('%') && /^[\x21-\x7e]*$/.test(segment)
  if (plain && segment.charCodeAt(0) !== 0x2e) return // cannot be a dot segment: the hot path
  // Each layer is shorter than the one before, so this ends.
  for (let layer = segment; ; layer = decodeEscapes(layer)) {
    checkDotSegment(layer)
    if (!plain) checkDotSegment(layer.normalize('NFKC'))
    if (!ESCAPE.test(layer)) return
  }
}

function checkDotSegment(decoded: string): void {
  if (decoded === '.' || decoded === '..') {
    throw malformed(
      'no-dot-segments',
      '"." and ".." path segments are not allowed; write the path from the credential\'s base.',
    )
  }
  // What a lenient server keeps of the segment: the part before a parameter, trimmed.
  const core = (decoded.split(/[;,]/, 1)[0] ?? '').trim()
  if (core === '.' || core === '..') {
    throw malformed(
      'no-dot-segment-params',
      '"." or ".." followed by ";", whitespace or another parameter (such as "..;") is not allowed; servers read it as "..". Write the path from the credential\'s base.',
    )
  }
}

/** Decodes one layer of `%XX` escapes; each run of escapes must be valid UTF-8. */
function decodeEscapes(part: string): string {
  return part.replace(ESCAPES, (run) => {
    const bytes = Buffer.from(run.replace(/%/g, ''), 'hex')
    try {
      return STRICT_UTF8.decode(bytes)
    } catch {
      throw malformed(
        'bad-utf8-escape',
        'percent-escapes in the path must encode valid UTF-8 (overlong forms such as %C0%AE are refused); encode the path as UTF-8.',
      )
    }
  })
}

/**
 * True when `pathname` (a URL's path, already normalised by `URL`) is `basePath` or under it, and
 * none of its segments is a dot segment in disguise (`..;`, `%c0%ae`, …) that a lenient server
 * would resolve out of it. `basePath` has no trailing `/`; `''` means the whole origin.
 *
 * @example
 * isWithinBasePath('/api/v1/items', '/api/v1') // true
 * isWithinBasePath('/api/v1/..;/admin', '/api/v1') // false
 */
export function isWithinBasePath(pathname: string, basePath: string): boolean {
  if (basePath !== '' && pathname !== basePath && !pathname.startsWith(`${basePath}/`)) {
    return false
  }
  try {
    for (const segment of pathname.split('/')) checkSegment(segment)
    return true
  } catch {
    return false
  }
}

/** The query may carry encoded slashes (`?url=https%3A%2F%2F…` is ordinary); not controls. */
function checkQuery(query: string): void {
  checkPercentEncoding(query)
}

function checkPercentEncoding(part: string): void {
  if (BAD_PERCENT.test(part)) {
    throw malformed(
      'bad-percent-encoding',
      '"%" must start a %XX escape; write a literal % as %25.',
    )
  }
  if (ENCODED_CONTROL.test(part)) {
    throw malformed(
      'no-control-chars',
      'encoded control characters (%00–%1F, %7F) are not allowed.',
    )
  }
}

function parsePlainUrl(input: string, options: ParseCalloutUrlOptions): PlainUrl {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(input)?.[1]?.toLowerCase()
  if (scheme !== 'https' && scheme !== 'http') {
    throw malformed(
      'bad-scheme',
      'write callout:Name/path (or a plain https:// URL with allowPlainUrl).',
    )
  }
  if (options.allowPlainUrl !== true) {
    throw malformed(
      'plain-url-not-allowed',
      'a plain URL was given where a callout:Name URL is expected; pass { allowPlainUrl: true } to call it without a credential.',
    )
  }
  let url: URL
  try {
    url = new URL(input)
  } catch {
    throw malformed('plain-url-invalid', 'the plain URL does not parse.')
  }
  if (url.username !== '' || url.password !== '') {
    throw malformed('no-userinfo', 'the plain URL contains user:password@; remove it.')
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw malformed(
      'plain-url-invalid',
      'plain URLs must use https:// (http:// only for loopback hosts).',
    )
  }
  return { kind: 'plain', url }
}

/**
 * `CREDENTIAL_NOT_FOUND` for `name`, suggesting the closest known name (names are case-sensitive:
 * `callout:target` does not find `Target`).
 *
 * @example
 * credentialNotFound('target', ['Target']).message
 * // 'No Named Credential is called "target" — did you mean "Target"? (names are case-sensitive) …'
 */
export function credentialNotFound(name: string, known: Iterable<string>): CalloutError {
  const suggestion = closest(name, [...known])
  const hint =
    suggestion === undefined
      ? ''
      : ` — did you mean ${JSON.stringify(suggestion)}?${suggestion.toLowerCase() === name.toLowerCase() ? ' (names are case-sensitive)' : ''}`
  return new CalloutError(
    'CREDENTIAL_NOT_FOUND',
    `No Named Credential is called ${JSON.stringify(name)}${hint}. List the names with \`callout list\`.`,
    { details: { namedCredential: name, ...(suggestion === undefined ? {} : { suggestion }) } },
  )
}

/**
 * Finds the Named Credential a parsed URL names: the exact name first, else the name without a
 * `ns__` namespace prefix. Throws `CREDENTIAL_NOT_FOUND` or `CREDENTIAL_DISABLED`.
 *
 * @example
 * findNamedCredential(defs, 'acme__Salesforce') // the 'Salesforce' credential when no 'acme__Salesforce' exists
 */
export function findNamedCredential(defs: Definitions, name: string): NamedCredential {
  let nc = defs.namedCredentials.get(name)
  if (nc === undefined) {
    const sep = name.indexOf('__')
    if (sep > 0) nc = defs.namedCredentials.get(name.slice(sep + 2))
  }
  if (nc === undefined) throw credentialNotFound(name, defs.namedCredentials.keys())
  if (!nc.enabled) {
    throw new CalloutError(
      'CREDENTIAL_DISABLED',
      `Named Credential ${nc.name} is disabled; enable it to make callouts.`,
      { details: { namedCredential: nc.name } },
    )
  }
  return nc
}

const baseCache = new Map<string, { base: URL; basePath: string }>()

function parseBase(baseUrl: string): { base: URL; basePath: string } {
  let entry = baseCache.get(baseUrl)
  if (entry === undefined) {
    const base = new URL(baseUrl)
    entry = { base, basePath: base.pathname.replace(/\/+$/, '') }
    if (baseCache.size > 1_000) baseCache.clear()
    baseCache.set(baseUrl, entry)
  }
  return entry
}

/**
 * Joins the parsed path and query to a Named Credential URL by concatenation (one `/` at the
 * join), and checks that the result keeps the credential's scheme, host, port and base path.
 *
 * @example
 * joinCalloutUrl('https://api.example.com/v1/', { kind: 'callout', name: 'Api', path: '/users', query: 'a=1' })
 * // URL https://api.example.com/v1/users?a=1
 */
export function joinCalloutUrl(baseUrl: string, parsed: ParsedCalloutUrl): URL {
  const { base, basePath } = parseBase(baseUrl)
  let path = parsed.path
  if (path === '' && parsed.query === undefined) path = base.pathname === '/' ? '/' : ''
  const joined = `${base.origin}${basePath}${path}${parsed.query === undefined ? '' : `?${parsed.query}`}`
  let url: URL | undefined
  try {
    url = new URL(joined)
  } catch {
    url = undefined
  }
  if (
    url === undefined ||
    url.origin !== base.origin ||
    url.username !== '' ||
    url.password !== '' ||
    (basePath !== '' && url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`))
  ) {
    throw malformed('escapes-base', "the path would leave the credential's base URL.")
  }
  return url
}

/**
 * Parses a callout URL and resolves it against the definitions.
 *
 * @example
 * const { namedCredential, url } = resolveCalloutUrl(defs, 'callout:Api/users?limit=10')
 */
export function resolveCalloutUrl(
  defs: Definitions,
  input: string | URL,
): { readonly namedCredential: NamedCredential; readonly url: URL } {
  const parsed = parseCalloutUrl(input)
  if (parsed.kind === 'plain') throw new CalloutError('INTERNAL', 'unreachable: plain URL')
  const namedCredential = findNamedCredential(defs, parsed.name)
  return { namedCredential, url: joinCalloutUrl(namedCredential.url, parsed) }
}
