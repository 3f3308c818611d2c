/**
 * The legacy single-record Named Credential (Salesforce's pre-Winter '23 form: URL, identity type,
 * protocol and credentials in one record) as shorthand. Each legacy entry expands into an
 * ExternalCredential named `<Name>_Auth` with one principal — `NamedPrincipal` (named-principal)
 * or `PerUser` (per-user) — exactly as if the new form had been written by hand.
 */
import type { Secret } from '../secrets/secret.ts'
import { issue, unknownReference } from './issues.ts'
import type { ConfigIssue, ConfigPath } from './issues.ts'
import { DEFAULTS } from './model.ts'
import { LEGACY_FIELDS } from './schema.ts'
import type { RawExternalCredential, RawNamedCredential } from './schema.ts'

/** A legacy shorthand field name. */
export type LegacyField = (typeof LEGACY_FIELDS)[number]

/** The principal names the shorthand creates. */
export const LEGACY_PRINCIPAL = Object.freeze({ named: 'NamedPrincipal', perUser: 'PerUser' })

/** The name of the ExternalCredential a legacy entry `name` expands into. */
export function legacyExternalCredentialName(name: string): string {
  return `${name}_Auth`
}

/** The legacy fields present on a NamedCredential entry. */
export function legacyFieldsOf(entry: RawNamedCredential): LegacyField[] {
  return LEGACY_FIELDS.filter((field) => entry[field] !== undefined)
}

/** The result of {@link expandLegacy}. */
export interface LegacyExpansion {
  /** The NamedCredential entry without legacy fields, pointing at the new ExternalCredential. */
  readonly namedCredential: RawNamedCredential
  readonly externalCredentialName: string
  readonly externalCredential: RawExternalCredential
}

// Which credential fields each legacy protocol accepts (identityType and protocol always).
const ALLOWED: Record<string, readonly LegacyField[]> = {
  none: [],
  password: ['username', 'password'],
  oauth2: ['flow', 'authProvider', 'scope', 'username', 'password', 'privateKey', 'jwt'],
  jwt: ['privateKey', 'jwt'],
  'aws-sigv4': ['sigv4', 'accessKeyId', 'secretAccessKey'],
}

// Credentials an end user supplies for themselves with a per-user principal.
const PER_USER_FORBIDDEN: readonly LegacyField[] = [
  'username',
  'password',
  'accessKeyId',
  'secretAccessKey',
]

/**
 * Expands one legacy NamedCredential entry. Problems are pushed onto `issues` with paths under
 * `namedCredentials.<name>`; the result is `undefined` when there were any.
 *
 * @param takenNames ExternalCredential names already defined (a collision is an error).
 * @param providerNames AuthProvider names defined, for the `authProvider` reference.
 * @example
 * // namedCredentials: { Legacy: { url: 'https://h', protocol: password, username: u, password: '${env:P}' } }
 * // → externalCredentials.Legacy_Auth = { protocol: basic, principals: { NamedPrincipal: {
 * //     type: named, parameters: { username: u }, secrets: { password: Secret } } } }
 */
export function expandLegacy(
  name: string,
  entry: RawNamedCredential,
  takenNames: ReadonlySet<string>,
  providerNames: ReadonlySet<string>,
  issues: ConfigIssue[],
): LegacyExpansion | undefined {
  const at = (...rest: (string | number)[]): ConfigPath => ['namedCredentials', name, ...rest]
  const before = issues.length
  const present = legacyFieldsOf(entry)
  const ecName = legacyExternalCredentialName(name)
  if (takenNames.has(ecName)) {
    issues.push(
      issue(
        at(),
        `uses the legacy shorthand, which creates the ExternalCredential ${ecName}, but externalCredentials.${ecName} already exists — rename one of them, or write this credential in the new form with externalCredential: ${ecName}`,
      ),
    )
  }
  if (ecName.length > DEFAULTS.maxNameLength) {
    issues.push(
      issue(
        at(),
        `is too long for the legacy shorthand (${ecName} would exceed ${DEFAULTS.maxNameLength} characters) — shorten the name`,
      ),
    )
  }

  const identityType =
    entry.identityType ??
    (entry.protocol === undefined || entry.protocol === 'none' ? 'anonymous' : 'named-principal')
  const protocol = entry.protocol ?? (identityType === 'anonymous' ? 'none' : undefined)
  if (protocol === undefined) {
    issues.push(
      issue(
        at('protocol'),
        'is required with identityType — one of none, password, oauth2, jwt, aws-sigv4',
      ),
    )
    return undefined
  }
  if (protocol === 'jwt-exchange') {
    issues.push(
      issue(
        at('protocol'),
        'jwt-exchange is not supported — use protocol: oauth2 with flow: jwt-bearer (RFC 7523), which replaces it',
      ),
    )
    return undefined
  }
  if (identityType === 'anonymous' && protocol !== 'none') {
    issues.push(
      issue(
        at('identityType'),
        `anonymous means no authentication, but protocol is ${protocol} — use identityType: named-principal or per-user, or protocol: none`,
      ),
    )
  }
  const allowed = ALLOWED[protocol] ?? []
  for (const field of present) {
    if (field === 'identityType' || field === 'protocol') continue
    if (!allowed.includes(field)) {
      issues.push(issue(at(field), `does not apply to the legacy protocol ${protocol} — remove it`))
    } else if (identityType === 'per-user' && PER_USER_FORBIDDEN.includes(field)) {
      issues.push(
        issue(
          at(field),
          'cannot be set for a per-user identity — each end user supplies their own; remove it or use identityType: named-principal',
        ),
      )
    }
  }

  const flow = protocol === 'oauth2' ? (entry.flow ?? 'browser') : undefined
  const named = identityType === 'named-principal'
  const require = (field: LegacyField, why: string): void => {
    if (entry[field] === undefined) issues.push(issue(at(field), `is required ${why} — add it`))
  }
  if (protocol === 'password' && named) {
    require('username', 'for protocol password')
    require('password', 'for protocol password')
  }
  if (protocol === 'oauth2') {
    if (entry.authProvider === undefined) require('authProvider', 'for protocol oauth2')
    else if (!providerNames.has(entry.authProvider)) {
      issues.push(
        issue(
          at('authProvider'),
          unknownReference('AuthProvider', entry.authProvider, 'authProviders', providerNames),
        ),
      )
    }
    if (flow === 'password' && named) {
      require('username', 'for flow password')
      require('password', 'for flow password')
    }
    if (flow === 'jwt-bearer') {
      require('privateKey', 'for flow jwt-bearer')
      if (named && entry.jwt?.subject === undefined)
        require('username', 'for flow jwt-bearer (it is the JWT subject)')
      if (!named && entry.jwt?.subject === undefined) {
        issues.push(
          issue(
            at('jwt', 'subject'),
            'is required for a per-user jwt-bearer credential — give a per-user subject formula such as {!$User.Username}',
          ),
        )
      }
    }
    if (flow !== 'password' && flow !== 'jwt-bearer') {
      for (const field of ['username', 'password', 'privateKey'] as const) {
        if (entry[field] !== undefined)
          issues.push(issue(at(field), `does not apply to flow ${flow ?? 'browser'} — remove it`))
      }
    }
  }
  if (protocol === 'jwt') require('privateKey', 'for protocol jwt')
  if (protocol === 'aws-sigv4') {
    require('sigv4', 'for protocol aws-sigv4')
    if (named) {
      require('accessKeyId', 'for protocol aws-sigv4')
      require('secretAccessKey', 'for protocol aws-sigv4')
    }
  }
  if (issues.length > before) return undefined

  const parameters: Record<string, string> = {}
  const secrets: Record<string, Secret> = {}
  if (entry.username !== undefined) parameters.username = entry.username
  if (entry.accessKeyId !== undefined) parameters.accessKeyId = entry.accessKeyId
  if (entry.password !== undefined) secrets.password = entry.password
  if (entry.privateKey !== undefined) secrets.privateKey = entry.privateKey
  if (entry.secretAccessKey !== undefined) secrets.secretAccessKey = entry.secretAccessKey

  const principals: NonNullable<RawExternalCredential['principals']> = {}
  if (identityType !== 'anonymous') {
    principals[named ? LEGACY_PRINCIPAL.named : LEGACY_PRINCIPAL.perUser] = {
      type: named ? 'named' : 'per-user',
      parameters,
      secrets,
    }
  }
  const externalCredential: RawExternalCredential = {
    protocol: protocol === 'password' ? 'basic' : protocol,
    ...(flow === undefined ? {} : { flow }),
    ...(entry.authProvider === undefined ? {} : { authProvider: entry.authProvider }),
    ...(entry.scope === undefined ? {} : { scope: entry.scope }),
    ...(entry.jwt === undefined ? {} : { jwt: entry.jwt }),
    ...(entry.sigv4 === undefined ? {} : { sigv4: entry.sigv4 }),
    principals,
  }
  const namedCredential: Record<string, unknown> = { ...entry, externalCredential: ecName }
  for (const field of LEGACY_FIELDS) delete namedCredential[field]
  return {
    namedCredential: namedCredential as RawNamedCredential,
    externalCredentialName: ecName,
    externalCredential,
  }
}
