/**
 * Turns a schema-valid document into the frozen {@link Definitions} model: applies defaults from
 * {@link DEFAULTS}, the URL rules, Salesforce endpoint defaults, legacy expansion and every
 * cross-reference check. All problems are collected and thrown together as `CONFIG_INVALID`.
 */
import { salesforceEndpoints } from '../providers/salesforce.ts'
import { buildExternalCredential } from './build-external-credential.ts'
import { buildHeaders, freeze, isPemPrivateKey, opt } from './build-fields.ts'
import { configInvalid, formatPath, issue, unknownReference } from './issues.ts'
import type { ConfigIssue, ConfigPath } from './issues.ts'
import { expandLegacy, legacyFieldsOf } from './legacy.ts'
import { DEFAULTS } from './model.ts'
import type {
  AuthProvider,
  ClientAuthMethod,
  Definitions,
  ExternalCredential,
  NamedCredential,
} from './model.ts'
import type {
  RawAuthProvider,
  RawConfig,
  RawExternalCredential,
  RawNamedCredential,
} from './schema.ts'
import { checkUrl, isHost, isHostAndPort } from './url-rules.ts'
import type { UrlKind } from './url-rules.ts'

/** A non-fatal finding, e.g. an insecure switch in use or the legacy password flow. */
export interface ConfigWarning {
  readonly path: string
  readonly message: string
}

/** Options for {@link buildDefinitions}. */
export interface BuildOptions {
  /** Receives warnings; default `process.emitWarning` with type `CalloutConfigWarning`. */
  readonly onWarning?: (warning: ConfigWarning) => void
  /** Names the config file in error messages. */
  readonly source?: string
}

const ENDPOINT_FIELDS = [
  'authorizeUrl',
  'tokenUrl',
  'userInfoUrl',
  'revokeUrl',
  'introspectUrl',
] as const

/**
 * Builds the model from a schema-valid document.
 *
 * @throws CalloutError `CONFIG_INVALID` listing every problem.
 */
export function buildDefinitions(raw: RawConfig, options: BuildOptions = {}): Definitions {
  const built = collectDefinitions(raw, options)
  if (built.issues.length > 0) throw configInvalid(built.issues, options.source)
  return built.definitions
}

/**
 * {@link buildDefinitions} without throwing: the definitions that built, and every problem found.
 * The definitions are complete only when there are no issues.
 */
export function collectDefinitions(
  raw: RawConfig,
  options: BuildOptions = {},
): { definitions: Definitions; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = []
  const warn = (path: ConfigPath, message: string): void => {
    const warning = { path: formatPath(path), message }
    if (options.onWarning !== undefined) options.onWarning(warning)
    else process.emitWarning(`${warning.path}: ${message}`, 'CalloutConfigWarning')
  }
  const url = (
    value: string,
    path: ConfigPath,
    kind: UrlKind,
    insecureOk: boolean,
  ): string | undefined => {
    const result = checkUrl(value, kind, insecureOk)
    if (!result.ok) {
      for (const problem of result.problems) issues.push(issue(path, problem))
      return undefined
    }
    if (result.insecure) {
      warn(
        path,
        'is a plain http:// URL to a non-loopback host, allowed by allowInsecureHttp: true — traffic and credentials are not encrypted',
      )
    }
    return result.url
  }

  // AuthProviders
  const authProviders = new Map<string, AuthProvider>()
  for (const [name, entry] of Object.entries(raw.authProviders ?? {})) {
    const provider = buildAuthProvider(name, entry, issues, url)
    if (provider !== undefined) authProviders.set(name, freeze(provider))
  }
  const providerNames = new Set(Object.keys(raw.authProviders ?? {}))

  // Legacy shorthand expands before ExternalCredentials are built.
  const rawEcs: [string, RawExternalCredential, ConfigPath][] = Object.entries(
    raw.externalCredentials ?? {},
  ).map(([name, entry]) => [name, entry, ['externalCredentials', name]])
  const takenEcNames = new Set(rawEcs.map(([name]) => name))
  const rawNcs: [string, RawNamedCredential][] = []
  for (const [name, entry] of Object.entries(raw.namedCredentials ?? {})) {
    const legacy = legacyFieldsOf(entry)
    if (entry.externalCredential !== undefined) {
      for (const field of legacy) {
        issues.push(
          issue(
            ['namedCredentials', name, field],
            'is a legacy shorthand field and cannot be combined with externalCredential — move it to the ExternalCredential, or remove externalCredential',
          ),
        )
      }
      rawNcs.push([name, entry])
    } else if (legacy.length > 0) {
      const expansion = expandLegacy(name, entry, takenEcNames, providerNames, issues)
      if (expansion !== undefined) {
        rawEcs.push([
          expansion.externalCredentialName,
          expansion.externalCredential,
          ['namedCredentials', name],
        ])
        rawNcs.push([name, expansion.namedCredential])
      }
    } else {
      issues.push(
        issue(
          ['namedCredentials', name, 'externalCredential'],
          'is required — name an ExternalCredential, or use the legacy shorthand (identityType, protocol, …)',
        ),
      )
    }
  }

  // ExternalCredentials
  const externalCredentials = new Map<string, ExternalCredential>()
  for (const [name, entry, origin] of rawEcs) {
    const ec = buildExternalCredential(name, entry, origin, {
      providers: authProviders,
      providerNames,
      issues,
      warn,
    })
    if (ec !== undefined) externalCredentials.set(name, freeze(ec))
  }
  const ecNames = new Set(rawEcs.map(([name]) => name))

  // NamedCredentials
  const namedCredentials = new Map<string, NamedCredential>()
  for (const [name, entry] of rawNcs) {
    const nc = buildNamedCredential(name, entry, ecNames, issues, url)
    if (nc !== undefined) namedCredentials.set(name, freeze(nc))
  }

  return {
    definitions: Object.freeze({ authProviders, externalCredentials, namedCredentials }),
    issues,
  }
}

type UrlCheckFn = (
  value: string,
  path: ConfigPath,
  kind: UrlKind,
  insecureOk: boolean,
) => string | undefined

function buildAuthProvider(
  name: string,
  entry: RawAuthProvider,
  issues: ConfigIssue[],
  url: UrlCheckFn,
): AuthProvider | undefined {
  const at = (...rest: (string | number)[]): ConfigPath => ['authProviders', name, ...rest]
  const before = issues.length
  const insecureOk = entry.allowInsecureHttp ?? DEFAULTS.allowInsecureHttp
  const endpoints: Partial<Record<(typeof ENDPOINT_FIELDS)[number], string>> = {}
  for (const field of ENDPOINT_FIELDS) {
    const value = entry[field]
    if (value !== undefined) {
      const checked = url(value, at(field), 'endpoint', insecureOk)
      if (checked !== undefined) endpoints[field] = checked
    }
  }
  let loginUrl: string | undefined
  if (entry.loginUrl !== undefined) {
    if (entry.type !== 'salesforce')
      issues.push(
        issue(
          at('loginUrl'),
          `only applies to type salesforce — remove it, or use ${entry.type === 'oidc' ? 'issuer' : 'tokenUrl'}`,
        ),
      )
    loginUrl = url(entry.loginUrl, at('loginUrl'), 'base', insecureOk)
  }
  let issuer: string | undefined
  if (entry.issuer !== undefined) {
    // An issuer is compared byte for byte with the discovery document's: keep it as written.
    if (url(entry.issuer, at('issuer'), 'base', insecureOk) !== undefined) issuer = entry.issuer
  }
  if (entry.type === 'salesforce') {
    if (entry.loginUrl === undefined && entry.tokenUrl === undefined) {
      issues.push(
        issue(
          at('loginUrl'),
          'is required for type salesforce — e.g. https://login.salesforce.com, https://test.salesforce.com or your My Domain (or give tokenUrl and the other endpoints explicitly)',
        ),
      )
    }
    if (loginUrl !== undefined) {
      const defaults = salesforceEndpoints(new URL(loginUrl))
      for (const field of ENDPOINT_FIELDS) endpoints[field] ??= defaults[field]
    }
  } else if (entry.type === 'oidc') {
    if (entry.issuer === undefined)
      issues.push(
        issue(
          at('issuer'),
          'is required for type oidc — the issuer whose /.well-known/openid-configuration is read',
        ),
      )
  } else if (entry.tokenUrl === undefined) {
    issues.push(issue(at('tokenUrl'), 'is required for type oauth2 — the token endpoint URL'))
  }
  if (entry.issuer !== undefined && entry.type !== 'oidc') {
    issues.push(issue(at('issuer'), 'only applies to type oidc — remove it'))
  }
  const clientAuth: ClientAuthMethod =
    entry.clientAuth ??
    (entry.consumerSecret !== undefined
      ? 'client_secret_post'
      : entry.clientPrivateKey !== undefined
        ? 'private_key_jwt'
        : 'none')
  if (
    (clientAuth === 'client_secret_post' || clientAuth === 'client_secret_basic') &&
    entry.consumerSecret === undefined
  ) {
    issues.push(
      issue(
        at('consumerSecret'),
        `is required for clientAuth ${clientAuth} — add consumerSecret: \${env:NAME}`,
      ),
    )
  }
  if (clientAuth === 'private_key_jwt' && entry.clientPrivateKey === undefined) {
    issues.push(
      issue(
        at('clientPrivateKey'),
        'is required for clientAuth private_key_jwt — add clientPrivateKey: ${file:path/to/key.pem}',
      ),
    )
  }
  if (entry.clientPrivateKey !== undefined && !isPemPrivateKey(entry.clientPrivateKey)) {
    issues.push(
      issue(
        at('clientPrivateKey'),
        'is not a PEM private key — reference a PKCS#8 PEM file with ${file:path/to/key.pem}',
      ),
    )
  }
  const trustedInstanceHosts = buildTrustedInstanceHosts(entry, at, issues)
  if (issues.length > before) return undefined
  return {
    name,
    type: entry.type,
    consumerKey: entry.consumerKey,
    ...opt('consumerSecret', entry.consumerSecret),
    ...opt('clientPrivateKey', entry.clientPrivateKey),
    ...opt('loginUrl', loginUrl),
    ...opt('issuer', issuer),
    ...opt('authorizeUrl', endpoints.authorizeUrl),
    ...opt('tokenUrl', endpoints.tokenUrl),
    ...opt('userInfoUrl', endpoints.userInfoUrl),
    ...opt('revokeUrl', endpoints.revokeUrl),
    ...opt('introspectUrl', endpoints.introspectUrl),
    ...opt('defaultScopes', entry.defaultScopes),
    usePkce: entry.usePkce ?? DEFAULTS.usePkce,
    clientAuth,
    allowInsecureHttp: insecureOk,
    ...opt('trustedInstanceHosts', trustedInstanceHosts),
  }
}

/** `trustedInstanceHosts`: Salesforce only; each a host or `*.` and a domain, lower-cased. */
function buildTrustedInstanceHosts(
  entry: RawAuthProvider,
  at: (...rest: (string | number)[]) => ConfigPath,
  issues: ConfigIssue[],
): string[] | undefined {
  if (entry.trustedInstanceHosts === undefined) return undefined
  if (entry.type !== 'salesforce') {
    issues.push(
      issue(
        at('trustedInstanceHosts'),
        'only applies to type salesforce (only Salesforce tokens carry an instance_url that Callout uses) — remove it',
      ),
    )
    return undefined
  }
  return entry.trustedInstanceHosts.map((pattern, index) => {
    const normalised = pattern.trim().toLowerCase()
    const host = normalised.startsWith('*.') ? normalised.slice(2) : normalised
    if (!isHost(host)) {
      issues.push(
        issue(
          at('trustedInstanceHosts', index),
          'is not a host or *.domain — write e.g. acme.my.salesforce.com or *.my.salesforce.com (no scheme, port or path)',
        ),
      )
    }
    return normalised
  })
}

function buildNamedCredential(
  name: string,
  entry: RawNamedCredential,
  ecNames: ReadonlySet<string>,
  issues: ConfigIssue[],
  url: UrlCheckFn,
): NamedCredential | undefined {
  const at = (...rest: (string | number)[]): ConfigPath => ['namedCredentials', name, ...rest]
  const before = issues.length
  const insecureOk = entry.allowInsecureHttp ?? DEFAULTS.allowInsecureHttp
  const checkedUrl = url(entry.url, at('url'), 'named-credential', insecureOk)
  const ec = entry.externalCredential ?? ''
  if (!ecNames.has(ec)) {
    issues.push(
      issue(
        at('externalCredential'),
        unknownReference('ExternalCredential', ec, 'externalCredentials', ecNames),
      ),
    )
  }
  const allowedHosts: string[] = []
  ;(entry.allowedHosts ?? []).forEach((host, index) => {
    const normalised = host.trim().toLowerCase()
    if (!isHostAndPort(normalised)) {
      issues.push(
        issue(
          at('allowedHosts', index),
          'is not a host or host:port — write e.g. na1.example.com or api.example.com:8443 (no scheme, no path)',
        ),
      )
    } else allowedHosts.push(normalised)
  })
  const headers = buildHeaders(entry.headers ?? [], at('headers'), issues)
  const cert = entry.clientCertificate
  if (cert !== undefined && !isPemPrivateKey(cert.key)) {
    issues.push(
      issue(
        at('clientCertificate', 'key'),
        'is not a PEM private key — reference it with ${file:path/to/client.key}',
      ),
    )
  }
  if (issues.length > before || checkedUrl === undefined) return undefined
  return {
    name,
    label: entry.label ?? name,
    url: checkedUrl,
    externalCredential: ec,
    generateAuthorizationHeader:
      entry.generateAuthorizationHeader ?? DEFAULTS.generateAuthorizationHeader,
    allowMergeFieldsInHeader: entry.allowMergeFieldsInHeader ?? DEFAULTS.allowMergeFieldsInHeader,
    allowMergeFieldsInBody: entry.allowMergeFieldsInBody ?? DEFAULTS.allowMergeFieldsInBody,
    headers,
    ...opt(
      'clientCertificate',
      cert === undefined
        ? undefined
        : {
            cert: cert.cert,
            key: cert.key,
            ...opt('passphrase', cert.passphrase),
            ...opt('ca', cert.ca),
          },
    ),
    timeoutMs: entry.timeoutMs ?? DEFAULTS.timeoutMs,
    ...opt('deadlineMs', entry.deadlineMs),
    redirects: entry.redirects ?? DEFAULTS.redirects,
    allowedHosts,
    allowRedirectsOutsideBasePath:
      entry.allowRedirectsOutsideBasePath ?? DEFAULTS.allowRedirectsOutsideBasePath,
    enabled: entry.enabled ?? DEFAULTS.enabled,
    allowInsecureHttp: insecureOk,
    ...opt('checkPath', entry.checkPath),
  }
}
