/**
 * `${env:NAME}` and `${file:path}` references in configuration values, resolved before the
 * schema sees the document. Secret fields become {@link Secret}s right here, so no later step
 * (schema messages, cross-checks, errors) can print their values.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import { isAbsolute, resolve as resolvePath } from 'node:path'
import { CalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import { configInvalid, formatPath, issue } from './issues.ts'
import type { ConfigIssue, ConfigPath } from './issues.ts'
import { DEFAULTS } from './model.ts'

/** Options for {@link resolveReferences}. */
export interface ReferenceOptions {
  /** Environment for `${env:…}`; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Directory that relative `${file:…}` paths are resolved against; default the working directory. */
  readonly baseDir?: string
  /**
   * Accept literal values in secret fields. Off for config files (secrets belong in the
   * environment or in files); on for the admin API and tests.
   */
  readonly allowInlineSecrets?: boolean
  /** Names the config file in error messages. */
  readonly source?: string
}

/** One unresolvable reference, as listed in `details.references` of `CONFIG_REFERENCE_MISSING`. */
export interface MissingReference {
  /** The reference as written, e.g. `${env:IDP_SECRET}`. */
  readonly reference: string
  /** Where it was, e.g. `authProviders.Idp.consumerSecret`. */
  readonly path: string
  /** Why it cannot be resolved (never the value). */
  readonly reason: string
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const TOKEN = /\$\$\{|\$\{([^}]*)\}?/g
/** A value that is one reference and nothing else. */
const TOKEN_ONLY = /^\$\{[^}]*\}$/
const MAX_DEPTH = 32

/**
 * True when the value at `path` is a secret: AuthProvider `consumerSecret` and
 * `clientPrivateKey`, principal `secrets.*`, NamedCredential `clientCertificate.key` and
 * `.passphrase`, the legacy shorthand's `password`, `privateKey` and `secretAccessKey`, and
 * `serve.metricsToken`.
 *
 * @example
 * isSecretPath(['authProviders', 'Idp', 'consumerSecret']) // true
 * isSecretPath(['authProviders', 'Idp', 'consumerKey'])    // false
 */
export function isSecretPath(path: ConfigPath): boolean {
  const [kind, , field, a, b, c] = path
  if (kind === 'authProviders') {
    return path.length === 3 && (field === 'consumerSecret' || field === 'clientPrivateKey')
  }
  if (kind === 'externalCredentials') {
    return (
      path.length === 6 &&
      field === 'principals' &&
      typeof a === 'string' &&
      b === 'secrets' &&
      typeof c === 'string'
    )
  }
  if (kind === 'namedCredentials') {
    if (path.length === 4 && field === 'clientCertificate') return a === 'key' || a === 'passphrase'
    return (
      path.length === 3 &&
      (field === 'password' || field === 'privateKey' || field === 'secretAccessKey')
    )
  }
  if (kind === 'serve') return path.length === 2 && path[1] === 'metricsToken'
  return false
}

/**
 * Resolves every `${env:NAME}` and `${file:path}` reference in a parsed config document and
 * wraps secret fields (see {@link isSecretPath}) in {@link Secret}. `$${` writes a literal `${`.
 * A secret field that is exactly one reference keeps it as {@link Secret.reference}
 * (`${env:NAME}`, or `${file:<absolute path>}`), so `callout export` can write it back.
 * Files are read as UTF-8, relative to `baseDir`, with trailing newlines trimmed: regular files
 * only (symlinks followed), at most `DEFAULTS.maxConfigBytes` bytes.
 *
 * @throws CalloutError `CONFIG_INVALID` for malformed references and for inline secrets (unless
 *   `allowInlineSecrets`); `CONFIG_REFERENCE_MISSING` for unset variables and unreadable files.
 *   Neither ever contains a resolved value.
 * @example
 * resolveReferences({ authProviders: { Idp: { consumerSecret: '${env:IDP_SECRET}' } } },
 *   { env: { IDP_SECRET: 's3cr3t' } })
 * // { authProviders: { Idp: { consumerSecret: Secret([redacted]) } } }
 */
export function resolveReferences(document: unknown, options: ReferenceOptions = {}): unknown {
  const scan = scanReferences(document, options)
  if (scan.issues.length > 0) throw configInvalid(scan.issues, options.source)
  if (scan.missing.length > 0) throw referenceMissing(scan.missing, options.source)
  return scan.value
}

/** A {@link MissingReference} with the path as segments. */
export interface LocatedMissingReference extends MissingReference {
  readonly at: ConfigPath
}

/** What {@link scanReferences} found: the resolved document and every problem, none thrown. */
export interface ReferenceScan {
  /**
   * The document with references resolved; an unresolvable or malformed reference is left as
   * written, so the checks of the rest of the document still run (a problem at a path whose
   * reference failed is a consequence, not news).
   */
  readonly value: unknown
  /** Malformed references, inline secrets, unreadable (device, oversized) files. */
  readonly issues: readonly ConfigIssue[]
  /** Unset variables and missing files. */
  readonly missing: readonly LocatedMissingReference[]
}

/**
 * {@link resolveReferences} without throwing: every problem of the document is returned, so that a
 * config file's reference problems can be reported together with its other problems.
 */
export function scanReferences(document: unknown, options: ReferenceOptions = {}): ReferenceScan {
  const env = options.env ?? process.env
  const baseDir = options.baseDir ?? process.cwd()
  const issues: ConfigIssue[] = []
  const missing: LocatedMissingReference[] = []

  const resolveString = (
    value: string,
    path: ConfigPath,
  ): { text: string; references: number; canonical: string | undefined } => {
    let references = 0
    let canonical: string | undefined
    const text = value.replace(TOKEN, (match: string, body: string | undefined) => {
      if (match === '$${') return '${'
      if (!match.endsWith('}')) {
        issues.push(
          issue(path, 'has an unterminated ${ — close it with } (write $${ for a literal ${)'),
        )
        return match
      }
      references++
      const reference = match
      // A malformed reference in a secret field may be a pasted secret: never echo it.
      const shown = isSecretPath(path) ? 'a reference' : reference
      const colon = (body ?? '').indexOf(':')
      const kind = colon < 0 ? '' : (body ?? '').slice(0, colon).trim()
      const arg = colon < 0 ? '' : (body ?? '').slice(colon + 1).trim()
      if (kind === 'env') {
        if (!ENV_NAME.test(arg)) {
          issues.push(
            issue(
              path,
              `has the malformed reference ${shown} — write \${env:NAME} with NAME made of letters, digits and _`,
            ),
          )
          return match
        }
        const resolved = env[arg]
        if (resolved === undefined) {
          missing.push({
            reference,
            path: formatPath(path),
            at: path,
            reason: `the environment variable ${arg} is not set — set it before loading the configuration`,
          })
          return match
        }
        canonical = `\${env:${arg}}`
        return resolved
      }
      if (kind === 'file') {
        if (arg === '') {
          issues.push(issue(path, `has the malformed reference ${shown} — write \${file:path}`))
          return match
        }
        const file = isAbsolute(arg) ? arg : resolvePath(baseDir, arg)
        const read = readReferencedFile(file)
        if (typeof read === 'object') {
          if (read.refused === 'too-large')
            issues.push(
              issue(
                path,
                `references ${file}, which is larger than ${DEFAULTS.maxConfigBytes} bytes — reference a smaller file`,
              ),
            )
          else if (read.refused === 'not-regular')
            issues.push(
              issue(
                path,
                `references ${file}, which is not a regular file (a device, FIFO or socket) — reference a regular file`,
              ),
            )
          else
            missing.push({
              reference,
              path: formatPath(path),
              at: path,
              reason: `${read.reason} (${file})`,
            })
          return match
        }
        canonical = `\${file:${file}}`
        return read
      }
      const hint =
        shown === reference && colon < 0 && ENV_NAME.test((body ?? '').trim())
          ? ` — did you mean \${env:${(body ?? '').trim()}}?`
          : ' — write ${env:NAME} or ${file:path} (or $${ for a literal ${)'
      issues.push(issue(path, `has the unknown reference ${shown}${hint}`))
      return match
    })
    // The reference is kept only when it is the whole value: then it names the secret exactly.
    const whole = references === 1 && TOKEN_ONLY.test(value) ? canonical : undefined
    return { text, references, canonical: whole }
  }

  const walk = (value: unknown, path: ConfigPath): unknown => {
    if (path.length > MAX_DEPTH) {
      issues.push(
        issue(path, `is nested more than ${MAX_DEPTH} levels deep — flatten the document`),
      )
      return undefined
    }
    if (typeof value === 'string') {
      const { text, references, canonical } = resolveString(value, path)
      if (!isSecretPath(path)) return text
      if (references === 0 && options.allowInlineSecrets !== true) {
        issues.push(
          issue(
            path,
            'is an inline secret — put it in an environment variable and write ${env:NAME}, or in a file and write ${file:path}',
          ),
        )
      }
      return new Secret(text, canonical === undefined ? {} : { reference: canonical })
    }
    if (Array.isArray(value)) return value.map((item, index) => walk(item, [...path, index]))
    if (value !== null && typeof value === 'object' && !(value instanceof Secret)) {
      const entries: [string, unknown][] = []
      for (const [key, item] of Object.entries(value)) {
        // zod drops __proto__ keys silently: refuse them here, so nothing disappears unnoticed.
        if (key === '__proto__')
          issues.push(issue([...path, key], 'is a reserved key and not a valid name — rename it'))
        else entries.push([key, walk(item, [...path, key])])
      }
      return Object.fromEntries(entries)
    }
    return value
  }

  const value = walk(document, [])
  return { value, issues, missing }
}

/** Why a referenced file was refused as a configuration error (not a missing reference). */
type FileRefusal = 'too-large' | 'not-regular'

/**
 * Reads a `${file:…}` reference: a regular file only (symlinks are followed to their target, which
 * must be one), at most {@link DEFAULTS.maxConfigBytes} bytes, counted while reading — a device or
 * a file whose size changes is never trusted to report its size. Opened non-blocking, so a FIFO
 * cannot stall the read.
 */
function readReferencedFile(file: string): string | { reason: string; refused?: FileRefusal } {
  let fd: number | undefined
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
    const stat = fstatSync(fd)
    if (stat.isDirectory()) return { reason: 'the path is a directory, not a file' }
    if (!stat.isFile()) return { reason: 'not a regular file', refused: 'not-regular' }
    const cap = DEFAULTS.maxConfigBytes
    const buffer = Buffer.alloc(cap + 1)
    let length = 0
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null)
      if (read === 0) break
      length += read
    }
    if (length > cap) return { reason: 'too large', refused: 'too-large' }
    return buffer.toString('utf8', 0, length).replace(/(\r?\n)+$/, '')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return { reason: 'the file does not exist' }
    if (code === 'EACCES' || code === 'EPERM')
      return { reason: 'the file cannot be read (permission denied)' }
    return { reason: `the file cannot be read (${code ?? 'unknown error'})` }
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * `CONFIG_REFERENCE_MISSING` listing every unresolvable reference (`details.references`), with
 * the same list as `details.issues`.
 */
export function referenceMissing(
  missing: readonly (MissingReference & { readonly line?: number })[],
  source?: string,
): CalloutError {
  const where = source === undefined ? 'the configuration' : source
  const lines = missing.map(
    (m) =>
      `  ${m.path}${m.line === undefined ? '' : ` (line ${m.line})`}: ${m.reference} cannot be resolved: ${m.reason}`,
  )
  return new CalloutError(
    'CONFIG_REFERENCE_MISSING',
    `${missing.length === 1 ? 'A reference' : `${missing.length} references`} in ${where} cannot be resolved:\n${lines.join('\n')}`,
    {
      details: {
        ...(source === undefined ? {} : { source }),
        references: missing.map((m) => ({
          reference: m.reference,
          path: m.path,
          reason: m.reason,
        })),
        issues: missing.map((m) => ({
          path: m.path,
          message: `${m.reference} cannot be resolved: ${m.reason}`,
          ...(m.line === undefined ? {} : { line: m.line }),
        })),
      },
    },
  )
}
