/**
 * The failures of a token endpoint exchange, each mapped to one stable code: OAuth error bodies
 * (RFC 6749 §5.2) and what oauth4webapi refuses in a token response (it names the field in its
 * message, keeps the parsed body in its `cause`). Messages name the AuthProvider and say what to
 * check; they never carry a token or the body.
 */
import * as oauth from 'oauth4webapi'
import type { AuthProviderType } from '../definitions/model.ts'
import { CalloutError, isCalloutError } from '../errors.ts'
import { sanitizeExcerpt } from './excerpt.ts'
import { safeCause } from './safe-cause.ts'

/** The grant a token response answers; it decides how `invalid_grant` is reported. */
export type GrantKind =
  'authorization_code' | 'refresh_token' | 'client_credentials' | 'jwt_bearer' | 'password'

/** What the error mapping needs to know about the exchange. */
export interface TokenErrorContext {
  readonly providerType: AuthProviderType
  /** The AuthProvider's name, for messages. */
  readonly providerName: string
  /** The ExternalCredential's name, for messages about its stored grant. */
  readonly externalCredential: string
  readonly grant: GrantKind
}

/** Fields of a token response as the server sent them, before oauth4webapi normalised them. */
export interface SeenFields {
  /** `token_type` as sent: oauth4webapi lowercases it, Salesforce's pre-step fills it in. */
  readonly tokenType?: unknown
  /** `expires_in` as sent: oauth4webapi reads a string such as `"3600"` as a number. */
  readonly expiresIn?: unknown
  /** Salesforce: the `id_token` its pre-step set aside. */
  readonly idToken?: unknown
}

/** The status and response of a token endpoint exchange, for the details of a failure. */
export interface ResponseFacts {
  readonly status: number
  /** The `content-type` header, `''` when absent. */
  readonly contentType: string
}

/** What is wrong with a field of a 200 token response, as the messages say it. */
export const FIELD_PROBLEM = {
  access_token: 'without an access_token string',
  expires_in: 'with an expires_in that is not a non-negative number of seconds',
  refresh_token: 'with a malformed refresh_token',
  scope: 'with a scope that is not a string',
  id_token: 'with a malformed id_token',
} as const

const TOKEN_TYPE = /^[A-Za-z0-9_-]{1,40}$/
const INTERACTIVE_GRANTS: ReadonlySet<GrantKind> = new Set(['authorization_code', 'refresh_token'])
/** oauth4webapi's message for a field it refused: `"response" body "<field>" property …`. */
const OAUTH4WEBAPI_FIELD = /^"response" body "([a-z_]+)" property/

/** True for a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The details every failure of a response carries: provider, status and content type. */
export function responseDetails(
  raw: ResponseFacts,
  ctx: Pick<TokenErrorContext, 'providerName'>,
): Record<string, unknown> {
  return {
    provider: ctx.providerName,
    status: raw.status,
    contentType: sanitizeExcerpt(raw.contentType, 100),
  }
}

/** `TOKEN_RESPONSE_INVALID` for one field of a 200 response. */
export function fieldInvalid(
  field: string,
  what: string,
  ctx: Pick<TokenErrorContext, 'providerName'>,
): CalloutError {
  return new CalloutError(
    'TOKEN_RESPONSE_INVALID',
    `The token endpoint of AuthProvider "${ctx.providerName}" answered 200 but ${what}. Check that the token URL points at an OAuth 2.0 server.`,
    { details: { provider: ctx.providerName, field } },
  )
}

/**
 * Refuses a `token_type` other than Bearer (compared case-insensitively): missing (Salesforce's
 * pre-step fills it in), malformed, or a type Callout cannot send — DPoP needs a proof Callout does
 * not make, MAC or N_A would be sent wrong. Undefined for a Bearer token.
 */
export function tokenTypeRefusal(
  seen: SeenFields,
  ctx: Pick<TokenErrorContext, 'providerName' | 'providerType'>,
): CalloutError | undefined {
  const tokenType = seen.tokenType
  if (tokenType === undefined) {
    return ctx.providerType === 'salesforce'
      ? undefined
      : fieldInvalid('token_type', 'without a token_type', ctx)
  }
  if (typeof tokenType !== 'string' || !TOKEN_TYPE.test(tokenType)) {
    return fieldInvalid('token_type', 'with a malformed token_type', ctx)
  }
  if (tokenType.toLowerCase() === 'bearer') return undefined
  return new CalloutError(
    'TOKEN_RESPONSE_INVALID',
    `The token endpoint of AuthProvider "${ctx.providerName}" issued a token of type "${tokenType}", which Callout cannot use: it sends Bearer tokens only (RFC 6750). Configure the authorization server to issue Bearer tokens to this client.`,
    { details: { provider: ctx.providerName, field: 'token_type', tokenType } },
  )
}

/**
 * Maps what oauth4webapi threw while processing a token response (or anything else thrown on
 * the way) to a CalloutError:
 *
 * - an OAuth error body — a 4xx, or a 200 that carries `error` — goes to {@link oauthErrorFor};
 * - another status, or a 4xx without an `error`, is `TOKEN_ENDPOINT_ERROR`;
 * - a body that is not a JSON object is `TOKEN_ENDPOINT_ERROR`;
 * - a refused field or `token_type` is `TOKEN_RESPONSE_INVALID` naming the field;
 * - anything else (an `id_token` that fails validation) is `TOKEN_RESPONSE_INVALID` with a
 *   payload-free cause.
 */
export function tokenProcessingFailure(
  error: unknown,
  raw: ResponseFacts,
  seen: SeenFields | undefined,
  ctx: TokenErrorContext,
): CalloutError {
  if (isCalloutError(error)) return error
  if (error instanceof oauth.ResponseBodyError) return oauthErrorFor(error.status, error.cause, ctx)
  const processing = error instanceof oauth.OperationProcessingError ? error : undefined
  if (processing?.code === oauth.RESPONSE_IS_NOT_CONFORM) return oauthErrorFor(raw.status, {}, ctx)
  // oauth4webapi keeps the parsed body of a refused 200 response in `cause.body`.
  const cause: unknown = error instanceof Error ? error.cause : undefined
  const hasBody = isJsonObject(cause) && !(cause instanceof Response) && 'body' in cause
  const body = hasBody ? cause.body : undefined
  if (isJsonObject(body) && typeof body.error === 'string') {
    return oauthErrorFor(raw.status, body, ctx)
  }
  if (processing !== undefined) {
    // A parse error after the pre-step saw an object is about an id_token, not about the body.
    const bodyUnparsed = processing.code === oauth.PARSE_ERROR && seen === undefined
    if (bodyUnparsed || (hasBody && !isJsonObject(body))) {
      return new CalloutError(
        'TOKEN_ENDPOINT_ERROR',
        `The token endpoint of AuthProvider "${ctx.providerName}" answered HTTP ${raw.status} with a body that is not a JSON object. Check the token URL.`,
        { details: responseDetails(raw, ctx) },
      )
    }
    const field = OAUTH4WEBAPI_FIELD.exec(processing.message)?.[1]
    const refused = field === undefined ? undefined : refusedField(field, body, seen ?? {}, ctx)
    if (refused !== undefined) return refused
  }
  if (error instanceof oauth.UnsupportedOperationError && isJsonObject(body)) {
    const refused = tokenTypeRefusal(seen ?? {}, ctx)
    if (refused !== undefined) return refused
  }
  return new CalloutError(
    'TOKEN_RESPONSE_INVALID',
    `The token response of AuthProvider "${ctx.providerName}" failed validation (${sanitizeExcerpt(error instanceof Error ? error.message : String(error), 200)}). Check the issuer and client id configuration.`,
    { cause: safeCause(error), details: { provider: ctx.providerName, grant: ctx.grant } },
  )
}

function refusedField(
  field: string,
  body: unknown,
  seen: SeenFields,
  ctx: TokenErrorContext,
): CalloutError | undefined {
  switch (field) {
    case 'token_type':
      return tokenTypeRefusal(seen, ctx)
    case 'id_token':
      // Absent where a nonce was sent: a validation failure, not a malformed field.
      return isJsonObject(body) && body.id_token !== undefined
        ? fieldInvalid(field, FIELD_PROBLEM.id_token, ctx)
        : undefined
    case 'access_token':
    case 'expires_in':
    case 'refresh_token':
    case 'scope':
      return fieldInvalid(field, FIELD_PROBLEM[field], ctx)
    default:
      return undefined
  }
}

/**
 * Maps an OAuth error body (RFC 6749 §5.2) to a CalloutError; a body without an `error` string
 * is `TOKEN_ENDPOINT_ERROR`.
 */
export function oauthErrorFor(
  status: number,
  json: Readonly<Record<string, unknown>>,
  ctx: TokenErrorContext,
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
  ctx: TokenErrorContext,
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
