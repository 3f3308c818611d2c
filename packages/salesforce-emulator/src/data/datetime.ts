/**
 * Salesforce date and datetime wire formats: dates are `YYYY-MM-DD`, datetimes are UTC with
 * milliseconds and a `+0000` offset, e.g. `2026-11-29T00:00:00.000+0000`.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_dateformats.htm
 */

const DAY_MS = 86_400_000

/** One day in milliseconds. */
export const ONE_DAY_MS = DAY_MS

/** Formats epoch milliseconds as a Salesforce datetime, e.g. `2026-11-29T00:00:00.000+0000`. */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000')
}

/** Formats epoch milliseconds as a Salesforce date (`YYYY-MM-DD`, UTC). */
export function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/
const DATETIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/

/** Epoch milliseconds of UTC midnight of a `YYYY-MM-DD` date, or undefined if invalid. */
export function parseDate(text: string): number | undefined {
  const m = DATE_RE.exec(text)
  if (m === null) return undefined
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
  return formatDate(ms) === text ? ms : undefined
}

/**
 * Epoch milliseconds of an ISO-8601 datetime with an explicit zone (`Z`, `+0000`, `+00:00`),
 * or undefined if invalid.
 */
export function parseDateTime(text: string): number | undefined {
  const m = DATETIME_RE.exec(text)
  if (m === null) return undefined
  const date = parseDate(`${m[1]}-${m[2]}-${m[3]}`)
  if (date === undefined) return undefined
  const [h, min, s] = [Number(m[4]), Number(m[5]), Number(m[6])]
  if (h > 23 || min > 59 || s > 59) return undefined
  const frac = Number(((m[7] ?? '') + '000').slice(0, 3))
  const zone = m[8] ?? 'Z'
  let offsetMin = 0
  if (zone !== 'Z') {
    const digits = zone.replace(':', '')
    offsetMin =
      (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))) * (zone[0] === '-' ? -1 : 1)
  }
  return date + ((h * 60 + min - offsetMin) * 60 + s) * 1000 + frac
}

/** UTC midnight at or before `ms`. */
export function startOfDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS
}
