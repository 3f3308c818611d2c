/**
 * Configuration problems: one shape for every check (schema, URL rules, cross-references), one
 * way to turn a list of them into a `CONFIG_INVALID` error.
 */
import { CalloutError } from '../errors.ts'

/** A path into a configuration document, e.g. `['namedCredentials', 'Api', 'url']`. */
export type ConfigPath = readonly (string | number)[]

/** One problem found in a configuration. `message` says what is wrong and how to fix it. */
export interface ConfigIssue {
  /** Dotted path, e.g. `namedCredentials.Api.url` or `externalCredentials.E.authHeaders[0].name`. */
  readonly path: string
  readonly message: string
  /** The path as segments, for locating the issue in the file (not part of error details). */
  readonly at?: ConfigPath
  /** The 1-based line of the file the issue is on, when the configuration came from text. */
  readonly line?: number
}

const PLAIN_SEGMENT = /^[A-Za-z_$][A-Za-z0-9_$-]*$/

/**
 * Formats a path the way messages show it: `a.b[0].c`; odd keys are quoted (`a["x.y"]`).
 *
 * @example
 * formatPath(['namedCredentials', 'Api', 'headers', 0]) // 'namedCredentials.Api.headers[0]'
 */
export function formatPath(path: ConfigPath): string {
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`
    else if (PLAIN_SEGMENT.test(segment)) out += out === '' ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out === '' ? '(root)' : out
}

/**
 * The segments of a path written by {@link formatPath} (array indexes as strings).
 *
 * @example
 * parsePath('externalCredentials["no spaces"].principals[0]') // ['externalCredentials', 'no spaces', 'principals', '0']
 */
export function parsePath(path: string): string[] {
  const segments: string[] = []
  for (const m of path.matchAll(/\[("(?:[^"\\]|\\.)*")\]|\[(\d+)\]|\.?([^.[\]]+)/g)) {
    if (m[1] !== undefined) segments.push(JSON.parse(m[1]) as string)
    else segments.push(m[2] ?? m[3] ?? '')
  }
  return segments
}

/** Builds a {@link ConfigIssue}. */
export function issue(path: ConfigPath, message: string): ConfigIssue {
  return { path: formatPath(path), message, at: path }
}

/**
 * The `CONFIG_INVALID` error for a list of issues: one line per issue (`path (line n): problem —
 * fix`), and `details.issues` with the same list. `source` names the file when there is one.
 */
export function configInvalid(
  issues: readonly ConfigIssue[],
  source?: string,
  extraDetails: Readonly<Record<string, unknown>> = {},
): CalloutError {
  const where = source === undefined ? 'The configuration' : `The configuration in ${source}`
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`
  const lines = issues.map(
    (i) => `  ${i.path}${i.line === undefined ? '' : ` (line ${i.line})`}: ${i.message}`,
  )
  return new CalloutError('CONFIG_INVALID', `${where} has ${count}:\n${lines.join('\n')}`, {
    details: {
      ...(source === undefined ? {} : { source }),
      ...extraDetails,
      issues: issues.map((i) => ({
        path: i.path,
        message: i.message,
        ...(i.line === undefined ? {} : { line: i.line }),
      })),
    },
  })
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, previous + cost)
      previous = above
    }
  }
  return row[b.length] ?? 0
}

/**
 * The candidate closest to `word`, when it is close enough to be a plausible typo.
 *
 * @example
 * closest('consumerSecrt', ['consumerKey', 'consumerSecret']) // 'consumerSecret'
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of candidates) {
    const d = distance(word, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3))
  return bestDistance <= limit ? best : undefined
}

/**
 * The message for a reference to a definition that does not exist, with the closest existing
 * name as "did you mean" when there is a plausible one.
 *
 * @example
 * unknownReference('AuthProvider', 'Ipd', 'authProviders', ['Idp'])
 * // 'names the AuthProvider Ipd, which is not defined — did you mean Idp? Otherwise add it under authProviders or fix the name'
 */
export function unknownReference(
  kind: string,
  name: string,
  section: string,
  candidates: Iterable<string>,
): string {
  const suggestion = closest(name, [...candidates])
  return `names the ${kind} ${name}, which is not defined — ${suggestion === undefined ? '' : `did you mean ${suggestion}? Otherwise `}add it under ${section} or fix the name`
}
