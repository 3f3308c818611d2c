/**
 * Builds one ExternalCredential of the model from its raw entry, in steps: the fields that
 * apply to its protocol and flow, the fit with its AuthProvider, its principals (checked
 * against `PRINCIPAL_REQUIREMENTS`), and its JWT settings.
 */
import type { Secret } from '../secrets/secret.ts'
import { buildHeaders, opt } from './build-fields.ts'
import { formatPath, issue, unknownReference } from './issues.ts'
import type { ConfigIssue, ConfigPath } from './issues.ts'
import { DEFAULTS } from './model.ts'
import type { AuthProvider, ExternalCredential, JwtSettings, Principal } from './model.ts'
import { checkPrincipal, requirementsFor } from './principal-requirements.ts'
import type { RawExternalCredential } from './schema.ts'

/** What {@link buildExternalCredential} needs besides the entry. */
export interface ExternalCredentialContext {
  /** The built AuthProviders (a provider with issues is missing here). */
  readonly providers: ReadonlyMap<string, AuthProvider>
  /** Every AuthProvider name in the document. */
  readonly providerNames: ReadonlySet<string>
  readonly issues: ConfigIssue[]
  readonly warn: (path: ConfigPath, message: string) => void
}

type At = (...rest: string[]) => ConfigPath

const REGISTERED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti']

/**
 * Builds the ExternalCredential `name` from `entry`; `origin` is where it was written (its own
 * entry, or the legacy NamedCredential it expands from). Returns undefined when it has issues.
 *
 * @example
 * const ec = buildExternalCredential('Api', entry, ['externalCredentials', 'Api'], ctx)
 */
export function buildExternalCredential(
  name: string,
  entry: RawExternalCredential,
  origin: ConfigPath,
  ctx: ExternalCredentialContext,
): ExternalCredential | undefined {
  const at: At = (...rest) =>
    origin[0] === 'externalCredentials'
      ? [...origin, ...rest]
      : [`externalCredentials`, `${name} (from ${formatPath(origin)})`, ...rest]
  const { issues } = ctx
  const before = issues.length
  const { protocol } = entry
  checkProtocolFields(entry, at, ctx)
  const provider =
    entry.authProvider === undefined ? undefined : ctx.providers.get(entry.authProvider)
  if (protocol === 'oauth2' && provider !== undefined) checkProviderFit(entry, provider, at, issues)
  const principals = buildPrincipals(name, entry, at, issues)
  const jwt = buildJwtSettings(entry, at, issues)
  const authHeaders = buildHeaders(entry.authHeaders ?? [], at('authHeaders'), issues)
  if (issues.length > before) return undefined
  return {
    name,
    protocol,
    ...opt('flow', protocol === 'oauth2' ? entry.flow : undefined),
    ...opt('authProvider', entry.authProvider),
    ...opt('scope', entry.scope),
    additionalRefreshStatusCodes: [...new Set(entry.additionalRefreshStatusCodes ?? [])].sort(
      (a, b) => a - b,
    ),
    authHeaders,
    ...opt('jwt', jwt),
    ...opt('sigv4', entry.sigv4),
    ...opt('sessionTimeoutSeconds', entry.sessionTimeoutSeconds),
    principals,
  }
}

function signsJwt(entry: RawExternalCredential): boolean {
  return entry.protocol === 'jwt' || (entry.protocol === 'oauth2' && entry.flow === 'jwt-bearer')
}

/** The fields each protocol requires, and those that apply to another protocol only. */
function checkProtocolFields(
  entry: RawExternalCredential,
  at: At,
  { providerNames, issues, warn }: ExternalCredentialContext,
): void {
  const { protocol, flow } = entry
  if (protocol === 'oauth2') {
    if (flow === undefined)
      issues.push(
        issue(
          at('flow'),
          'is required for protocol oauth2 — one of browser, client-credentials, jwt-bearer, password',
        ),
      )
    if (entry.authProvider === undefined)
      issues.push(
        issue(
          at('authProvider'),
          'is required for protocol oauth2 — name an entry under authProviders',
        ),
      )
    else if (!providerNames.has(entry.authProvider)) {
      issues.push(
        issue(
          at('authProvider'),
          unknownReference('AuthProvider', entry.authProvider, 'authProviders', providerNames),
        ),
      )
    }
    if (flow === 'password') {
      warn(
        at('flow'),
        'uses the OAuth password flow, which sends a user password to the authorization server and is deprecated (RFC 9700) — prefer jwt-bearer or browser',
      )
    }
  } else {
    for (const field of ['flow', 'authProvider', 'scope'] as const) {
      if (entry[field] !== undefined)
        issues.push(issue(at(field), `only applies to protocol oauth2 — remove it`))
    }
  }
  if (entry.jwt !== undefined && !signsJwt(entry)) {
    issues.push(issue(at('jwt'), 'only applies to protocol jwt and flow jwt-bearer — remove it'))
  }
  if (protocol === 'oauth2' && flow === 'jwt-bearer' && entry.jwt?.algorithm === 'HS256') {
    issues.push(
      issue(
        at('jwt', 'algorithm'),
        'is HS256, but flow jwt-bearer signs with a private key — use RS256 (Salesforce) or ES256',
      ),
    )
  }
  if (protocol === 'aws-sigv4' && entry.sigv4 === undefined) {
    issues.push(issue(at('sigv4'), 'is required for protocol aws-sigv4 — add { region, service }'))
  }
  if (entry.sigv4 !== undefined && protocol !== 'aws-sigv4') {
    issues.push(issue(at('sigv4'), 'only applies to protocol aws-sigv4 — remove it'))
  }
}

/** What the oauth2 flow needs from its AuthProvider. */
function checkProviderFit(
  entry: RawExternalCredential,
  provider: AuthProvider,
  at: At,
  issues: ConfigIssue[],
): void {
  const { flow } = entry
  if (flow === 'browser' && provider.type === 'oauth2' && provider.authorizeUrl === undefined) {
    issues.push(
      issue(
        at('flow'),
        `browser needs an authorization endpoint, but authProviders.${provider.name} has no authorizeUrl — add it there`,
      ),
    )
  }
  if (flow === 'client-credentials' && provider.clientAuth === 'none') {
    issues.push(
      issue(
        at('flow'),
        `client-credentials needs a client credential, but authProviders.${provider.name} has neither consumerSecret nor clientPrivateKey — add one there`,
      ),
    )
  }
}

/** The principals in `sequence` order, each checked against `PRINCIPAL_REQUIREMENTS`. */
function buildPrincipals(
  name: string,
  entry: RawExternalCredential,
  at: At,
  issues: ConfigIssue[],
): Principal[] {
  const { protocol } = entry
  const principalEntries = Object.entries(entry.principals ?? {})
  if (protocol !== 'none' && principalEntries.length === 0) {
    issues.push(
      issue(
        at('principals'),
        `needs at least one principal for protocol ${protocol} — add e.g. principals: { Default: { type: named } }`,
      ),
    )
  }
  const requirements = requirementsFor(protocol, entry.flow)
  const principals = principalEntries.map(([pname, p], index): Principal => {
    const pat: At = (...rest) => at('principals', pname, ...rest)
    const parameters = p.parameters ?? {}
    const secrets: Record<string, Secret> = p.secrets ?? {}
    for (const key of Object.keys(parameters)) {
      if (key in secrets)
        issues.push(
          issue(
            pat('secrets', key),
            `has the same name as parameters.${key} — both are read as {!$Credential.${name}.${key}}; rename one`,
          ),
        )
    }
    if (requirements !== undefined)
      checkPrincipal(requirements, { type: p.type, parameters, secrets }, entry.jwt, pat, issues)
    return {
      name: pname,
      type: p.type,
      sequence: p.sequence ?? index + 1,
      parameters: { ...parameters },
      secrets: { ...secrets },
    }
  })
  return principals.sort((a, b) => a.sequence - b.sequence)
}

/** The JWT settings with defaults, for `jwt` and `jwt-bearer`; undefined otherwise. */
function buildJwtSettings(
  entry: RawExternalCredential,
  at: At,
  issues: ConfigIssue[],
): JwtSettings | undefined {
  if (!signsJwt(entry)) return undefined
  const jwt = entry.jwt
  for (const claim of Object.keys(jwt?.additionalClaims ?? {})) {
    if (REGISTERED_CLAIMS.includes(claim)) {
      issues.push(
        issue(
          at('jwt', 'additionalClaims', claim),
          'is a registered claim set by Callout — use jwt.issuer, jwt.subject, jwt.audience or jwt.validitySeconds instead',
        ),
      )
    }
  }
  return {
    ...opt('issuer', jwt?.issuer),
    ...opt('subject', jwt?.subject),
    ...opt('audience', jwt?.audience),
    validitySeconds: jwt?.validitySeconds ?? DEFAULTS.jwtValiditySeconds,
    algorithm: jwt?.algorithm ?? DEFAULTS.jwtAlgorithm,
    ...opt('keyId', jwt?.keyId),
    ...opt('additionalClaims', jwt?.additionalClaims),
  }
}
