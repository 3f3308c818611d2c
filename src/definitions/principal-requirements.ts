/**
 * What a principal must carry, as one table keyed by protocol (and, for `oauth2`, flow): the
 * parameters and secrets every principal needs, those only a named principal needs (a per-user
 * principal's users bring their own), and whether per-user principals are allowed at all.
 * `docs/configuration.md` ("What each protocol requires") describes the same table.
 */
import type { Secret } from '../secrets/secret.ts'
import { issue } from './issues.ts'
import type { ConfigIssue, ConfigPath } from './issues.ts'
import { DEFAULTS } from './model.ts'
import type { JwtSettings, OAuthFlow, Protocol } from './model.ts'
import { isPemPrivateKey } from './build-fields.ts'

type JwtAlgorithm = JwtSettings['algorithm']

/** Shortest HS256 `sharedSecret` accepted for the `jwt` protocol (RFC 7518 §3.2). */
export const MIN_HS256_SHARED_SECRET_BYTES = 32

/** One thing a principal must carry. */
export type PrincipalNeed =
  /** A parameter. */
  | { readonly parameter: string }
  /** A secret (`pem`: a PEM private key). */
  | { readonly secret: string; readonly pem?: true }
  /** A parameter, or a secret of the same name. */
  | { readonly parameterOrSecret: string }
  /** The key a `jwt` is signed with: `sharedSecret` (≥ 32 bytes) for HS256, else a PEM `privateKey`. */
  | { readonly signingKey: true }
  /** A JWT subject: the `username` or `subject` parameter, or `jwt.subject`. */
  | { readonly jwtSubject: 'named' }
  /** A per-user JWT subject: `jwt.subject`, a formula such as `{!$User.Username}`. */
  | { readonly jwtSubject: 'per-user' }

/** The requirements of one protocol or protocol/flow. */
export interface PrincipalRequirements {
  /** How the messages name the protocol: `for protocol basic`, `for flow jwt-bearer`. */
  readonly why: string
  /** Needed by every principal. */
  readonly all: readonly PrincipalNeed[]
  /** Needed by named principals only. */
  readonly named: readonly PrincipalNeed[]
  /** Needed by per-user principals only, or why they are refused. */
  readonly perUser: readonly PrincipalNeed[] | { readonly refused: string }
}

/** The key of {@link PRINCIPAL_REQUIREMENTS}: a protocol, or `oauth2/<flow>`. */
export type RequirementKey = Exclude<Protocol, 'oauth2'> | `oauth2/${OAuthFlow}`

/** Principal requirements by protocol and flow. */
export const PRINCIPAL_REQUIREMENTS: Readonly<Record<RequirementKey, PrincipalRequirements>> =
  Object.freeze({
    none: { why: 'for protocol none', all: [], named: [], perUser: [] },
    custom: { why: 'for protocol custom', all: [], named: [], perUser: [] },
    basic: {
      why: 'for protocol basic',
      all: [],
      named: [{ parameter: 'username' }, { secret: 'password' }],
      perUser: [],
    },
    jwt: { why: 'for protocol jwt', all: [{ signingKey: true }], named: [], perUser: [] },
    'aws-sigv4': {
      why: 'for protocol aws-sigv4',
      all: [],
      named: [{ parameterOrSecret: 'accessKeyId' }, { secret: 'secretAccessKey' }],
      perUser: [],
    },
    'oauth2/browser': { why: 'for flow browser', all: [], named: [], perUser: [] },
    'oauth2/client-credentials': {
      why: 'for flow client-credentials',
      all: [],
      named: [],
      perUser: {
        refused:
          'cannot be per-user with flow client-credentials — the client itself is the identity; use type: named',
      },
    },
    'oauth2/jwt-bearer': {
      why: 'for flow jwt-bearer',
      all: [{ secret: 'privateKey', pem: true }],
      named: [{ jwtSubject: 'named' }],
      perUser: [{ jwtSubject: 'per-user' }],
    },
    'oauth2/password': {
      why: 'for flow password',
      all: [],
      named: [{ parameter: 'username' }, { secret: 'password' }],
      perUser: [],
    },
  })

/** The requirements for a protocol and flow; undefined for `oauth2` without a flow. */
export function requirementsFor(
  protocol: Protocol,
  flow: OAuthFlow | undefined,
): PrincipalRequirements | undefined {
  if (protocol !== 'oauth2') return PRINCIPAL_REQUIREMENTS[protocol]
  return flow === undefined ? undefined : PRINCIPAL_REQUIREMENTS[`oauth2/${flow}`]
}

/** A principal as {@link checkPrincipal} sees it. */
export interface PrincipalUnderCheck {
  readonly type: 'named' | 'per-user'
  readonly parameters: Readonly<Record<string, string>>
  readonly secrets: Readonly<Record<string, Secret>>
}

/** The ExternalCredential's JWT settings that requirements read. */
export interface JwtUnderCheck {
  readonly algorithm?: JwtAlgorithm | undefined
  readonly subject?: string | undefined
}

/**
 * Checks one principal against its requirements and pushes an issue for each one missing, at
 * `path(...)` of the principal.
 *
 * @example
 * checkPrincipal(requirementsFor('basic', undefined)!, principal, undefined, at, issues)
 */
export function checkPrincipal(
  requirements: PrincipalRequirements,
  principal: PrincipalUnderCheck,
  jwt: JwtUnderCheck | undefined,
  path: (...rest: string[]) => ConfigPath,
  issues: ConfigIssue[],
): void {
  const { parameters, secrets } = principal
  const { why } = requirements
  const needSecret = (key: string, because = why): void => {
    if (secrets[key] === undefined)
      issues.push(
        issue(
          path('secrets', key),
          `is required ${because} — add it as \${env:NAME} or \${file:path}`,
        ),
      )
  }
  const checkPem = (key: string, algorithm: JwtAlgorithm): void => {
    const value = secrets[key]
    if (value !== undefined && !isPemPrivateKey(value))
      issues.push(
        issue(
          path('secrets', key),
          `is not a PEM private key (${algorithm}) — reference a PKCS#8 PEM file with \${file:path/to/key.pem}`,
        ),
      )
  }
  const algorithm = jwt?.algorithm ?? DEFAULTS.jwtAlgorithm
  const check = (need: PrincipalNeed): void => {
    if ('signingKey' in need) {
      if (algorithm !== 'HS256') {
        needSecret('privateKey')
        checkPem('privateKey', algorithm)
        return
      }
      needSecret('sharedSecret', `${why} with algorithm HS256`)
      const shared = secrets.sharedSecret
      if (
        shared !== undefined &&
        Buffer.byteLength(shared.reveal(), 'utf8') < MIN_HS256_SHARED_SECRET_BYTES
      ) {
        issues.push(
          issue(
            path('secrets', 'sharedSecret'),
            `is shorter than ${MIN_HS256_SHARED_SECRET_BYTES} bytes — HS256 needs a random secret of at least ${MIN_HS256_SHARED_SECRET_BYTES} bytes (RFC 7518 §3.2)`,
          ),
        )
      }
    } else if ('jwtSubject' in need) {
      if (need.jwtSubject === 'per-user') {
        if (jwt?.subject === undefined)
          issues.push(
            issue(
              path('type'),
              `is per-user ${why}, which needs a per-user subject — set jwt.subject to a formula such as {!$User.Username}`,
            ),
          )
      } else if (
        parameters.username === undefined &&
        parameters.subject === undefined &&
        jwt?.subject === undefined
      ) {
        issues.push(
          issue(
            path('parameters', 'username'),
            `is required ${why} (it is the JWT subject) — add it, or set jwt.subject`,
          ),
        )
      }
    } else if ('parameterOrSecret' in need) {
      const key = need.parameterOrSecret
      if (parameters[key] === undefined && secrets[key] === undefined)
        issues.push(issue(path('parameters', key), `is required ${why} — add it`))
    } else if ('parameter' in need) {
      if (parameters[need.parameter] === undefined)
        issues.push(issue(path('parameters', need.parameter), `is required ${why} — add it`))
    } else {
      needSecret(need.secret)
      if (need.pem === true) checkPem(need.secret, algorithm)
    }
  }
  requirements.all.forEach(check)
  if (principal.type === 'named') {
    requirements.named.forEach(check)
  } else if ('refused' in requirements.perUser) {
    issues.push(issue(path('type'), requirements.perUser.refused))
  } else {
    requirements.perUser.forEach(check)
  }
}
