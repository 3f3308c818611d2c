/**
 * Processing of token endpoint responses (RFC 6749 §5.1, §5.2) into a {@link TokenSet}, with
 * Salesforce's shape (no `expires_in`, `issued_at` in ms as a string, `instance_url`; its `id` and
 * `signature` are read by `providers/salesforce-token.ts` after the generic parse). Everything
 * here is pure except {@link readTokenResponse}, which reads a body with the auth layer's one
 * size cap (`capped-body.ts`).
 *
 * Failure mapping (codes are stable, messages say what to do):
 *
 * | response | code |
 * |---|---|
 * | 5xx, 3xx, non-JSON (HTML), invalid JSON, body over 1 MiB | `TOKEN_ENDPOINT_ERROR` |
 * | 200 without a usable `access_token`, bad `expires_in`, bad `instance_url`, bad `signature` | `TOKEN_RESPONSE_INVALID` |
 * | `invalid_grant` on a refresh or code exchange | `NEEDS_REAUTH` |
 * | `invalid_grant` on client credentials, JWT bearer, password | `OAUTH_ERROR` (it is a configuration problem, not a lost login) |
 * | `invalid_client`, `invalid_client_id` | `OAUTH_CLIENT_INVALID` |
 * | any other OAuth `error` | `OAUTH_ERROR` |
 */
import type { Clock } from '../clock.ts'
import type { AuthProviderType } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import { salesforceTokenIdentity } from '../providers/salesforce-token.ts'
import { Secret } from '../secrets/secret.ts'
import { readCappedText } from './capped-body.ts'
import { MAX_AUTH_RESPONSE_BYTES } from './deps.ts'
import type { TokenSet } from './types.ts'
import { isAcceptableServerUrl } from './url-safety.ts'

/** The grant a token response answers; it decides how `invalid_grant` is reported. */
export type GrantKind =
  'authorization_code' | 'refresh_token' | 'client_credentials' | 'jwt_bearer' | 'password'

/** A token endpoint response as read from the wire: status, content type and body text. */
export interface RawTokenResponse {
  readonly status: number
  /** The `content-type` header, `''` when absent. */
  readonly contentType: string
  readonly body: string
}

/** What {@link parseTokenResponse} needs to know besides the response. */
export interface TokenResponseContext {
  readonly providerType: AuthProviderType
  /** The AuthProvider's name, for messages. */
  readonly providerName: string
  /** The ExternalCredential's name, for "run `callout auth <Name>`" advice. */
  readonly externalCredential: string
  readonly grant: GrantKind
  readonly clock: Clock
  /** Salesforce: when known, the `signature` field is verified with it. */
  readonly consumerSecret?: Secret
  /** Accept an http:// `instance_url`/`id` on a non-loopback host (the provider's loud switch). */
  readonly allowInsecureHttp?: boolean
}

const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600
const PRINTABLE_TOKEN = /^[\x21-\x7e]+$/

/**
 * Reads a token endpoint response body, refusing bodies larger than `maxBytes` (default 1 MiB)
 * without buffering them whole.
 *
 * @throws CalloutError `TOKEN_ENDPOINT_ERROR` when the body is too large or the read fails.
 */
export async function readTokenResponse(
  response: Response,
  maxBytes: number = MAX_AUTH_RESPONSE_BYTES,
): Promise<RawTokenResponse> {
  const contentType = response.headers.get('content-type') ?? ''
  const body = await readCappedText(response, maxBytes, 'token endpoint')
  return { status: response.status, contentType, body }
}

/**
 * Turns a raw token endpoint response into a {@link TokenSet}, or throws the matching
 * {@link CalloutError}. Pure: no network, time only from `ctx.clock`.
 *
 * @example
 * const tokens = parseTokenResponse(
 *   { status: 200, contentType: 'application/json', body: '{"access_token":"…","token_type":"Bearer","issued_at":"1278448101416"}' },
 *   { providerType: 'salesforce', providerName: 'SF', externalCredential: 'SF', grant: 'refresh_token', clock },
 * )
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export function parseTokenResponse(raw: RawTokenResponse, ctx: TokenResponseContext): TokenSet {
  const json = parseTokenJson(raw, ctx)
  if (typeof json.error === 'string' || raw.status !== 200) {
    throw oauthErrorFor(raw.status, json, ctx)
  }
  return tokenSetFromJson(json, ctx)
}

/**
 * Classifies a raw response and parses its JSON object; throws for anything that is not a JSON
 * object (5xx, HTML, invalid JSON, redirects).
 */
function parseTokenJson(
  raw: RawTokenResponse,
  ctx: Pick<TokenResponseContext, 'providerName'>,
): Record<string, unknown> {
  const details: Record<string, unknown> = {
    provider: ctx.providerName,
    status: raw.status,
    contentType: sanitizeExcerpt(raw.contentType, 100),
  }
  if (raw.status >= 500) {
    const parsed = tryParseObject(raw.body)
    if (parsed !== undefined && typeof parsed.error === 'string') {
      details.error = sanitizeExcerpt(parsed.error, 100)
    }
    throw new CalloutError(
      'TOKEN_ENDPOINT_ERROR',
      `The token endpoint of AuthProvider "${ctx.providerName}" failed with HTTP ${raw.status}. This is a server-side problem; Callout will retry later. If it persists, check the provider's status page.`,
      { details },
    )
  }
  if (!isJsonContentType(raw.contentType)) {
    const title = htmlTitle(raw.body)
    if (title !== undefined) details.htmlTitle = title
    throw new CalloutError(
      'TOKEN_ENDPOINT_ERROR',
      `The token endpoint of AuthProvider "${ctx.providerName}" answered HTTP ${raw.status} with ${raw.contentType === '' ? 'no content type' : `"${sanitizeExcerpt(raw.contentType, 60)}"`} instead of JSON. Check the token URL (a login page or proxy answered instead of the OAuth server).`,
      { details },
    )
  }
  const parsed = tryParseObject(raw.body)
  if (parsed === undefined) {
    throw new CalloutError(
      'TOKEN_ENDPOINT_ERROR',
      `The token endpoint of AuthProvider "${ctx.providerName}" answered HTTP ${raw.status} with a body that is not a JSON object. Check the token URL.`,
      { details },
    )
  }
  return parsed
}

function tryParseObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body)
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>
    }
  } catch {
    // fall through
  }
  return undefined
}

function isJsonContentType(contentType: string): boolean {
  const essence = (contentType.split(';')[0] ?? '').trim().toLowerCase()
  return essence === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(essence)
}

/** A short, printable excerpt of an HTML `<title>`, if any (never the body itself). */
function htmlTitle(body: string): string | undefined {
  const match = /<title[^>]*>([^<]{0,500})<\/title>/i.exec(body.slice(0, 65_536))
  if (match === null) return undefined
  const title = sanitizeExcerpt(match[1] ?? '', 80)
  return title === '' ? undefined : title
}

/** Keeps printable characters only, collapses whitespace and truncates. */
export function sanitizeExcerpt(value: string, max: number): string {
  const clean = value
    .replace(/[^\x20-\x7e\u00a0-\uffff]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  return clean.length > max ? `${clean.slice(0, max)}…` : clean
}

const INTERACTIVE_GRANTS: ReadonlySet<GrantKind> = new Set(['authorization_code', 'refresh_token'])

/** Maps an OAuth error body (RFC 6749 §5.2) to a CalloutError. */
function oauthErrorFor(
  status: number,
  json: Record<string, unknown>,
  ctx: TokenResponseContext,
): CalloutError {
  if (typeof json.error !== 'string') {
    return new CalloutError(
      'TOKEN_ENDPOINT_ERROR',
      `The token endpoint of AuthProvider "${ctx.providerName}" answered HTTP ${status} without an OAuth error code. Check the token URL.`,
      { details: { provider: ctx.providerName, status } },
    )
  }
  const error = sanitizeExcerpt(json.error, 100)
  const description =
    typeof json.error_description === 'string'
      ? sanitizeExcerpt(json.error_description, 300)
      : undefined
  const details: Record<string, unknown> = {
    provider: ctx.providerName,
    status,
    error,
    ...(description === undefined ? {} : { error_description: description }),
    grant: ctx.grant,
  }
  const said = description === undefined ? error : `${error}: ${description}`
  const salesforce = ctx.providerType === 'salesforce'

  if (error === 'invalid_client' || error === 'invalid_client_id') {
    const jwtKey =
      ctx.grant === 'jwt_bearer' && error === 'invalid_client'
        ? salesforce
          ? " For the JWT bearer flow this usually means the assertion's signature does not verify: the principal's privateKey must belong to the certificate uploaded to the Connected App (\"Use digital signatures\"); upload the matching certificate or configure the matching key. Also check the consumer key (the assertion's issuer)."
          : " For the JWT bearer flow this usually means the assertion's signature does not verify: the principal's privateKey must match the public key or certificate registered for the client. Also check the client id (the assertion's issuer)."
        : undefined
    const hint =
      jwtKey ??
      (salesforce
        ? ' A new Connected App takes 2–10 minutes to propagate; check the consumer key (and secret) of the Connected App.'
        : ' Check the client id and secret (or signing key) of the AuthProvider.')
    return new CalloutError(
      'OAUTH_CLIENT_INVALID',
      `The authorization server rejected the client of AuthProvider "${ctx.providerName}" (${said}).${hint}`,
      { details },
    )
  }
  if (error === 'invalid_grant' && INTERACTIVE_GRANTS.has(ctx.grant)) {
    const hint = salesforce
      ? ' Salesforce\'s "expired access/refresh token" means the refresh token was revoked, expired under the Connected App\'s refresh token policy, rotated out, or evicted by the five-approvals-per-user limit.'
      : ''
    return new CalloutError(
      'NEEDS_REAUTH',
      `The authorization server rejected the stored grant of ExternalCredential "${ctx.externalCredential}" (${said}); the principal must re-authenticate.${hint}`,
      { details },
    )
  }
  return new CalloutError(
    'OAUTH_ERROR',
    `The authorization server of AuthProvider "${ctx.providerName}" returned an OAuth error (${said}).${adviceForGrantError(error, description, ctx)}`,
    { details },
  )
}

function adviceForGrantError(
  error: string,
  description: string | undefined,
  ctx: TokenResponseContext,
): string {
  const d = (description ?? '').toLowerCase()
  if (error === 'invalid_grant') {
    if (d.includes("hasn't approved") || d.includes('not approved')) {
      return ' The user must be pre-authorized for the Connected App (Admin approved users are pre-authorized, plus a profile or permission set).'
    }
    if (d.includes('audience')) {
      return ' Set the JWT audience to the login host (https://login.salesforce.com, https://test.salesforce.com or the site URL).'
    }
    if (ctx.grant === 'jwt_bearer' && d.includes('invalid assertion')) {
      return " The assertion was refused: check that the principal's privateKey belongs to the certificate uploaded to the Connected App, that the username (sub) exists, and that the clocks agree (exp)."
    }
    if (d.includes('client credentials user')) {
      return ' Enable the Client Credentials Flow on the Connected App and set its Run As user.'
    }
    if (ctx.grant === 'password') return ' Check the username, the password and the security token.'
    return ' Check the credential configuration; this grant cannot be fixed by re-authenticating in a browser.'
  }
  if (error === 'invalid_scope')
    return ' Check the scope of the ExternalCredential or AuthProvider.'
  if (error === 'unsupported_grant_type') {
    return ' Enable this flow for the client at the authorization server.'
  }
  if (error === 'invalid_request' && d.includes('not supported on this domain')) {
    return ' Use the My Domain token URL (https://<domain>.my.salesforce.com) for this flow.'
  }
  return ''
}

/** Validates a successful (200) token response and builds the TokenSet. */
function tokenSetFromJson(json: Record<string, unknown>, ctx: TokenResponseContext): TokenSet {
  const invalid = (field: string, what: string): CalloutError =>
    new CalloutError(
      'TOKEN_RESPONSE_INVALID',
      `The token endpoint of AuthProvider "${ctx.providerName}" answered 200 but ${what}. Check that the token URL points at an OAuth 2.0 server.`,
      { details: { provider: ctx.providerName, field } },
    )

  const accessToken = json.access_token
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw invalid('access_token', 'without an access_token string')
  }
  if (!PRINTABLE_TOKEN.test(accessToken)) {
    throw invalid('access_token', 'with an access_token containing spaces or control characters')
  }

  const tokenType = 'Bearer'
  if (json.token_type !== undefined) {
    if (typeof json.token_type !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(json.token_type)) {
      throw invalid('token_type', 'with a malformed token_type')
    }
    if (json.token_type.toLowerCase() !== 'bearer') {
      // Callout sends every token as a Bearer token (RFC 6750); any other type (DPoP, MAC, N_A)
      // would be sent wrong or needs a proof Callout does not make.
      throw new CalloutError(
        'TOKEN_RESPONSE_INVALID',
        `The token endpoint of AuthProvider "${ctx.providerName}" issued a token of type "${json.token_type}", which Callout cannot use: it sends Bearer tokens only (RFC 6750). Configure the authorization server to issue Bearer tokens to this client.`,
        {
          details: { provider: ctx.providerName, field: 'token_type', tokenType: json.token_type },
        },
      )
    }
  } else if (ctx.providerType !== 'salesforce') {
    throw invalid('token_type', 'without a token_type')
  }

  let refreshToken: Secret | undefined
  if (json.refresh_token !== undefined && json.refresh_token !== null) {
    if (typeof json.refresh_token !== 'string' || !PRINTABLE_TOKEN.test(json.refresh_token)) {
      throw invalid('refresh_token', 'with a malformed refresh_token')
    }
    refreshToken = new Secret(json.refresh_token)
  }

  const now = ctx.clock.now()
  let issuedAt = now
  let issuedAtRaw: string | undefined
  if (json.issued_at !== undefined) {
    const v = json.issued_at
    issuedAtRaw =
      typeof v === 'number' && Number.isSafeInteger(v)
        ? String(v)
        : typeof v === 'string'
          ? v
          : undefined
    if (issuedAtRaw === undefined || !/^\d{1,16}$/.test(issuedAtRaw)) {
      throw invalid('issued_at', 'with an issued_at that is not epoch milliseconds')
    }
    issuedAt = Number(issuedAtRaw)
  }

  let expiresAt: number | undefined
  if (json.expires_in !== undefined && json.expires_in !== null) {
    const e = json.expires_in
    if (typeof e !== 'number' || !Number.isFinite(e) || e < 0 || e > MAX_EXPIRES_IN_SECONDS) {
      throw invalid('expires_in', 'with an expires_in that is not a non-negative number of seconds')
    }
    // expires_in counts from when the response was produced; our clock is the safer base.
    expiresAt = now + Math.floor(e * 1000)
  }

  let scope: string | undefined
  if (json.scope !== undefined && json.scope !== null) {
    if (typeof json.scope !== 'string') throw invalid('scope', 'with a scope that is not a string')
    scope = json.scope
  }

  let idToken: Secret | undefined
  if (json.id_token !== undefined && json.id_token !== null) {
    if (typeof json.id_token !== 'string' || !PRINTABLE_TOKEN.test(json.id_token)) {
      throw invalid('id_token', 'with a malformed id_token')
    }
    idToken = new Secret(json.id_token)
  }

  let instanceUrl: string | undefined
  if (json.instance_url !== undefined && json.instance_url !== null) {
    const url = typeof json.instance_url === 'string' ? safeUrl(json.instance_url) : undefined
    if (
      url === undefined ||
      !isAcceptableServerUrl(url, ctx.allowInsecureHttp) ||
      url.search !== '' ||
      url.hash !== ''
    ) {
      throw invalid(
        'instance_url',
        'with an instance_url that is not an absolute https URL without credentials or query',
      )
    }
    instanceUrl = `${url.origin}${url.pathname}`.replace(/\/+$/, '')
  }

  // Salesforce's deltas: the identity URL `id`, and the `signature` over it.
  const identity =
    ctx.providerType === 'salesforce'
      ? salesforceTokenIdentity(json, {
          issuedAtRaw,
          parseUrl: safeUrl,
          acceptsUrl: (url) => isAcceptableServerUrl(url, ctx.allowInsecureHttp),
          invalid,
          ...(ctx.consumerSecret === undefined ? {} : { consumerSecret: ctx.consumerSecret }),
        })
      : undefined

  return {
    accessToken: new Secret(accessToken),
    tokenType,
    issuedAt,
    ...(refreshToken === undefined ? {} : { refreshToken }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(scope === undefined ? {} : { scope }),
    ...(instanceUrl === undefined ? {} : { instanceUrl }),
    ...(identity === undefined ? {} : { identity }),
    ...(idToken === undefined ? {} : { idToken }),
  }
}

function safeUrl(value: string): URL | undefined {
  if (value.length > 2048 || /[\x00-\x20\x7f\\]/.test(value)) return undefined
  try {
    return new URL(value)
  } catch {
    return undefined
  }
}
