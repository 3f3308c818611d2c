/**
 * One pass over a parsed config document that reports every problem at once: malformed and
 * missing references, schema problems (unknown keys with "did you mean"), URL rules and
 * cross-references — so fixing one problem never reveals the next.
 */
import { CalloutError } from '../errors.ts'
import { collectDefinitions } from './build.ts'
import type { ConfigWarning } from './build.ts'
import { withLines } from './issue-lines.ts'
import { configInvalid } from './issues.ts'
import type { ConfigIssue, ConfigPath } from './issues.ts'
import type { Definitions } from './model.ts'
import { referenceMissing, scanReferences } from './references.ts'
import type { ReferenceOptions } from './references.ts'
import { validateDocument } from './schema.ts'

/** Options for {@link checkDocument}. */
export interface CheckDocumentOptions extends ReferenceOptions {
  readonly onWarning?: (warning: ConfigWarning) => void
  /** The line of a path in the file, when the document came from text. */
  readonly locate?: (path: ConfigPath) => number | undefined
}

/**
 * Resolves references, validates and builds a parsed config document.
 *
 * @throws CalloutError `CONFIG_REFERENCE_MISSING` when unresolvable references are the only
 *   problem; otherwise `CONFIG_INVALID` listing every problem found (missing references
 *   included, also in `details.references`), each with its path and, from text, its line.
 */
export function checkDocument(document: unknown, options: CheckDocumentOptions = {}): Definitions {
  const scan = scanReferences(document, options)
  // A value whose reference failed is unknown: checks of it (empty, not a URL, not PEM) would
  // only repeat the reference problem.
  const unknown: ConfigPath[] = [...scan.issues, ...scan.missing].flatMap((i) =>
    i.at === undefined ? [] : [i.at],
  )
  const problems: ConfigIssue[] = [...scan.issues]
  const add = (issues: readonly ConfigIssue[]): void => {
    for (const i of issues) if (!unknown.some((at) => isUnder(i.at, at))) problems.push(i)
  }

  let validated = validateDocument(scan.value)
  if (!validated.ok) {
    add(validated.issues)
    // Unknown keys do not stop the remaining checks: they run without those keys.
    if (validated.unknownKeys.length > 0) {
      validated = validateDocument(without(scan.value, validated.unknownKeys))
    }
  }
  let definitions: Definitions | undefined
  if (validated.ok) {
    const built = collectDefinitions(validated.config, {
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
      ...(options.source === undefined ? {} : { source: options.source }),
    })
    add(built.issues)
    definitions = built.definitions
  }

  const missing = withLines(scan.missing, options.locate)
  if (problems.length === 0 && missing.length > 0) throw referenceMissing(missing, options.source)
  if (problems.length > 0) {
    const all: ConfigIssue[] = [
      ...problems,
      ...scan.missing.map((m) => ({
        path: m.path,
        at: m.at,
        message: `${m.reference} cannot be resolved: ${m.reason}`,
      })),
    ]
    throw configInvalid(
      withLines(all, options.locate),
      options.source,
      missing.length === 0
        ? {}
        : {
            references: missing.map((m) => ({
              reference: m.reference,
              path: m.path,
              reason: m.reason,
            })),
          },
    )
  }
  if (definitions === undefined)
    throw new CalloutError('INTERNAL', 'The configuration was not built.')
  return definitions
}

/** True when `path` is `prefix` or below it. */
function isUnder(path: ConfigPath | undefined, prefix: ConfigPath): boolean {
  if (path === undefined || path.length < prefix.length) return false
  return prefix.every((segment, index) => path[index] === segment)
}

/** A copy of the document without the keys at `paths`. */
function without(document: unknown, paths: readonly ConfigPath[]): unknown {
  const copy = (value: unknown, path: ConfigPath): unknown => {
    if (Array.isArray(value)) return value.map((item, index) => copy(item, [...path, index]))
    if (
      value === null ||
      typeof value !== 'object' ||
      Object.getPrototypeOf(value) !== Object.prototype
    )
      return value
    const entries = Object.entries(value)
      .filter(
        ([key]) => !paths.some((p) => p.length === path.length + 1 && isUnder([...path, key], p)),
      )
      .map(([key, item]) => [key, copy(item, [...path, key])])
    return Object.fromEntries(entries)
  }
  return copy(document, [])
}
