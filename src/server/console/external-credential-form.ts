/**
 * The External Credential form's JWT settings (`jwt`) and formula headers (`authHeaders`): the
 * form fields a stored entry shows, the entry fields a posted form gives, and the form field a
 * config issue belongs under. Pure functions; the config file's validation stays the judge of
 * every value (these only turn form text into the config document's shapes).
 */
import { field, trimmedField } from './console-plugin.ts'

/** Form values by field name. */
export type FormValues = Record<string, string | boolean | undefined>

/** One formula header row of the form. */
export interface HeaderRow {
  name: string
  formula: string
  sequence: string
}

/** The form field of each `jwt` setting. */
export const JWT_FIELDS = Object.freeze({
  issuer: 'jwtIssuer',
  subject: 'jwtSubject',
  audience: 'jwtAudience',
  validitySeconds: 'jwtValiditySeconds',
  algorithm: 'jwtAlgorithm',
  keyId: 'jwtKeyId',
  additionalClaims: 'jwtAdditionalClaims',
} as const)

type JwtKey = keyof typeof JWT_FIELDS

/**
 * The most header rows read from one form: the config file's 50 and the blank rows the form adds.
 * Named headers beyond 50 are refused by the config's own limit.
 */
export const MAX_HEADER_ROWS = 60

/** The longest whole number the form reads as a number (longer is refused before validation). */
const MAX_DIGITS = 9

/**
 * A whole number typed in a form field, or a problem for `problems[key]`; `''` is undefined.
 *
 * @example
 * wholeNumber('300', 'jwtValiditySeconds', 'A whole number of seconds (1–86400).', problems) // 300
 */
export function wholeNumber(
  text: string,
  key: string,
  problem: string,
  problems: FormValues,
): number | undefined {
  if (text === '') return undefined
  if (new RegExp(`^\\d{1,${MAX_DIGITS}}$`).test(text)) return Number(text)
  problems[key] = problem
  return undefined
}

/**
 * The form values of a stored entry's `jwt` (audience one per line, additional claims as JSON).
 *
 * @example
 * jwtValuesOf({ jwt: { audience: ['a', 'b'], validitySeconds: 120 } })
 * // { jwtAudience: 'a\nb', jwtValiditySeconds: '120', jwtIssuer: '', … }
 */
export function jwtValuesOf(entry: Record<string, unknown>): FormValues {
  const jwt = (entry.jwt ?? {}) as Partial<Record<JwtKey, unknown>>
  const values: FormValues = {}
  for (const [key, name] of Object.entries(JWT_FIELDS) as [JwtKey, string][]) {
    const value = jwt[key]
    values[name] =
      value === undefined
        ? ''
        : key === 'additionalClaims'
          ? JSON.stringify(value, null, 2)
          : Array.isArray(value)
            ? value.join('\n')
            : String(value)
  }
  return values
}

/**
 * The `jwt` of a posted form, or undefined when every JWT field is empty. Text the form cannot
 * turn into the config's shape (a lifetime that is not a number, claims that are not a JSON
 * object) goes to `problems` under its field; everything else is left to the config's validation.
 * The config file keeps `audience` as written — a string, or a list (even of one, which signs
 * `aud` as a JSON array): one audience line is a string, unless the stored entry `stored` has a
 * list, which it then stays.
 *
 * @example
 * readJwt({ jwtAudience: 'https://a' }, {}, {}, { jwt: { audience: ['https://old'] } })
 * // { audience: ['https://a'] }
 */
export function readJwt(
  body: Record<string, unknown>,
  values: FormValues,
  problems: FormValues,
  stored?: Record<string, unknown>,
): Record<string, unknown> | undefined {
  for (const name of Object.values(JWT_FIELDS)) {
    values[name] =
      name === 'jwtAudience' || name === 'jwtAdditionalClaims'
        ? multiline(body, name)
        : trimmedField(body, name)
  }
  const jwt: Record<string, unknown> = {}
  for (const key of ['issuer', 'subject', 'algorithm', 'keyId'] as const) {
    const text = String(values[JWT_FIELDS[key]])
    if (text !== '') jwt[key] = text
  }
  const audience = lines(String(values.jwtAudience))
  const storedAudience = (stored?.jwt as Record<string, unknown> | undefined)?.audience
  if (audience.length > 0)
    jwt.audience = audience.length === 1 && !Array.isArray(storedAudience) ? audience[0] : audience
  const validity = wholeNumber(
    String(values.jwtValiditySeconds),
    'jwtValiditySeconds',
    'A whole number of seconds (1–86400).',
    problems,
  )
  if (validity !== undefined) jwt.validitySeconds = validity
  const claims = String(values.jwtAdditionalClaims).trim()
  if (claims !== '') {
    let parsed: unknown
    try {
      parsed = JSON.parse(claims)
    } catch {
      parsed = undefined
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      jwt.additionalClaims = parsed
    } else {
      problems.jwtAdditionalClaims = 'A JSON object, e.g. {"scope": "api"}.'
    }
  }
  return Object.keys(jwt).length === 0 ? undefined : jwt
}

/**
 * The non-empty lines of a text area, each trimmed (one host or audience per line).
 *
 * @example
 * lines(' a.example \r\n\r\nb.example') // ['a.example', 'b.example']
 */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
}

/**
 * A form field as a text area keeps it: line ends as LF.
 *
 * @example
 * multiline({ hosts: 'a\r\nb' }, 'hosts') // 'a\nb'
 */
export function multiline(body: Record<string, unknown>, name: string): string {
  return field(body, name).replace(/\r\n/g, '\n')
}

/**
 * A PEM as the forms take it: line ends as LF, surrounding space trimmed.
 *
 * @example
 * pemField({ key: '  -----BEGIN…\r\n' }, 'key') // '-----BEGIN…'
 */
export function pemField(body: Record<string, unknown>, name: string): string {
  return multiline(body, name).trim()
}

/**
 * `value` with every string's `${` written as `$${`: what the admin typed is stored as typed, never
 * resolved as a `${env:…}` or `${file:…}` reference (those would read the server's files, or put a
 * stored secret into a field the form shows). References belong in the config file.
 *
 * @example
 * literal({ subject: '${env:KEY}' }) // { subject: '$${env:KEY}' }
 */
export function literal<T>(value: T): T {
  return mapStrings(value, (text) => text.replaceAll('${', () => '$${'))
}

/**
 * A stored entry as the form shows it: the export's `$${` (a literal `${`) back to `${`; the
 * inverse of {@link literal}.
 *
 * @example
 * typed({ formula: "'cost $${5}'" }) // { formula: "'cost ${5}'" }
 */
export function typed<T>(value: T): T {
  return mapStrings(value, (text) => text.replaceAll('$${', () => '${'))
}

function mapStrings<T>(value: T, change: (text: string) => string): T {
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') return change(item)
    if (Array.isArray(item)) return item.map(walk)
    if (item !== null && typeof item === 'object')
      return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, walk(v)]))
    return item
  }
  return walk(value) as T
}

/**
 * The header rows of a stored entry's `authHeaders`, in their stored order.
 *
 * @example
 * headerRowsOf({ authHeaders: [{ name: 'X-Tenant', formula: "'acme'" }] })
 * // [{ name: 'X-Tenant', formula: "'acme'", sequence: '' }]
 */
export function headerRowsOf(entry: Record<string, unknown>): HeaderRow[] {
  const list = (entry.authHeaders ?? []) as Record<string, unknown>[]
  return list.map((h: Record<string, unknown>) => ({
    name: String(h.name ?? ''),
    formula: String(h.formula ?? ''),
    sequence: h.sequence === undefined ? '' : String(h.sequence),
  }))
}

/**
 * The header rows of a posted form (`h<i>.name`, `h<i>.formula`, `h<i>.sequence`), the
 * `authHeaders` they give (rows without a name are left out), and for each header the row it
 * came from. A formula is taken as typed except for surrounding spaces: a CR or LF in it reaches
 * the config's validation, which refuses it.
 */
export function readHeaders(
  body: Record<string, unknown>,
  problems: FormValues,
): { rows: HeaderRow[]; headers: Record<string, unknown>[]; rowOf: number[] } {
  const rows: HeaderRow[] = []
  const headers: Record<string, unknown>[] = []
  const rowOf: number[] = []
  for (let i = 0; i < MAX_HEADER_ROWS && body[`h${i}.name`] !== undefined; i++) {
    const row: HeaderRow = {
      name: field(body, `h${i}.name`).replace(/^[ \t]+|[ \t]+$/g, ''),
      formula: field(body, `h${i}.formula`).replace(/^[ \t]+|[ \t]+$/g, ''),
      sequence: trimmedField(body, `h${i}.sequence`),
    }
    rows.push(row)
    if (row.name === '') {
      if (row.formula !== '' || row.sequence !== '')
        problems[`h${i}.name`] = 'A header with a formula or a sequence needs a name.'
      continue
    }
    const header: Record<string, unknown> = { name: row.name, formula: row.formula }
    const sequence = wholeNumber(
      row.sequence,
      `h${i}.sequence`,
      'A whole number (0–10000).',
      problems,
    )
    if (sequence !== undefined) header.sequence = sequence
    headers.push(header)
    rowOf.push(i)
  }
  if (body[`h${MAX_HEADER_ROWS}.name`] !== undefined)
    problems.authHeaders = `The form has more than ${MAX_HEADER_ROWS} header rows; the configuration allows 50 headers.`
  return { rows, headers, rowOf }
}

/**
 * The form field a config issue under `jwt` or `authHeaders` belongs to, and the message to show
 * there (a key below the field, such as a claim name, leads the message). `parts` is the issue's
 * path after `externalCredentials.<name>`.
 *
 * @example
 * fieldOfIssue(['jwt', 'algorithm'], 'must be one of …', []) // { key: 'jwtAlgorithm', message: 'must be one of …' }
 * fieldOfIssue(['authHeaders', '1', 'name'], 'is not a valid HTTP header name …', [0, 2]) // { key: 'h2.name', … }
 */
export function fieldOfIssue(
  parts: readonly string[],
  message: string,
  rowOf: readonly number[],
): { key: string; message: string } | undefined {
  const [section, child, leaf] = parts
  if (section === 'jwt') {
    if (child === undefined || !Object.hasOwn(JWT_FIELDS, child)) return { key: 'jwt', message }
    const key = JWT_FIELDS[child as JwtKey]
    return {
      key,
      message: child === 'additionalClaims' && leaf !== undefined ? `${leaf} ${message}` : message,
    }
  }
  if (section === 'authHeaders') {
    const row = child === undefined ? undefined : rowOf[Number(child)]
    if (row === undefined) return { key: 'authHeaders', message }
    return { key: `h${row}.${leaf === 'name' || leaf === 'sequence' ? leaf : 'formula'}`, message }
  }
  return undefined
}
