/**
 * The resolved definitions Callout works with, after the config schema has validated them and
 * the legacy shorthand has been expanded. Secret fields hold {@link Secret}s, never strings.
 *
 * The model follows Salesforce's current one: a NamedCredential (where to call) points at an
 * ExternalCredential (how to authenticate), which has principals (whose identity).
 */
import type { Secret } from '../secrets/secret.ts'

/** `[A-Za-z][A-Za-z0-9_]*`, the shape of every definition name. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/

/** The kinds of authorization server Callout knows. */
export type AuthProviderType = 'salesforce' | 'oidc' | 'oauth2'

/** How the client authenticates to the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2). */
export type ClientAuthMethod =
  'client_secret_post' | 'client_secret_basic' | 'private_key_jwt' | 'none'

/** How to talk to an OAuth 2.0 / OpenID Connect authorization server. */
export interface AuthProvider {
  readonly name: string
  readonly type: AuthProviderType
  /** The OAuth `client_id` (Salesforce: the Connected App's consumer key). */
  readonly consumerKey: string
  /** The OAuth `client_secret`. */
  readonly consumerSecret?: Secret
  /** PEM PKCS#8 private key for `private_key_jwt` client authentication. */
  readonly clientPrivateKey?: Secret
  /** Salesforce: the login host (`https://login.salesforce.com`, `https://test.salesforce.com`, a My Domain). */
  readonly loginUrl?: string
  /** OIDC: the issuer whose discovery document is read. */
  readonly issuer?: string
  readonly authorizeUrl?: string
  readonly tokenUrl?: string
  readonly userInfoUrl?: string
  readonly revokeUrl?: string
  readonly introspectUrl?: string
  /** Space-separated default scopes (`scope` on an ExternalCredential overrides them). */
  readonly defaultScopes?: string
  /** PKCE S256 on the authorization code flow. Default true. */
  readonly usePkce: boolean
  readonly clientAuth: ClientAuthMethod
  /** Loud, greppable switch: allow http:// endpoints on non-loopback hosts. Default false. */
  readonly allowInsecureHttp: boolean
  /**
   * Salesforce: hosts a token's `instance_url` may name (`acme.my.salesforce.com`, or
   * `*.my.salesforce.com` for any subdomain). Unset: any https `instance_url` is used.
   */
  readonly trustedInstanceHosts?: readonly string[]
}

/** The authentication protocol of an ExternalCredential. */
export type Protocol = 'none' | 'basic' | 'oauth2' | 'jwt' | 'aws-sigv4' | 'custom'

/** The OAuth 2.0 flow of an `oauth2` ExternalCredential. */
export type OAuthFlow = 'browser' | 'client-credentials' | 'jwt-bearer' | 'password'

/** A header computed by formula, e.g. `{ name: 'X-Api-Key', formula: '{!$Credential.Api.key}' }`. */
export interface FormulaHeader {
  readonly name: string
  readonly formula: string
  /** Order of evaluation and sending; lower first. */
  readonly sequence: number
}

/** One identity an ExternalCredential can authenticate as. */
export interface Principal {
  readonly name: string
  /** `named`: one shared identity. `per-user`: each end user authenticates for themselves. */
  readonly type: 'named' | 'per-user'
  readonly sequence: number
  /**
   * Non-secret parameters, e.g. `username` (basic, password flow, jwt-bearer `sub`), `subject`.
   * Readable by formulas as `{!$Credential.<ExternalCredential>.<name>}`.
   */
  readonly parameters: Readonly<Record<string, string>>
  /**
   * Secret parameters, e.g. `password`, `apiKey`, `privateKey` (jwt-bearer), `accessKeyId`.
   * Readable by formulas as `{!$Credential.<ExternalCredential>.<name>}`.
   */
  readonly secrets: Readonly<Record<string, Secret>>
}

/** JWT settings for the `jwt` protocol and the `jwt-bearer` flow. */
export interface JwtSettings {
  readonly issuer?: string
  readonly subject?: string
  /** One audience or several. Salesforce jwt-bearer: the login host. */
  readonly audience?: string | readonly string[]
  readonly validitySeconds: number
  readonly algorithm: 'RS256' | 'ES256' | 'HS256'
  readonly keyId?: string
  readonly additionalClaims?: Readonly<Record<string, unknown>>
}

/** AWS Signature Version 4 settings. */
export interface SigV4Settings {
  readonly region: string
  readonly service: string
}

/** How to authenticate. */
export interface ExternalCredential {
  readonly name: string
  readonly protocol: Protocol
  /** For `oauth2`. */
  readonly flow?: OAuthFlow
  /** For `oauth2`: the AuthProvider's name. */
  readonly authProvider?: string
  /** Overrides the provider's default scopes, e.g. `refresh_token full`. */
  readonly scope?: string
  /** Statuses besides 401 that trigger one refresh and one retry. */
  readonly additionalRefreshStatusCodes: readonly number[]
  /** Formula headers added after the Authorization header. */
  readonly authHeaders: readonly FormulaHeader[]
  /** For `jwt` and `jwt-bearer`. */
  readonly jwt?: JwtSettings
  /** For `aws-sigv4`. */
  readonly sigv4?: SigV4Settings
  /** Salesforce sends no `expires_in`: the org's session timeout, for proactive refresh. */
  readonly sessionTimeoutSeconds?: number
  readonly principals: readonly Principal[]
}

/** Redirect policy of a NamedCredential (DESIGN §4 step 5). */
export type RedirectPolicy = 'follow-trusted' | 'manual'

/** A client certificate for mutual TLS. */
export interface ClientCertificate {
  /** PEM certificate chain. */
  readonly cert: string
  /** PEM private key. */
  readonly key: Secret
  readonly passphrase?: Secret
  /** PEM CA bundle to trust for this upstream, in addition to the system's. */
  readonly ca?: string
}

/** Where to call. */
export interface NamedCredential {
  readonly name: string
  readonly label: string
  /** https (http only for loopback or with `allowInsecureHttp`), path allowed, no query, no userinfo. */
  readonly url: string
  readonly externalCredential: string
  readonly generateAuthorizationHeader: boolean
  readonly allowMergeFieldsInHeader: boolean
  readonly allowMergeFieldsInBody: boolean
  /** Custom headers, formulas allowed; sent after the ExternalCredential's auth headers. */
  readonly headers: readonly FormulaHeader[]
  readonly clientCertificate?: ClientCertificate
  /** Idle timeout: for the response headers, and between body chunks. Default 10 000, max 120 000. */
  readonly timeoutMs: number
  /**
   * Total deadline of a callout, from the call until the last byte of the body (redirects and a
   * retry included); `UPSTREAM_TIMEOUT` with `details.timeout: 'deadline'` when it passes. Unset:
   * no total deadline, only `timeoutMs`.
   */
  readonly deadlineMs?: number
  readonly redirects: RedirectPolicy
  /**
   * Extra hosts (`host` or `host:port`) a redirect may go to with credentials; a bare host means
   * the port of `url`.
   */
  readonly allowedHosts: readonly string[]
  /**
   * Loud, greppable switch: follow redirects with credentials anywhere on the credential's origin,
   * not only under the path of `url`. Default false.
   */
  readonly allowRedirectsOutsideBasePath: boolean
  readonly enabled: boolean
  /** Loud, greppable switch: allow an http:// URL on a non-loopback host. Default false. */
  readonly allowInsecureHttp: boolean
  /**
   * A path under `url` that answers only with valid credentials (e.g. `/me`): `callout doctor
   * --online` GETs it to prove the credential is accepted. Salesforce needs none (it uses
   * `/services/data/v61.0/`).
   */
  readonly checkPath?: string
}

/** A complete, validated set of definitions keyed by name. */
export interface Definitions {
  readonly authProviders: ReadonlyMap<string, AuthProvider>
  readonly externalCredentials: ReadonlyMap<string, ExternalCredential>
  readonly namedCredentials: ReadonlyMap<string, NamedCredential>
}

/** Defaults applied by the schema, in one frozen object. */
export const DEFAULTS = Object.freeze({
  timeoutMs: 10_000,
  maxTimeoutMs: 120_000,
  /** Longest NamedCredential `deadlineMs` (24 hours). */
  maxDeadlineMs: 86_400_000,
  maxRedirects: 5,
  jwtValiditySeconds: 300,
  /** Salesforce's default session timeout (2 hours), used when none is configured. */
  salesforceSessionTimeoutSeconds: 7_200,
  /** Longest definition name (Salesforce DeveloperName allows 80). */
  maxNameLength: 80,
  /** AuthProvider `usePkce`. */
  usePkce: true,
  /** AuthProvider / NamedCredential `allowInsecureHttp`. */
  allowInsecureHttp: false,
  /** ExternalCredential `jwt.algorithm`. */
  jwtAlgorithm: 'RS256' as JwtSettings['algorithm'],
  /** NamedCredential `generateAuthorizationHeader`. */
  generateAuthorizationHeader: true,
  /** NamedCredential `allowMergeFieldsInHeader`. */
  allowMergeFieldsInHeader: false,
  /** NamedCredential `allowMergeFieldsInBody`. */
  allowMergeFieldsInBody: false,
  /** NamedCredential `redirects`. */
  redirects: 'follow-trusted' as RedirectPolicy,
  /** NamedCredential `allowRedirectsOutsideBasePath`. */
  allowRedirectsOutsideBasePath: false,
  /** NamedCredential `enabled`. */
  enabled: true,
  /** Largest config file Callout reads, and largest file a `${file:…}` reference may name. */
  maxConfigBytes: 1_048_576,
  /** YAML alias expansions allowed while reading a config file (anti "billion laughs"). */
  maxYamlAliasCount: 100,
})

/** The lifecycle status of one principal's stored credential. */
export type CredentialStatus =
  'not-configured' | 'pending' | 'authenticated' | 'needs-reauth' | 'error'

/** Identifies one stored credential: a principal, and for per-user principals an end user. */
export interface CredentialKey {
  readonly externalCredential: string
  readonly principal: string
  /** The end user for `per-user` principals; `''` for `named`. */
  readonly userId: string
}

/** Who a credential authenticated as (what "Authenticated as <username>" shows). */
export interface CredentialIdentity {
  readonly username?: string
  readonly userId?: string
  readonly orgId?: string
  /** Salesforce: the identity URL (`id` in the token response). */
  readonly idUrl?: string
}

/** The stored state of one principal (and user). */
export interface PrincipalCredential extends CredentialKey {
  readonly status: CredentialStatus
  readonly accessToken?: Secret
  readonly refreshToken?: Secret
  readonly tokenType?: string
  /** ms since epoch. */
  readonly issuedAt?: number
  /** ms since epoch, when known (`expires_in`, session timeout). */
  readonly expiresAt?: number
  readonly scope?: string
  /** Salesforce: the API origin from the token response. */
  readonly instanceUrl?: string
  readonly identity?: CredentialIdentity
  readonly lastRefreshAt?: number
  readonly lastError?: { readonly code: string; readonly message: string; readonly at: number }
  /** Incremented on every write; compare-and-swap guard. 0 = never stored. */
  readonly version: number
}

/** A string form of a credential key, e.g. for maps and lease names. */
export function credentialKeyString(key: CredentialKey): string {
  return `${key.externalCredential}/${key.principal}/${key.userId}`
}
