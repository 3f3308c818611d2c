/**
 * `callout export`: definitions as a plain, YAML-serialisable config document with every secret
 * replaced by an `${env:CALLOUT_<KIND>_<NAME>_<FIELD>}` reference, so a definition moves between
 * environments and its secrets follow through the environment.
 */
import type { Secret } from '../secrets/secret.ts'
import type {
  Definitions,
  ExternalCredential,
  FormulaHeader,
  NamedCredential,
  AuthProvider,
} from './model.ts'

/** One secret of an export: the variable that must hold it, where it sits, and the value. */
export interface ExportedSecret {
  /** e.g. `CALLOUT_AUTH_PROVIDER_SF_TARGET_CONSUMER_SECRET`. */
  readonly env: string
  /** e.g. `authProviders.SfTarget.consumerSecret`. */
  readonly path: string
  readonly secret: Secret
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

function plan(defs: Definitions): Plan {
  const secrets: ExportedSecret[] = []
  const used = new Set<string>()
  const ref = (kind: string, parts: readonly string[], path: string, secret: Secret): string => {
    const base = ['CALLOUT', kind, ...parts.map(upperSnake)].join('_')
    let env = base
    for (let n = 2; used.has(env); n++) env = `${base}_${n}`
    used.add(env)
    secrets.push({ env, path, secret })
    return new SecretRef(`\${env:${env}}`) as unknown as string
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
 * Secrets become `${env:CALLOUT_…}` references (see {@link exportSecrets} for the names and
 * values); literal `${` in other strings is escaped as `$${`. Parsing the result with those
 * variables set gives back equal definitions.
 *
 * @example
 * exportDefinitions(defs).authProviders.SfTarget.consumerSecret
 * // '${env:CALLOUT_AUTH_PROVIDER_SF_TARGET_CONSUMER_SECRET}'
 */
export function exportDefinitions(defs: Definitions): ExportedConfig {
  return plan(defs).config
}

/**
 * The secrets {@link exportDefinitions} refers to, in the same order and with the same variable
 * names: what an operator must set in the target environment (e.g. to write a `.env` file).
 */
export function exportSecrets(defs: Definitions): ExportedSecret[] {
  return plan(defs).secrets
}

/** A plain object of the defined fields. */
function clean(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))
}

function exportProvider(name: string, p: AuthProvider, ref: Ref): Record<string, unknown> {
  const out = clean({
    type: p.type,
    consumerKey: p.consumerKey,
    loginUrl: p.loginUrl,
    issuer: p.issuer,
    authorizeUrl: p.authorizeUrl,
    tokenUrl: p.tokenUrl,
    userInfoUrl: p.userInfoUrl,
    revokeUrl: p.revokeUrl,
    introspectUrl: p.introspectUrl,
    defaultScopes: p.defaultScopes,
    usePkce: p.usePkce,
    clientAuth: p.clientAuth,
    allowInsecureHttp: p.allowInsecureHttp,
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

function headers(list: readonly FormulaHeader[]): Record<string, unknown>[] {
  return list.map((h) => clean({ name: h.name, formula: h.formula, sequence: h.sequence }))
}

function exportExternalCredential(
  name: string,
  ec: ExternalCredential,
  ref: Ref,
): Record<string, unknown> {
  const principals: Record<string, unknown> = {}
  for (const p of ec.principals) {
    const secrets: Record<string, string> = {}
    for (const [key, secret] of Object.entries(p.secrets)) {
      const path = `externalCredentials.${name}.principals.${p.name}.secrets.${key}`
      secrets[key] = ref('EXTERNAL_CREDENTIAL', [name, p.name, key], path, secret)
    }
    principals[p.name] = {
      ...clean({ type: p.type, sequence: p.sequence, parameters: { ...p.parameters } }),
      secrets,
    }
  }
  return { ...exportEcBase(ec), principals }
}

function exportEcBase(ec: ExternalCredential): Record<string, unknown> {
  return clean({
    protocol: ec.protocol,
    flow: ec.flow,
    authProvider: ec.authProvider,
    scope: ec.scope,
    additionalRefreshStatusCodes: [...ec.additionalRefreshStatusCodes],
    authHeaders: headers(ec.authHeaders),
    jwt: ec.jwt === undefined ? undefined : clean({ ...ec.jwt }),
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
    label: nc.label,
    url: nc.url,
    externalCredential: nc.externalCredential,
    generateAuthorizationHeader: nc.generateAuthorizationHeader,
    allowMergeFieldsInHeader: nc.allowMergeFieldsInHeader,
    allowMergeFieldsInBody: nc.allowMergeFieldsInBody,
    headers: headers(nc.headers),
    timeoutMs: nc.timeoutMs,
    deadlineMs: nc.deadlineMs,
    redirects: nc.redirects,
    allowedHosts: [...nc.allowedHosts],
    allowRedirectsOutsideBasePath: nc.allowRedirectsOutsideBasePath,
    enabled: nc.enabled,
    allowInsecureHttp: nc.allowInsecureHttp,
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
