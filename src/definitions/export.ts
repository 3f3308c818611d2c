/**
 * `callout export`: definitions as a plain, YAML-serialisable config document that applies back to
 * the same definitions. Each secret is written as the reference it was applied from
 * (`${env:API_CLIENT_SECRET}`, `${file:keys/jwt.pem}`); a secret stored without one (applied
 * before Callout kept reference names, inline through the library, or assembled from several
 * parts) gets a generated `${env:CALLOUT_<KIND>_<NAME>_<FIELD>}`. Fields at their default value are
 * left out.
 */
import { isAbsolute, relative, sep } from 'node:path'
import { salesforceEndpoints } from '../providers/salesforce.ts'
import type { Secret } from '../secrets/secret.ts'
import { DEFAULTS } from './model.ts'
import type {
  Definitions,
  ExternalCredential,
  FormulaHeader,
  NamedCredential,
  AuthProvider,
} from './model.ts'

/** One secret of an export: the reference written for it, where it sits, and the value. */
export interface ExportedSecret {
  /** The reference written, e.g. `${env:API_CLIENT_SECRET}` or `${file:keys/jwt.pem}`. */
  readonly reference: string
  /** The environment variable that must hold the value, for `${env:…}` references. */
  readonly env?: string
  /**
   * True when the reference was generated (`CALLOUT_…`) because the definition stored none: the
   * variable is new to the target environment and must be set before the file applies.
   */
  readonly generated: boolean
  /** e.g. `authProviders.SfTarget.consumerSecret`. */
  readonly path: string
  readonly secret: Secret
}

/** Options for {@link exportDefinitions} and {@link exportSecrets}. */
export interface ExportOptions {
  /**
   * The directory the exported file is read from (its folder, or the working directory for
   * standard output): `${file:…}` references to files under it are written relative to it,
   * others as absolute paths. Default: the working directory.
   */
  readonly baseDir?: string
}

/** A config document as {@link exportDefinitions} writes it. */
export interface ExportedConfig {
  readonly version: 1
  readonly authProviders: Record<string, Record<string, unknown>>
  readonly externalCredentials: Record<string, Record<string, unknown>>
  readonly namedCredentials: Record<string, Record<string, unknown>>
}

/**
 * `SfTarget` → `SF_TARGET`, `privateKey` → `PRIVATE_KEY`, `Api_Auth` → `API_AUTH`.
 *
 * @example
 * upperSnake('HTTPServer2Key') // 'HTTP_SERVER2_KEY'
 */
export function upperSnake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '')
    .toUpperCase()
}

interface Plan {
  readonly config: ExportedConfig
  readonly secrets: ExportedSecret[]
}

function plan(defs: Definitions, options: ExportOptions): Plan {
  const baseDir = options.baseDir ?? process.cwd()
  const secrets: ExportedSecret[] = []
  // Kept names first, so a generated name never takes a variable the config already uses.
  const used = new Set<string>()
  forEachSecret(defs, (secret) => {
    const env = /^\$\{env:(.*)\}$/.exec(secret.reference ?? '')?.[1]
    if (env !== undefined) used.add(env)
  })
  const ref = (kind: string, parts: readonly string[], path: string, secret: Secret): string => {
    const kept = keptReference(secret.reference, baseDir)
    if (kept !== undefined) {
      secrets.push({ ...kept, generated: false, path, secret })
      return new SecretRef(kept.reference) as unknown as string
    }
    const base = ['CALLOUT', kind, ...parts.map(upperSnake)].join('_')
    let env = base
    for (let n = 2; used.has(env); n++) env = `${base}_${n}`
    used.add(env)
    const reference = `\${env:${env}}`
    secrets.push({ reference, env, generated: true, path, secret })
    return new SecretRef(reference) as unknown as string
  }

  const authProviders: Record<string, Record<string, unknown>> = {}
  for (const [name, p] of defs.authProviders) authProviders[name] = exportProvider(name, p, ref)
  const externalCredentials: Record<string, Record<string, unknown>> = {}
  for (const [name, ec] of defs.externalCredentials)
    externalCredentials[name] = exportExternalCredential(name, ec, ref)
  const namedCredentials: Record<string, Record<string, unknown>> = {}
  for (const [name, nc] of defs.namedCredentials)
    namedCredentials[name] = exportNamedCredential(name, nc, ref)
  const config = finish({ version: 1, authProviders, externalCredentials, namedCredentials })
  return { config: config as ExportedConfig, secrets }
}

/** Calls `visit` with every secret of the definitions. */
function forEachSecret(defs: Definitions, visit: (secret: Secret) => void): void {
  for (const p of defs.authProviders.values()) {
    if (p.consumerSecret !== undefined) visit(p.consumerSecret)
    if (p.clientPrivateKey !== undefined) visit(p.clientPrivateKey)
  }
  for (const ec of defs.externalCredentials.values())
    for (const principal of ec.principals) Object.values(principal.secrets).forEach(visit)
  for (const nc of defs.namedCredentials.values()) {
    if (nc.clientCertificate !== undefined) visit(nc.clientCertificate.key)
    if (nc.clientCertificate?.passphrase !== undefined) visit(nc.clientCertificate.passphrase)
  }
}

/**
 * A stored reference as the export writes it: `${env:NAME}` as is; `${file:/abs/path}` relative
 * to `baseDir` when the file is under it. Undefined for anything else (nothing is kept then).
 */
function keptReference(
  stored: string | undefined,
  baseDir: string,
): { reference: string; env?: string } | undefined {
  const match = /^\$\{(env|file):(.+)\}$/.exec(stored ?? '')
  const [, kind, arg] = match ?? []
  if (kind === 'env' && arg !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(arg))
    return { reference: `\${env:${arg}}`, env: arg }
  if (kind === 'file' && arg !== undefined && isAbsolute(arg)) {
    const under = relative(baseDir, arg)
    const inside =
      under !== '' && !under.startsWith(`..${sep}`) && under !== '..' && !isAbsolute(under)
    return { reference: `\${file:${inside ? under.split(sep).join('/') : arg}}` }
  }
  return undefined
}

/** A `${env:…}` reference to a secret, kept apart from strings until {@link finish} escapes them. */
class SecretRef {
  constructor(readonly text: string) {}
}

/** Escapes literal `${` as `$${` in every string (once), and turns SecretRefs into their text. */
function finish(value: unknown): unknown {
  if (value instanceof SecretRef) return value.text
  if (typeof value === 'string') return value.replaceAll('${', () => '$${')
  if (Array.isArray(value)) return value.map(finish)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, finish(v)]))
  }
  return value
}

type Ref = (kind: string, parts: readonly string[], path: string, secret: Secret) => string

/**
 * The definitions as a plain config document (no Maps, no Secrets), ready for `yaml.stringify`.
 * Each secret becomes the reference it was applied from, or a generated `${env:CALLOUT_…}` one
 * when it has none (see {@link exportSecrets}); fields at their default are left out; literal
 * `${` in other strings is escaped as `$${`. Parsing the result in the environment the
 * definitions were applied from gives back equal definitions.
 *
 * @example
 * // applied from `consumerSecret: ${env:SF_SECRET}`
 * exportDefinitions(defs).authProviders.SfTarget.consumerSecret // '${env:SF_SECRET}'
 */
export function exportDefinitions(defs: Definitions, options: ExportOptions = {}): ExportedConfig {
  return plan(defs, options).config
}

/**
 * The secrets {@link exportDefinitions} refers to, in the same order and with the same references:
 * what an operator must provide in the target environment (e.g. to write a `.env` file). Those
 * marked `generated` are named by the export and are not set anywhere yet.
 */
export function exportSecrets(defs: Definitions, options: ExportOptions = {}): ExportedSecret[] {
  return plan(defs, options).secrets
}

/** A plain object of the defined fields. */
function clean(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))
}

/** `value`, or undefined when it equals the default the config file would give it. */
function unlessDefault<T>(value: T, fallback: T): T | undefined {
  return value === fallback ? undefined : value
}

/** A list, or undefined when it is empty (the default of every list field). */
function unlessEmpty<T>(list: readonly T[]): T[] | undefined {
  return list.length === 0 ? undefined : [...list]
}

/** The clientAuth the build derives when none is written (see `build.ts`). */
function derivedClientAuth(p: AuthProvider): AuthProvider['clientAuth'] {
  if (p.consumerSecret !== undefined) return 'client_secret_post'
  if (p.clientPrivateKey !== undefined) return 'private_key_jwt'
  return 'none'
}

function exportProvider(name: string, p: AuthProvider, ref: Ref): Record<string, unknown> {
  // Salesforce endpoints equal to the ones derived from loginUrl are left to the derivation.
  const derived =
    p.type === 'salesforce' && p.loginUrl !== undefined
      ? salesforceEndpoints(new URL(p.loginUrl))
      : undefined
  const endpoint = (field: Endpoint): string | undefined =>
    derived !== undefined && p[field] === derived[field] ? undefined : p[field]
  const out = clean({
    type: p.type,
    consumerKey: p.consumerKey,
    loginUrl: p.loginUrl,
    issuer: p.issuer,
    authorizeUrl: endpoint('authorizeUrl'),
    tokenUrl: endpoint('tokenUrl'),
    userInfoUrl: endpoint('userInfoUrl'),
    revokeUrl: endpoint('revokeUrl'),
    introspectUrl: endpoint('introspectUrl'),
    defaultScopes: p.defaultScopes,
    usePkce: unlessDefault(p.usePkce, DEFAULTS.usePkce),
    clientAuth: unlessDefault(p.clientAuth, derivedClientAuth(p)),
    allowInsecureHttp: unlessDefault(p.allowInsecureHttp, DEFAULTS.allowInsecureHttp),
    trustedInstanceHosts:
      p.trustedInstanceHosts === undefined ? undefined : [...p.trustedInstanceHosts],
  })
  const path = `authProviders.${name}`
  if (p.consumerSecret !== undefined) {
    out.consumerSecret = ref(
      'AUTH_PROVIDER',
      [name, 'consumerSecret'],
      `${path}.consumerSecret`,
      p.consumerSecret,
    )
  }
  if (p.clientPrivateKey !== undefined) {
    out.clientPrivateKey = ref(
      'AUTH_PROVIDER',
      [name, 'clientPrivateKey'],
      `${path}.clientPrivateKey`,
      p.clientPrivateKey,
    )
  }
  return out
}

type Endpoint = 'authorizeUrl' | 'tokenUrl' | 'userInfoUrl' | 'revokeUrl' | 'introspectUrl'

/**
 * Formula headers in their (sorted) order; a `sequence` equal to the one its position gives
 * (`index + 1`) is left out. Undefined when there are none.
 */
function headers(list: readonly FormulaHeader[]): Record<string, unknown>[] | undefined {
  if (list.length === 0) return undefined
  return list.map((h, index) =>
    clean({ name: h.name, formula: h.formula, sequence: unlessDefault(h.sequence, index + 1) }),
  )
}

function exportExternalCredential(
  name: string,
  ec: ExternalCredential,
  ref: Ref,
): Record<string, unknown> {
  const principals: Record<string, unknown> = {}
  // Principals are in sequence order; a sequence equal to its position's default is left out.
  ec.principals.forEach((p, index) => {
    const secrets: Record<string, string> = {}
    for (const [key, secret] of Object.entries(p.secrets)) {
      const path = `externalCredentials.${name}.principals.${p.name}.secrets.${key}`
      secrets[key] = ref('EXTERNAL_CREDENTIAL', [name, p.name, key], path, secret)
    }
    principals[p.name] = clean({
      type: p.type,
      sequence: unlessDefault(p.sequence, index + 1),
      parameters: Object.keys(p.parameters).length === 0 ? undefined : { ...p.parameters },
      secrets: Object.keys(secrets).length === 0 ? undefined : secrets,
    })
  })
  return clean({
    ...exportEcBase(ec),
    principals: ec.principals.length === 0 ? undefined : principals,
  })
}

function exportEcBase(ec: ExternalCredential): Record<string, unknown> {
  const jwt =
    ec.jwt === undefined
      ? undefined
      : clean({
          ...ec.jwt,
          validitySeconds: unlessDefault(ec.jwt.validitySeconds, DEFAULTS.jwtValiditySeconds),
          algorithm: unlessDefault(ec.jwt.algorithm, DEFAULTS.jwtAlgorithm),
        })
  return clean({
    protocol: ec.protocol,
    flow: ec.flow,
    authProvider: ec.authProvider,
    scope: ec.scope,
    additionalRefreshStatusCodes: unlessEmpty(ec.additionalRefreshStatusCodes),
    authHeaders: headers(ec.authHeaders),
    // The build fills jwt for every credential that signs one: an all-default jwt is left out.
    jwt: jwt === undefined || Object.keys(jwt).length === 0 ? undefined : jwt,
    sigv4: ec.sigv4 === undefined ? undefined : { ...ec.sigv4 },
    sessionTimeoutSeconds: ec.sessionTimeoutSeconds,
  })
}

function exportNamedCredential(
  name: string,
  nc: NamedCredential,
  ref: Ref,
): Record<string, unknown> {
  const out = clean({
    label: unlessDefault(nc.label, name),
    url: nc.url,
    externalCredential: nc.externalCredential,
    generateAuthorizationHeader: unlessDefault(
      nc.generateAuthorizationHeader,
      DEFAULTS.generateAuthorizationHeader,
    ),
    allowMergeFieldsInHeader: unlessDefault(
      nc.allowMergeFieldsInHeader,
      DEFAULTS.allowMergeFieldsInHeader,
    ),
    allowMergeFieldsInBody: unlessDefault(
      nc.allowMergeFieldsInBody,
      DEFAULTS.allowMergeFieldsInBody,
    ),
    headers: headers(nc.headers),
    timeoutMs: unlessDefault(nc.timeoutMs, DEFAULTS.timeoutMs),
    deadlineMs: nc.deadlineMs,
    redirects: unlessDefault(nc.redirects, DEFAULTS.redirects),
    allowedHosts: unlessEmpty(nc.allowedHosts),
    allowRedirectsOutsideBasePath: unlessDefault(
      nc.allowRedirectsOutsideBasePath,
      DEFAULTS.allowRedirectsOutsideBasePath,
    ),
    enabled: unlessDefault(nc.enabled, DEFAULTS.enabled),
    allowInsecureHttp: unlessDefault(nc.allowInsecureHttp, DEFAULTS.allowInsecureHttp),
    checkPath: nc.checkPath,
  })
  const cert = nc.clientCertificate
  if (cert !== undefined) {
    const path = `namedCredentials.${name}.clientCertificate`
    out.clientCertificate = {
      ...clean({ cert: cert.cert, ca: cert.ca }),
      key: ref('NAMED_CREDENTIAL', [name, 'clientCertificate', 'key'], `${path}.key`, cert.key),
      ...(cert.passphrase === undefined
        ? {}
        : {
            passphrase: ref(
              'NAMED_CREDENTIAL',
              [name, 'clientCertificate', 'passphrase'],
              `${path}.passphrase`,
              cert.passphrase,
            ),
          }),
    }
  }
  return out
}
