import type { ExternalCredential, FormulaHeader, Principal } from '../../definitions/model.ts'
import { CalloutError } from '../../errors.ts'
import type { Secret } from '../../secrets/secret.ts'
import type { ActiveCredential } from '../../tokens/types.ts'
import type { CredentialTarget, OutboundRequest } from '../types.ts'

/** What a header formula or merge field may read. */
export interface FormulaScope {
  readonly externalCredential: ExternalCredential
  readonly principal: Principal
  readonly userId: string
  /** The OAuth credential, when the protocol has one. */
  readonly credential?: ActiveCredential
}

/**
 * The protocol helpers the authenticate step needs, implemented over `src/auth`
 * (`createAuthenticators`). Each throws a `CalloutError` (`FORMULA_INVALID`, `CONFIG_INVALID`…).
 *
 * @example
 * const helpers: Authenticators = createAuthenticators({ clock })
 */
export interface Authenticators {
  /** The `Authorization` value for HTTP Basic (RFC 7617). */
  basic(username: string, password: Secret): string
  /** Evaluates a formula (`$Credential.Api.key`, literals, `&`, functions) to a header value. */
  formula(formula: string, scope: FormulaScope): string
  /** Replaces each `{!…}` merge field in `text` (a caller header value or body). */
  merge(text: string, scope: FormulaScope): string
  /** A self-signed JWT for the `jwt` protocol, minted per call. */
  callJwt(scope: FormulaScope): Promise<Secret>
  /** AWS SigV4: the headers to add (`authorization`, `x-amz-date`, …) for this request. */
  sigv4(request: OutboundRequest, scope: FormulaScope): Promise<Record<string, string>>
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const INJECTION = /[\r\n\0]/
const MERGE_FIELD = '{!'

function injection(header: string, where: string): CalloutError {
  return new CalloutError(
    'HEADER_INJECTION',
    `The evaluated value of header ${header} (${where}) contains CR, LF or NUL; fix the formula or the parameter it reads.`,
    { details: { header } },
  )
}

/** Throws `HEADER_INJECTION` for a value containing CR, LF or NUL; never echoes the value. */
export function assertSafeHeaderValue(name: string, value: string, where: string): string {
  if (INJECTION.test(value)) throw injection(name, where)
  return value
}

/**
 * Pipeline step: builds the authenticated request. In order: merge fields in the caller's
 * headers and body (only when the Named Credential allows them), the `Authorization` header for
 * the protocol (unless `generateAuthorizationHeader` is false), the ExternalCredential's formula
 * headers, the Named Credential's custom headers, and last the SigV4 signature over all of it.
 * The caller's own `Authorization` was dropped before this step.
 *
 * @example
 * const authed = await authenticate(target, request, credential, helpers)
 * authed.headers.authorization // 'Bearer …'
 */
export async function authenticate(
  target: CredentialTarget,
  request: OutboundRequest,
  credential: ActiveCredential | undefined,
  helpers: Authenticators,
): Promise<OutboundRequest> {
  const now = authenticateNow(target, request, credential, helpers)
  if (now !== undefined) return now
  // jwt (a JWT minted per call) or aws-sigv4 (a signature over the finished request).
  const nc = target.namedCredential
  const ec = target.externalCredential
  const scope = scopeOf(target, credential)
  const { headers, body } = mergeFields(nc, request, helpers, scope)
  if (nc.generateAuthorizationHeader) {
    const authorization = await authorizationFor(target, credential, helpers, scope)
    if (authorization !== undefined)
      headers.authorization = assertSafeHeaderValue('Authorization', authorization, 'protocol')
  }
  addFormulaHeaders(headers, target, helpers, scope)
  let authed: OutboundRequest = { ...request, headers, body }
  if (ec.protocol === 'aws-sigv4' && nc.generateAuthorizationHeader) {
    const signed = await helpers.sigv4(authed, scope)
    for (const [name, value] of Object.entries(signed)) {
      headers[name.toLowerCase()] = assertSafeHeaderValue(name, value, 'SigV4')
    }
    authed = { ...authed, headers }
  }
  return authed
}

/**
 * {@link authenticate} for the hot path, without a promise: the same request, built at once, for
 * every protocol whose credentials are at hand (oauth2 with its token, basic, none, custom).
 * Returns `undefined` for `jwt` and `aws-sigv4` with `generateAuthorizationHeader` (a JWT is
 * minted, or the request signed, asynchronously): call `authenticate` then.
 *
 * @example
 * const authed = authenticateNow(target, request, credential, helpers) ?? (await authenticate(target, request, credential, helpers))
 */
export function authenticateNow(
  target: CredentialTarget,
  request: OutboundRequest,
  credential: ActiveCredential | undefined,
  helpers: Authenticators,
): OutboundRequest | undefined {
  const nc = target.namedCredential
  const protocol = target.externalCredential.protocol
  if (nc.generateAuthorizationHeader && (protocol === 'jwt' || protocol === 'aws-sigv4'))
    return undefined
  const scope = scopeOf(target, credential)
  const { headers, body } = mergeFields(nc, request, helpers, scope)
  if (nc.generateAuthorizationHeader) {
    const authorization = authorizationNow(target, credential, helpers)
    if (authorization !== undefined)
      headers.authorization = assertSafeHeaderValue('Authorization', authorization, 'protocol')
  }
  addFormulaHeaders(headers, target, helpers, scope)
  return { ...request, headers, body }
}

function scopeOf(target: CredentialTarget, credential: ActiveCredential | undefined): FormulaScope {
  return {
    externalCredential: target.externalCredential,
    principal: target.principal,
    userId: target.userId,
    ...(credential === undefined ? {} : { credential }),
  }
}

/** A copy of the caller's headers (and the body) with merge fields replaced where allowed. */
function mergeFields(
  nc: CredentialTarget['namedCredential'],
  request: OutboundRequest,
  helpers: Authenticators,
  scope: FormulaScope,
): { headers: Record<string, string>; body: OutboundRequest['body'] } {
  const headers = { ...request.headers }
  let body = request.body
  if (nc.allowMergeFieldsInHeader) {
    for (const [name, value] of Object.entries(headers)) {
      if (value.includes(MERGE_FIELD)) {
        headers[name] = assertSafeHeaderValue(name, helpers.merge(value, scope), 'merge field')
      }
    }
  }
  if (nc.allowMergeFieldsInBody && typeof body === 'string' && body.includes(MERGE_FIELD)) {
    body = helpers.merge(body, scope)
  }
  return { headers, body }
}

function addFormulaHeaders(
  headers: Record<string, string>,
  target: CredentialTarget,
  helpers: Authenticators,
  scope: FormulaScope,
): void {
  const ec = target.externalCredential
  const nc = target.namedCredential
  if (ec.authHeaders.length > 0)
    applyFormulaHeaders(headers, ec.authHeaders, helpers, scope, 'ExternalCredential')
  if (nc.headers.length > 0)
    applyFormulaHeaders(headers, nc.headers, helpers, scope, 'NamedCredential')
}

async function authorizationFor(
  target: CredentialTarget,
  credential: ActiveCredential | undefined,
  helpers: Authenticators,
  scope: FormulaScope,
): Promise<string | undefined> {
  if (target.externalCredential.protocol === 'jwt')
    return `Bearer ${(await helpers.callJwt(scope)).reveal()}`
  return authorizationNow(target, credential, helpers)
}

/** The `Authorization` value for every protocol but `jwt` (minted asynchronously). */
function authorizationNow(
  target: CredentialTarget,
  credential: ActiveCredential | undefined,
  helpers: Authenticators,
): string | undefined {
  const ec = target.externalCredential
  switch (ec.protocol) {
    case 'oauth2':
      if (credential === undefined)
        throw new CalloutError('INTERNAL', 'oauth2 callout without a token')
      return `Bearer ${credential.accessToken.reveal()}`
    case 'basic': {
      const username = target.principal.parameters.username
      const password = target.principal.secrets.password
      if (username === undefined || password === undefined) {
        throw new CalloutError(
          'CONFIG_INVALID',
          `Principal ${target.principal.name} of ExternalCredential ${ec.name} needs a "username" parameter and a "password" secret for basic authentication.`,
          { details: { externalCredential: ec.name, principal: target.principal.name } },
        )
      }
      return helpers.basic(username, password)
    }
    case 'jwt':
      throw new CalloutError('INTERNAL', 'unreachable: the jwt protocol is authenticated async')
    case 'none':
    case 'custom':
    case 'aws-sigv4':
      return undefined
  }
}

function applyFormulaHeaders(
  headers: Record<string, string>,
  formulaHeaders: readonly FormulaHeader[],
  helpers: Authenticators,
  scope: FormulaScope,
  where: string,
): void {
  for (const header of bySequence(formulaHeaders)) {
    if (!TOKEN.test(header.name)) {
      throw new CalloutError(
        'CONFIG_INVALID',
        `Header name "${header.name.slice(0, 40)}" (${where}) is not a valid token.`,
      )
    }
    const value = helpers.formula(header.formula, scope)
    headers[header.name.toLowerCase()] = assertSafeHeaderValue(
      header.name,
      value,
      `${where} header`,
    )
  }
}

const sortedHeaders = new WeakMap<readonly FormulaHeader[], readonly FormulaHeader[]>()

/** The headers in `sequence` order, sorted once per definitions snapshot (they are immutable). */
function bySequence(formulaHeaders: readonly FormulaHeader[]): readonly FormulaHeader[] {
  let sorted = sortedHeaders.get(formulaHeaders)
  if (sorted === undefined) {
    sorted = [...formulaHeaders].sort((a, b) => a.sequence - b.sequence)
    sortedHeaders.set(formulaHeaders, sorted)
  }
  return sorted
}
