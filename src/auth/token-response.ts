/**
 * Processing of token endpoint responses (RFC 6749 §5.1, §5.2) into a {@link TokenSet}. The body
 * is read once, with the auth layer's one size cap (`capped-body.ts`), and parsed once, by
 * oauth4webapi (`processAuthorizationCodeResponse`, `processRefreshTokenResponse`,
 * `processClientCredentialsResponse`, `processGenericTokenEndpointResponse`), which also checks an
 * OIDC `id_token` (iss, aud, exp, nonce). Around it:
 *
 * - before: status and content type (no 5xx, no HTML login page reaches the parser);
 * - a pre-step on the parsed object, before oauth4webapi validates it: `null` fields that mean
 *   "absent", the raw `token_type` and `expires_in` kept for the checks and messages below, and
 *   Salesforce's pre-step (`providers/salesforce-token.ts`);
 * - after: Callout's stricter checks (printable tokens, Bearer only, a numeric `expires_in` of at
 *   most ten years, `issued_at` in ms, `instance_url`) and Salesforce's `id` and `signature`;
 * - every failure mapped to one stable code (`token-errors.ts`).
 *
 * | response | code |
 * |---|---|
 * | 5xx, 3xx, non-JSON (HTML), invalid JSON, body over 1 MiB | `TOKEN_ENDPOINT_ERROR` |
 * | 200 without a usable `access_token`, bad `expires_in`, bad `instance_url`, bad `signature`, a `token_type` other than Bearer, an `id_token` that fails validation | `TOKEN_RESPONSE_INVALID` |
 * | `invalid_grant` on a refresh or code exchange | `NEEDS_REAUTH` |
 * | `invalid_grant` on client credentials, JWT bearer, password | `OAUTH_ERROR` (it is a configuration problem, not a lost login) |
 * | `invalid_client`, `invalid_client_id` | `OAUTH_CLIENT_INVALID` |
 * | any other OAuth `error` | `OAUTH_ERROR` |
 */
import * as oauth from 'oauth4webapi'
import type { Clock } from '../clock.ts'
import { CalloutError } from '../errors.ts'
import { salesforceTokenIdentity, salesforceTokenPreStep } from '../providers/salesforce-token.ts'
import { Secret } from '../secrets/secret.ts'
import { readCappedText } from './capped-body.ts'
import { MAX_AUTH_RESPONSE_BYTES } from './deps.ts'
import { sanitizeExcerpt } from './excerpt.ts'
import {
  FIELD_PROBLEM,
  fieldInvalid,
  isJsonObject,
  oauthErrorFor,
  responseDetails,
  tokenProcessingFailure,
  tokenTypeRefusal,
  type SeenFields,
  type TokenErrorContext,
} from './token-errors.ts'
import type { TokenSet } from './types.ts'
import { isAcceptableServerUrl } from './url-safety.ts'

/** A token endpoint response as read from the wire: status, content type and body text. */
export interface RawTokenResponse {
  readonly status: number
  /** The `content-type` header, `''` when absent. */
  readonly contentType: string
  readonly body: string
}

/** What {@link parseTokenResponse} needs to know besides the response. */
export interface TokenResponseContext extends TokenErrorContext {
  readonly clock: Clock
  /** oauth4webapi's authorization server: its `issuer` is an OIDC `id_token`'s expected `iss`. */
  readonly authorizationServer: oauth.AuthorizationServer
  /** oauth4webapi's client: its `client_id` is an OIDC `id_token`'s expected `aud`. */
  readonly client: oauth.Client
  /** The OIDC `nonce` of the authorization request (authorization code grant only). */
  readonly expectedNonce?: string
  /** Salesforce: when known, the `signature` field is verified with it. */
  readonly consumerSecret?: Secret
  /** Accept an http:// `instance_url`/`id` on a non-loopback host (the provider's loud switch). */
  readonly allowInsecureHttp?: boolean
}

const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600
const PRINTABLE_TOKEN = /^[\x21-\x7e]+$/
/** Fields whose `null` means "not sent" (some servers write every field of their model). */
const NULL_MEANS_ABSENT = [
  'refresh_token',
  'expires_in',
  'scope',
  'id_token',
  'instance_url',
  'id',
  'signature',
] as const
/** Statuses a `Response` cannot carry a body with; oauth4webapi refuses them all anyway. */
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([204, 205, 304])

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
 * {@link CalloutError}. The body is parsed once, by oauth4webapi; no network, time only from
 * `ctx.clock` (and, for an `id_token`'s `exp`, oauth4webapi's own clock).
 *
 * @example
 * const tokens = await parseTokenResponse(await readTokenResponse(response), {
 *   providerType: 'salesforce', providerName: 'SF', externalCredential: 'SF',
 *   grant: 'refresh_token', clock, authorizationServer: ctx.as, client: ctx.client,
 * })
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export async function parseTokenResponse(
  raw: RawTokenResponse,
  ctx: TokenResponseContext,
): Promise<TokenSet> {
  refuseUnparsable(raw, ctx)
  const response = new PreStepResponse(raw, ctx)
  let json: oauth.TokenEndpointResponse
  try {
    json = await processWithOauth4webapi(response, ctx)
  } catch (error) {
    throw tokenProcessingFailure(error, raw, response.seen, ctx)
  }
  return tokenSetFromJson(json, response.seen ?? {}, ctx)
}

/**
 * The response oauth4webapi reads: the capped bytes with the status, and `application/json` as
 * the content type once {@link refuseUnparsable} has accepted the real one (oauth4webapi
 * compares the type exactly; `application/problem+json` or `Application/JSON` are JSON too). No
 * other header is copied: a `WWW-Authenticate` challenge next to an OAuth error body would make
 * oauth4webapi report the challenge and drop the body's `error`.
 *
 * oauth4webapi parses the body with `response.json()`; the pre-step runs on that parsed object
 * before oauth4webapi validates it, so the bytes are parsed once.
 */
class PreStepResponse extends Response {
  /** What the pre-step saw, once oauth4webapi has parsed a JSON object. */
  seen: SeenFields | undefined
  readonly #ctx: TokenResponseContext

  constructor(raw: RawTokenResponse, ctx: TokenResponseContext) {
    super(NULL_BODY_STATUSES.has(raw.status) ? null : raw.body, {
      status: raw.status,
      headers: { 'content-type': 'application/json' },
    })
    this.#ctx = ctx
  }

  override readonly json = async (): Promise<unknown> => {
    const value: unknown = await Response.prototype.json.call(this)
    if (isJsonObject(value)) this.seen = preStep(value, this.#ctx)
    return value
  }
}

/** Normalises the parsed body in place for oauth4webapi and returns what it saw. */
function preStep(json: Record<string, unknown>, ctx: TokenResponseContext): SeenFields {
  const seen: SeenFields = { tokenType: json.token_type, expiresIn: json.expires_in }
  for (const field of NULL_MEANS_ABSENT) {
    if (json[field] === null) delete json[field]
  }
  if (ctx.providerType !== 'salesforce') return seen
  const { idToken } = salesforceTokenPreStep(json)
  return idToken === undefined ? seen : { ...seen, idToken }
}

function processWithOauth4webapi(
  response: Response,
  ctx: TokenResponseContext,
): Promise<oauth.TokenEndpointResponse> {
  const as = ctx.authorizationServer
  switch (ctx.grant) {
    case 'authorization_code':
      return oauth.processAuthorizationCodeResponse(as, ctx.client, response, {
        // Salesforce's id_token is set aside by its pre-step, so its nonce is not checked here.
        ...(ctx.expectedNonce === undefined || ctx.providerType === 'salesforce'
          ? {}
          : { expectedNonce: ctx.expectedNonce }),
      })
    case 'refresh_token':
      return oauth.processRefreshTokenResponse(as, ctx.client, response)
    case 'client_credentials':
      return oauth.processClientCredentialsResponse(as, ctx.client, response)
    case 'jwt_bearer':
    case 'password':
      return oauth.processGenericTokenEndpointResponse(as, ctx.client, response)
  }
}

/**
 * Refuses what must not reach the JSON parser: a 5xx (whose `error`, if any, is named in the
 * details; oauth4webapi never reads a 5xx body) and a content type that is not JSON (a login
 * page or a proxy answered; its `<title>` is named, never the body).
 */
function refuseUnparsable(raw: RawTokenResponse, ctx: TokenResponseContext): void {
  const details = responseDetails(raw, ctx)
  if (raw.status >= 500) {
    const error = serverErrorCode(raw.body)
    if (error !== undefined) details.error = error
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
}

/** The OAuth `error` of a 5xx JSON body, sanitized, for the details of the failure. */
function serverErrorCode(body: string): string | undefined {
  try {
    const value: unknown = JSON.parse(body)
    if (isJsonObject(value) && typeof value.error === 'string') {
      return sanitizeExcerpt(value.error, 100)
    }
  } catch {
    // not JSON: the status says enough
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

/**
 * Callout's checks on a response oauth4webapi accepted (it has checked that `access_token` and
 * `token_type` are non-empty strings, `expires_in` a non-negative number, `refresh_token`,
 * `scope` and `id_token` strings, and validated the `id_token`), then the TokenSet.
 */
function tokenSetFromJson(
  json: oauth.TokenEndpointResponse,
  seen: SeenFields,
  ctx: TokenResponseContext,
): TokenSet {
  if (typeof json.error === 'string') throw oauthErrorFor(200, json, ctx)
  const invalid = (field: string, what: string): CalloutError => fieldInvalid(field, what, ctx)

  if (!PRINTABLE_TOKEN.test(json.access_token)) {
    throw invalid('access_token', 'with an access_token containing spaces or control characters')
  }
  // oauth4webapi accepts Bearer and DPoP tokens; Callout sends every token as a Bearer token
  // (RFC 6750) and makes no DPoP proof, so a DPoP-bound token is refused here.
  const refused = tokenTypeRefusal(seen, ctx)
  if (refused !== undefined) throw refused

  let refreshToken: Secret | undefined
  if (json.refresh_token !== undefined) {
    if (!PRINTABLE_TOKEN.test(json.refresh_token)) {
      throw invalid('refresh_token', FIELD_PROBLEM.refresh_token)
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
  if (json.expires_in !== undefined) {
    // oauth4webapi reads a string such as "3600" as a number; RFC 6749 §5.1 says a number.
    if (typeof seen.expiresIn === 'string' || json.expires_in > MAX_EXPIRES_IN_SECONDS) {
      throw invalid('expires_in', FIELD_PROBLEM.expires_in)
    }
    // expires_in counts from when the response was produced; our clock is the safer base.
    expiresAt = now + Math.floor(json.expires_in * 1000)
  }

  const idTokenValue = ctx.providerType === 'salesforce' ? seen.idToken : json.id_token
  let idToken: Secret | undefined
  if (idTokenValue !== undefined) {
    if (typeof idTokenValue !== 'string' || !PRINTABLE_TOKEN.test(idTokenValue)) {
      throw invalid('id_token', FIELD_PROBLEM.id_token)
    }
    idToken = new Secret(idTokenValue)
  }

  let instanceUrl: string | undefined
  if (json.instance_url !== undefined) {
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

  const identity =
    ctx.providerType === 'salesforce'
      ? // Salesforce's deltas: the identity URL `id`, and the `signature` over it.
        salesforceTokenIdentity(json, {
          issuedAtRaw,
          parseUrl: safeUrl,
          acceptsUrl: (url) => isAcceptableServerUrl(url, ctx.allowInsecureHttp),
          invalid,
          ...(ctx.consumerSecret === undefined ? {} : { consumerSecret: ctx.consumerSecret }),
        })
      : idTokenIdentity(json)

  return {
    accessToken: new Secret(json.access_token),
    tokenType: 'Bearer',
    issuedAt,
    ...(refreshToken === undefined ? {} : { refreshToken }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(json.scope === undefined ? {} : { scope: json.scope }),
    ...(instanceUrl === undefined ? {} : { instanceUrl }),
    ...(identity === undefined ? {} : { identity }),
    ...(idToken === undefined ? {} : { idToken }),
  }
}

/** Who the `id_token` oauth4webapi validated names: `sub`, and a username when it has one. */
function idTokenIdentity(
  json: oauth.TokenEndpointResponse,
): { userId: string; username?: string } | undefined {
  const claims = oauth.getValidatedIdTokenClaims(json)
  if (claims === undefined) return undefined
  const username =
    typeof claims.preferred_username === 'string'
      ? claims.preferred_username
      : typeof claims.email === 'string'
        ? claims.email
        : undefined
  return { userId: claims.sub, ...(username === undefined ? {} : { username }) }
}

function safeUrl(value: string): URL | undefined {
  if (value.length > 2048 || /[\x00-\x20\x7f\\]/.test(value)) return undefined
  try {
    return new URL(value)
  } catch {
    return undefined
  }
}
