/**
 * Definitions changed from the console and the admin API, validated exactly as a config file:
 * the current definitions are exported as a config document (secrets as references whose values
 * are passed in as the environment), the one entry is put into it or taken out of it, and the
 * whole document is parsed by `src/definitions` (schema, URL rules, cross-references, "did you
 * mean") and applied in one transaction. A bad entry changes nothing.
 */
import type { Broker } from '../../callout/broker.ts'
import {
  closest,
  configInvalid,
  exportDefinitions,
  exportSecrets,
  formatPath,
  isSecretPath,
  parseConfig,
  type ConfigIssue,
  type ConfigPath,
  type ExportedConfig,
} from '../../definitions/index.ts'
import type { Clock } from '../../clock.ts'
import { CalloutError, isCalloutError } from '../../errors.ts'
import type { AuditDetails, AuditRecord } from '../../store/admin.ts'

/** A kind of definition, as the admin API names it. */
export type DefinitionKind = 'authProvider' | 'externalCredential' | 'namedCredential'

/** The config section of each kind. */
export const SECTIONS = Object.freeze({
  authProvider: 'authProviders',
  externalCredential: 'externalCredentials',
  namedCredential: 'namedCredentials',
} as const)

/** The label of each kind in messages and audit targets. */
export const KIND_LABELS = Object.freeze({
  authProvider: 'AuthProvider',
  externalCredential: 'ExternalCredential',
  namedCredential: 'NamedCredential',
} as const)

/** Who changes a definition (recorded in the audit log), and from where. */
export interface ChangeContext {
  readonly actor: string
  readonly remote?: string
  /**
   * The interface the change comes from: a refusal's fix names what it offers (the console's
   * form, the admin API's request body), never a `${env:…}` or `${file:…}` reference, which
   * neither resolves.
   */
  readonly via: 'console' | 'api'
}

/** What a secret field reads as in answers: it is set, and never shown. */
export const WRITE_ONLY = '[write-only: set]'

type Entry = Record<string, unknown>
type Document = Record<(typeof SECTIONS)[DefinitionKind], Record<string, Entry>>

/** Auditing a change (never a secret). */
export type Auditor = (entry: {
  readonly actor: string
  readonly action: string
  readonly target: string
  readonly details?: AuditDetails
  readonly remote?: string
}) => Promise<unknown>

/**
 * Lists, reads, creates, replaces and deletes definitions through the broker. Each change and its
 * audit entry are written in one transaction: both or neither.
 *
 * @example
 * await service.put('authProvider', 'SfTarget', { type: 'salesforce', consumerKey, consumerSecret }, { actor: 'admin:alice', via: 'console' }, 'create')
 */
export class DefinitionsService {
  readonly #broker: Broker
  readonly #clock: Clock

  constructor(broker: Broker, clock: Clock) {
    this.#broker = broker
    this.#clock = clock
  }

  /** Every entry of a kind, by name, with secret fields as {@link WRITE_ONLY}. */
  list(kind: DefinitionKind): Record<string, Entry> {
    const { doc, secretPaths } = this.#snapshot()
    const section = doc[SECTIONS[kind]]
    return Object.fromEntries(
      Object.keys(section)
        .sort()
        .map((name) => [name, redact(section[name]!, `${SECTIONS[kind]}.${name}`, secretPaths)]),
    )
  }

  /** One entry with secret fields as {@link WRITE_ONLY}; `DEFINITION_NOT_FOUND` when absent. */
  get(kind: DefinitionKind, name: string): Entry {
    const { doc, secretPaths } = this.#snapshot()
    const entry = doc[SECTIONS[kind]][name]
    if (entry === undefined) throw this.#notFound(kind, name, doc)
    return redact(entry, `${SECTIONS[kind]}.${name}`, secretPaths)
  }

  /** True when an entry of this kind and name exists. */
  has(kind: DefinitionKind, name: string): boolean {
    return Object.hasOwn(this.#snapshot().doc[SECTIONS[kind]], name)
  }

  /**
   * Creates (`create`: the name must be free) or replaces (`update`: it must exist) one entry.
   * On update, a secret field left out or empty keeps the stored secret (secrets are
   * write-only), and one given as `null` removes it (on create, `null` is no secret). Values are stored as given: a `${env:…}` or `${file:…}` reference in `entry` is
   * refused (`$${` is a literal `${`). Validated with the rest of the definitions; applied all or
   * nothing; audited.
   *
   * @throws CalloutError `CONFIG_INVALID` (with `details.issues`), `DEFINITION_EXISTS`,
   *   `DEFINITION_NOT_FOUND`.
   */
  async put(
    kind: DefinitionKind,
    name: string,
    entry: unknown,
    context: ChangeContext,
    mode: 'create' | 'update',
  ): Promise<void> {
    const { doc, env, secretPaths } = this.#snapshot()
    const section = doc[SECTIONS[kind]]
    const exists = Object.hasOwn(section, name)
    if (mode === 'create' && exists) {
      throw new CalloutError(
        'DEFINITION_EXISTS',
        `${KIND_LABELS[kind]} ${name} already exists; choose another name, or edit it.`,
        { details: { kind, name } },
      )
    }
    if (mode === 'update' && !exists) throw this.#notFound(kind, name, doc)
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new CalloutError('INVALID_ARGUMENT', `The ${KIND_LABELS[kind]} must be a JSON object.`)
    }
    const references = referencesIn(entry, [SECTIONS[kind], name])
    if (references.length > 0) throw configInvalid(references)
    const next: Entry = { ...(entry as Entry) }
    if (exists) keepSecrets(next, section[name]!, `${SECTIONS[kind]}.${name}`, secretPaths)
    withoutNullSecrets(next, [SECTIONS[kind], name])
    section[name] = next
    // Field names only, never values (some are secrets).
    const changed = Object.keys(next).sort()
    await this.#apply(
      doc,
      env,
      this.#record(context, `${kind}.${mode}`, kind, name, changed),
      context.via,
    )
  }

  /**
   * Deletes one entry. Refused (`CONFIG_INVALID`, nothing deleted) while another definition
   * refers to it.
   */
  async remove(kind: DefinitionKind, name: string, context: ChangeContext): Promise<void> {
    const { doc, env } = this.#snapshot()
    const section = doc[SECTIONS[kind]]
    if (!Object.hasOwn(section, name)) throw this.#notFound(kind, name, doc)
    delete section[name]
    await this.#apply(doc, env, this.#record(context, `${kind}.delete`, kind, name), context.via)
  }

  #record(
    context: ChangeContext,
    action: string,
    kind: DefinitionKind,
    name: string,
    fields?: string[],
  ): AuditRecord {
    const details: AuditDetails = fields === undefined ? {} : { fields }
    return {
      at: this.#clock.now(),
      actor: context.actor,
      action,
      target: `${KIND_LABELS[kind]}/${name}`,
      details,
      ...(context.remote === undefined ? {} : { remote: context.remote }),
    }
  }

  async #apply(
    doc: Document,
    env: Record<string, string>,
    audit: AuditRecord,
    via: ChangeContext['via'],
  ): Promise<void> {
    let defs: ReturnType<typeof parseConfig>
    try {
      defs = parseConfig(doc, {
        env,
        allowInlineSecrets: true,
        source: 'this change',
        onWarning: () => undefined,
      })
    } catch (error) {
      throw isCalloutError(error) ? inWordsOf(via, error) : error
    }
    await this.#broker.apply(defs, { prune: true, audit })
  }

  #snapshot(): { doc: Document; env: Record<string, string>; secretPaths: Set<string> } {
    const defs = this.#broker.definitions
    const exported: ExportedConfig = exportDefinitions(defs)
    const doc = structuredClone({
      authProviders: exported.authProviders,
      externalCredentials: exported.externalCredentials,
      namedCredentials: exported.namedCredentials,
    }) as Document
    const env: Record<string, string> = {}
    const secretPaths = new Set<string>()
    for (const secret of exportSecrets(defs)) {
      secretPaths.add(secret.path)
      if (secret.env !== undefined) env[secret.env] = secret.secret.reveal()
    }
    return { doc, env, secretPaths }
  }

  #notFound(kind: DefinitionKind, name: string, doc: Document): CalloutError {
    const suggestion = closest(name, Object.keys(doc[SECTIONS[kind]]))
    return new CalloutError(
      'DEFINITION_NOT_FOUND',
      `No ${KIND_LABELS[kind]} is named ${JSON.stringify(name)}${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`,
      { details: { kind, name, ...(suggestion === undefined ? {} : { suggestion }) } },
    )
  }
}

/** A fix that names a reference (`${env:…}`, `${file:…}`) or what one reads. */
const REFERENCE_FIX = /\$\{(?:env|file):|environment variable or file it references/

/** What each interface offers for a secret the check finds missing, empty or not PEM. */
const SECRET_FIXES = Object.freeze({
  console: {
    value: 'enter it in this form',
    pem: 'paste the whole PEM text (-----BEGIN … KEY----- …) into this form',
  },
  api: {
    value: 'give it in the request body',
    pem: 'give the whole PEM text (-----BEGIN … KEY----- …) in the request body',
  },
} as const)

/**
 * A `CONFIG_INVALID` from the config file's validation with each fix in the words of `via`: the
 * config file's "add it as ${env:NAME}" becomes what the console's form or the admin API's body
 * takes, or the config file with `callout apply`. Other errors, and other issues, as they are.
 */
function inWordsOf(via: ChangeContext['via'], error: CalloutError): CalloutError {
  const { issues, source, ...rest } = error.details as {
    issues?: { path: string; message: string; line?: number }[]
    source?: string
  }
  if (error.code !== 'CONFIG_INVALID' || issues === undefined) return error
  const words = SECRET_FIXES[via]
  const reworded = issues.map((i) => {
    const dash = i.message.indexOf(' — ')
    if (dash < 0 || !REFERENCE_FIX.test(i.message.slice(dash))) return i
    const problem = i.message.slice(0, dash)
    const fix = /\bPEM\b/.test(problem) || /[pP]rivateKey$/.test(i.path) ? words.pem : words.value
    return {
      ...i,
      message: `${problem} — ${fix}, or set it in the config file and run callout apply`,
    }
  })
  return configInvalid(reworded, source, rest)
}

/**
 * The `${…}` references in an entry given to {@link DefinitionsService.put}, as issues. Values
 * given here are stored as given: a reference would read a file on the server, or copy a stored
 * secret into a field that answers show. `$${` (a literal `${`) is fine.
 */
function referencesIn(value: unknown, path: ConfigPath): ConfigIssue[] {
  if (typeof value === 'string') {
    // Read as the reference resolver does: `$${` is a literal `${`, any other `${` a reference.
    const at = [...value.matchAll(/\$\$\{|\$\{/g)].find((m) => m[0] === '${')?.index
    if (at === undefined) return []
    const secret = isSecretPath(path)
    return [
      {
        path: formatPath(path),
        message: `${secret ? 'has a ${…} reference' : `has the reference ${value.slice(at, at + 60)}`} — the console and the admin API resolve no \${env:…} or \${file:…}: give the value itself (write $\${ for a literal \${), or apply the reference from a config file with callout apply`,
      },
    ]
  }
  if (Array.isArray(value))
    return value.flatMap((item, index) => referencesIn(item, [...path, index]))
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([key, item]) => referencesIn(item, [...path, key]))
  return []
}

/** Removes every secret field of `entry` (at `path`) given as `null`: no secret is stored there. */
function withoutNullSecrets(entry: Record<string, unknown>, path: ConfigPath): void {
  for (const [key, value] of Object.entries(entry)) {
    if (value === null && isSecretPath([...path, key])) delete entry[key]
    else if (value !== null && typeof value === 'object' && !Array.isArray(value))
      withoutNullSecrets(value as Record<string, unknown>, [...path, key])
  }
}

/** A copy of `entry` with every secret field (a path in `secretPaths`) as {@link WRITE_ONLY}. */
function redact(entry: Entry, prefix: string, secretPaths: ReadonlySet<string>): Entry {
  const walk = (value: unknown, path: string): unknown => {
    if (secretPaths.has(path)) return WRITE_ONLY
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${path}.${i}`))
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, `${path}.${k}`)]))
    }
    return value
  }
  return walk(entry, prefix) as Entry
}

/**
 * Secrets are write-only: a secret field of the stored entry that the new entry leaves out,
 * empty or as {@link WRITE_ONLY} keeps its stored reference; one given as `null` is removed.
 */
function keepSecrets(
  next: Entry,
  stored: Entry,
  prefix: string,
  secretPaths: ReadonlySet<string>,
): void {
  for (const path of secretPaths) {
    if (!path.startsWith(`${prefix}.`)) continue
    const keys = path.slice(prefix.length + 1).split('.')
    let source: unknown = stored
    let target: Record<string, unknown> = next
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      source = (source as Record<string, unknown> | undefined)?.[key]
      if (i === keys.length - 1) {
        const given = target[key]
        if (given === null) delete target[key]
        else if (given === undefined || given === '' || given === WRITE_ONLY) target[key] = source
      } else {
        const child = target[key]
        if (typeof child !== 'object' || child === null) break
        target = child as Record<string, unknown>
      }
    }
  }
}
