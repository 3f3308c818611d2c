/**
 * Reading a configuration file (`callout.yaml` / `callout.json`) into the {@link Definitions}
 * model: parse (YAML or JSON, size-limited, alias-limited), resolve references, validate, build.
 */
import { readFile, stat } from 'node:fs/promises'
import { dirname, extname, resolve as resolvePath } from 'node:path'
import { parseDocument } from 'yaml'
import { CalloutError } from '../errors.ts'
import type { ConfigWarning } from './build.ts'
import { checkDocument } from './check-document.ts'
import { lineLocator } from './issue-lines.ts'
import type { ConfigPath } from './issues.ts'
import { DEFAULTS } from './model.ts'
import type { Definitions } from './model.ts'

/** The text formats a configuration can be written in. */
export type ConfigFormat = 'yaml' | 'json'

/** Options for {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Format of a text input; default `yaml` (ignored for an object input). */
  readonly format?: ConfigFormat
  /** Directory relative `${file:…}` references are read from; default the working directory. */
  readonly baseDir?: string
  /** Environment for `${env:…}` references; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Accept literal secrets (admin API, tests). Config files must use references. Default false. */
  readonly allowInlineSecrets?: boolean
  /** Receives warnings (insecure switches, the password flow); default `process.emitWarning`. */
  readonly onWarning?: (warning: ConfigWarning) => void
  /** Names the source (e.g. the file path) in error messages. */
  readonly source?: string
}

/** Options for {@link loadConfigFile}. */
export type LoadConfigOptions = Omit<ParseConfigOptions, 'format' | 'baseDir' | 'source'>

/**
 * Parses a configuration given as text (YAML or JSON) or as an already-parsed object.
 *
 * @throws CalloutError `CONFIG_INVALID` (syntax with line and column, size, schema, URL rules,
 *   cross-references, inline secrets), listing every problem of the document at once with its
 *   path (and line, for text); `CONFIG_REFERENCE_MISSING` when unresolvable references are the
 *   only problem.
 * @example
 * const defs = parseConfig(
 *   'namedCredentials: { Api: { url: "https://api.example.com", identityType: anonymous } }',
 *   { format: 'yaml' },
 * )
 * defs.namedCredentials.get('Api')?.url // 'https://api.example.com'
 */
export function parseConfig(input: string | object, options: ParseConfigOptions = {}): Definitions {
  const source = options.source
  let document: unknown = input
  if (typeof input === 'string') {
    document = parseConfigText(input, options.format ?? 'yaml', source)
  }
  if (document === null || document === undefined) document = {}
  // The `serve` section is read by `callout serve -f` (serve-config.ts), not stored: its
  // references are not resolved here, so applying a file never needs the server's secrets.
  if (
    typeof document === 'object' &&
    document !== null &&
    !Array.isArray(document) &&
    'serve' in document
  ) {
    const { serve: _serve, ...definitionsOnly } = document as Record<string, unknown>
    document = definitionsOnly
  }
  // Lines are looked up only when there is a problem to report.
  let locate: ((path: ConfigPath) => number | undefined) | undefined
  return checkDocument(document, {
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.baseDir === undefined ? {} : { baseDir: options.baseDir }),
    ...(options.allowInlineSecrets === undefined
      ? {}
      : { allowInlineSecrets: options.allowInlineSecrets }),
    ...(source === undefined ? {} : { source }),
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    ...(typeof input === 'string'
      ? {
          locate: (path: ConfigPath) =>
            (locate ??= lineLocator(input, options.format ?? 'yaml'))(path),
        }
      : {}),
  })
}

/**
 * Reads and parses a configuration file. `.json` files are read as JSON, anything else as YAML.
 * Relative `${file:…}` references are resolved against the file's directory.
 *
 * @throws CalloutError `CONFIG_INVALID` for a missing or unreadable file, a directory, a file over
 *   1 MiB, and everything {@link parseConfig} throws.
 * @example
 * const defs = await loadConfigFile('./callout.yaml')
 */
export async function loadConfigFile(
  path: string,
  options: LoadConfigOptions = {},
): Promise<Definitions> {
  const { file, text } = await readConfigText(path)
  return parseConfig(text, {
    ...options,
    format: formatOf(file),
    baseDir: dirname(file),
    source: file,
  })
}

/** The format a config file is read in: `.json` files as JSON, anything else as YAML. */
export function formatOf(file: string): ConfigFormat {
  return extname(file).toLowerCase() === '.json' ? 'json' : 'yaml'
}

/**
 * Reads a config file's text (at most 1 MiB; not a directory).
 *
 * @throws CalloutError `CONFIG_INVALID` for a missing, unreadable, directory or oversized file.
 * @example
 * const { file, text } = await readConfigText('./callout.yaml')
 */
export async function readConfigText(path: string): Promise<{ file: string; text: string }> {
  const file = resolvePath(path)
  try {
    const info = await stat(file)
    if (info.isDirectory()) {
      throw new CalloutError(
        'CONFIG_INVALID',
        `${file} is a directory — give the path of a config file, e.g. ${file}/callout.yaml`,
        {
          details: { source: file, issues: [{ path: '(file)', message: 'is a directory' }] },
        },
      )
    }
    if (info.size > DEFAULTS.maxConfigBytes) throw tooLarge(info.size, file)
    return { file, text: await readFile(file, 'utf8') }
  } catch (error) {
    if (error instanceof CalloutError) throw error
    const code = (error as NodeJS.ErrnoException).code
    const reason =
      code === 'ENOENT' || code === 'ENOTDIR'
        ? 'does not exist — check the path, or create it with `callout init`'
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot be read (permission denied) — fix its permissions'
          : `cannot be read (${code ?? 'unknown error'})`
    throw new CalloutError('CONFIG_INVALID', `The config file ${file} ${reason}`, {
      cause: error,
      details: { source: file, issues: [{ path: '(file)', message: reason }] },
    })
  }
}

/**
 * Parses config text (YAML or JSON) into a document, with the size limit, duplicate keys refused
 * and YAML aliases limited. Nothing is resolved or validated.
 *
 * @throws CalloutError `CONFIG_INVALID` with the line and column of a syntax error.
 * @example
 * parseConfigText('serve: { port: 7070 }', 'yaml') // { serve: { port: 7070 } }
 */
export function parseConfigText(text: string, format: ConfigFormat, source?: string): unknown {
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > DEFAULTS.maxConfigBytes) throw tooLarge(bytes, source)
  return format === 'json' ? parseJson(text, source) : parseYaml(text, source)
}

function tooLarge(bytes: number, source: string | undefined): CalloutError {
  const message = `is ${bytes} bytes, over the ${DEFAULTS.maxConfigBytes}-byte limit — split it or remove unused definitions`
  return new CalloutError(
    'CONFIG_INVALID',
    `The configuration${source === undefined ? '' : ` in ${source}`} ${message}`,
    {
      details: {
        ...(source === undefined ? {} : { source }),
        issues: [{ path: '(file)', message }],
      },
    },
  )
}

function syntaxError(
  format: ConfigFormat,
  line: number,
  column: number,
  problem: string,
  source: string | undefined,
  cause: unknown,
): CalloutError {
  const where = `line ${line}, column ${column}`
  const message = `${problem} — fix the ${format === 'json' ? 'JSON' : 'YAML'} syntax`
  return new CalloutError(
    'CONFIG_INVALID',
    `The configuration${source === undefined ? '' : ` in ${source}`} is not valid ${format === 'json' ? 'JSON' : 'YAML'} at ${where}: ${message}`,
    {
      cause,
      details: {
        ...(source === undefined ? {} : { source }),
        line,
        column,
        issues: [{ path: `(${where})`, message }],
      },
    },
  )
}

/** The first syntax error of a YAML (or JSON, which is YAML 1.2) text: position and problem. */
function firstSyntaxError(
  text: string,
  schema: 'core' | 'json',
): { line: number; column: number; problem: string } | undefined {
  const doc = parseDocument(text, { schema, uniqueKeys: true, prettyErrors: true })
  const first = doc.errors[0]
  if (first === undefined) return undefined
  const pos = first.linePos?.[0] ?? { line: 1, col: 1 }
  // prettyErrors appends the offending source lines after the first line: never show them.
  const problem = (first.message.split('\n')[0] ?? 'syntax error')
    .replace(/ at line \d+, column \d+:?$/, '')
    // Some messages quote a scalar from the document (it may be a secret): never show it.
    .replace(/"[^"]*"/g, '"…"')
  return { line: pos.line, column: pos.col, problem }
}

function parseYaml(text: string, source: string | undefined): unknown {
  let doc: ReturnType<typeof parseDocument>
  let error: ReturnType<typeof firstSyntaxError>
  try {
    error = firstSyntaxError(text, 'core')
    doc = parseDocument(text, { schema: 'core', uniqueKeys: true })
  } catch {
    throw syntaxError(
      'yaml',
      1,
      1,
      'the document cannot be parsed (nested too deeply?)',
      source,
      undefined,
    )
  }
  if (error !== undefined)
    throw syntaxError('yaml', error.line, error.column, error.problem, source, undefined)
  try {
    return doc.toJS({ maxAliasCount: DEFAULTS.maxYamlAliasCount })
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : ''
    const problem = /alias/i.test(message)
      ? `uses YAML aliases too many times (more than ${DEFAULTS.maxYamlAliasCount} expansions) — write the values out instead of using anchors and aliases`
      : 'cannot be converted to data — remove custom tags and anchors'
    throw new CalloutError(
      'CONFIG_INVALID',
      `The configuration${source === undefined ? '' : ` in ${source}`} ${problem}`,
      {
        details: {
          ...(source === undefined ? {} : { source }),
          issues: [{ path: '(root)', message: problem }],
        },
      },
    )
  }
}

function parseJson(text: string, source: string | undefined): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    // V8's message quotes the source (which may hold a secret) and, on Node 20, has no position:
    // locate the error with the YAML parser, which reads JSON as YAML 1.2.
    let located: ReturnType<typeof firstSyntaxError>
    try {
      located = firstSyntaxError(text, 'json')
    } catch {
      located = undefined
    }
    const { line, column, problem } = located ?? {
      line: 1,
      column: 1,
      problem: 'the text is not valid JSON',
    }
    throw syntaxError('json', line, column, problem, source, undefined)
  }
}
