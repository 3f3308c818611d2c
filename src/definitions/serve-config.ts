/**
 * The `serve` section of a config file: the options of `callout serve` (host, port, credential
 * ports, metrics token, limits), read by `callout serve -f <file>`. It is validated like the rest
 * of the configuration (unknown keys with "did you mean", ranges, duplicate ports) but never
 * stored: `callout apply` does not write it (`callout apply --dry-run` checks it).
 */
import { dirname } from 'node:path'
import type { Secret } from '../secrets/secret.ts'
import { formatOf, parseConfigText, readConfigText, type ConfigFormat } from './config-file.ts'
import { closest, configInvalid, issue, type ConfigIssue } from './issues.ts'
import { resolveReferences } from './references.ts'
import { configSchema, validateDocument, type RawServe } from './schema.ts'

/** The validated `serve` section. Unset options are absent (the server's defaults apply). */
export interface ServeConfig {
  readonly host?: string
  readonly port?: number
  /** Named Credential → the port that serves it as a bare origin. */
  readonly credentialPorts: ReadonlyMap<string, number>
  /** Required as `Authorization: Bearer <token>` on `/metrics` when set. */
  readonly metricsToken?: Secret
  readonly noAuthUnsafeLoopback?: boolean
  /** The origin browsers use for the setup console and OAuth callbacks. */
  readonly publicUrl?: string
  /** Serve the proxy only (no console, no admin API). */
  readonly noConsole?: boolean
  /** Allow the console over plain http on a non-loopback address. */
  readonly consoleInsecureHttp?: boolean
  readonly maxBodyBytes?: number
  readonly maxHeaderBytes?: number
  readonly clientTimeoutMs?: number
  readonly totalTimeoutMs?: number
  readonly shutdownTimeoutMs?: number
  readonly reloadIntervalMs?: number
  readonly keyCacheMs?: number
  /** How long a refresh lease lives without renewal (a dead instance blocks refreshes this long). */
  readonly leaseTtlMs?: number
  /** The file it came from, for messages. */
  readonly source?: string
}

/** Options for {@link parseServeConfig}. */
export interface ParseServeConfigOptions {
  /** Format of a text input; default `yaml`. */
  readonly format?: ConfigFormat
  /** Directory relative `${file:…}` references are read from; default the working directory. */
  readonly baseDir?: string
  /** Environment for `${env:…}` references; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Accept a literal `metricsToken` (tests). Config files must use a reference. */
  readonly allowInlineSecrets?: boolean
  readonly source?: string
}

const TOP_LEVEL = Object.keys(configSchema.shape)

/**
 * Reads the `serve` section of a configuration (text or an already-parsed object). Only that
 * section's references are resolved, so the server never needs the secrets of the definitions.
 *
 * @throws CalloutError `CONFIG_INVALID` (syntax, no `serve` section, unknown keys, ranges, a
 *   literal `metricsToken`, two credentials on one port, a credential port equal to `port`) or
 *   `CONFIG_REFERENCE_MISSING`.
 * @example
 * const serve = parseServeConfig('serve: { port: 7070, credentialPorts: { Salesforce: 7071 } }')
 * serve.credentialPorts.get('Salesforce') // 7071
 */
export function parseServeConfig(
  input: string | object,
  options: ParseServeConfigOptions = {},
): ServeConfig {
  const source = options.source
  const document =
    typeof input === 'string' ? parseConfigText(input, options.format ?? 'yaml', source) : input
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw configInvalid(
      [issue([], 'must be a mapping with a serve: section — see docs/configuration.md#serve')],
      source,
    )
  }
  const top = document as Record<string, unknown>
  const unknown: ConfigIssue[] = []
  for (const key of Object.keys(top)) {
    if (TOP_LEVEL.includes(key)) continue
    const suggestion = closest(key, TOP_LEVEL)
    unknown.push(
      issue(
        [key],
        `is not a known key — ${suggestion === undefined ? `valid keys: ${TOP_LEVEL.join(', ')}` : `did you mean "${suggestion}"?`}`,
      ),
    )
  }
  if (unknown.length > 0) throw configInvalid(unknown, source)
  if (top.serve === undefined || top.serve === null) {
    throw configInvalid(
      [
        issue(
          ['serve'],
          'is missing — add a serve: section (host, port, credentialPorts, …), or run callout serve without -f',
        ),
      ],
      source,
    )
  }
  const resolved = resolveReferences(
    { serve: top.serve },
    {
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.baseDir === undefined ? {} : { baseDir: options.baseDir }),
      ...(options.allowInlineSecrets === undefined
        ? {}
        : { allowInlineSecrets: options.allowInlineSecrets }),
      ...(source === undefined ? {} : { source }),
    },
  )
  const validated = validateDocument(resolved)
  if (!validated.ok) throw configInvalid(validated.issues, source)
  const raw = validated.config.serve ?? {}
  const problems = portIssues(raw)
  if (problems.length > 0) throw configInvalid(problems, source)
  return toServeConfig(raw, source)
}

/**
 * Reads the `serve` section of a config file (`.json` as JSON, anything else as YAML); relative
 * `${file:…}` references are resolved against the file's directory.
 *
 * @throws CalloutError as {@link parseServeConfig}, and `CONFIG_INVALID` for a missing,
 *   unreadable, directory or oversized file.
 * @example
 * const serve = await loadServeConfig('/etc/callout/callout.yaml', { env: process.env })
 */
export async function loadServeConfig(
  path: string,
  options: Pick<ParseServeConfigOptions, 'env'> = {},
): Promise<ServeConfig> {
  const { file, text } = await readConfigText(path)
  return parseServeConfig(text, {
    ...options,
    format: formatOf(file),
    baseDir: dirname(file),
    source: file,
  })
}

/** Two credentials on one port, or a credential port equal to the main port. */
function portIssues(raw: RawServe): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  const owner = new Map<number, string>()
  for (const [name, port] of Object.entries(raw.credentialPorts ?? {})) {
    const path = ['serve', 'credentialPorts', name]
    const taken = owner.get(port)
    if (taken !== undefined) {
      issues.push(
        issue(path, `uses port ${port}, like ${taken} — give each credential port its own port`),
      )
    } else if (port === raw.port) {
      issues.push(
        issue(path, `uses port ${port}, which serve.port already uses — pick another port`),
      )
    }
    owner.set(port, name)
  }
  return issues
}

function toServeConfig(raw: RawServe, source: string | undefined): ServeConfig {
  const out: Record<string, unknown> = {
    credentialPorts: new Map(Object.entries(raw.credentialPorts ?? {})),
  }
  for (const [key, value] of Object.entries(raw)) {
    if (key !== 'credentialPorts' && value !== undefined) out[key] = value
  }
  if (source !== undefined) out.source = source
  return Object.freeze(out) as unknown as ServeConfig
}
