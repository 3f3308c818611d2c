import { safeEqual } from '../auth/authorization-code.ts'
import type { Clock } from '../clock.ts'
import type { CredentialKey, Definitions, PrincipalCredential } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import type { AuditRecord } from '../store/admin.ts'
import type { PendingAuthorization, Store } from '../store/types.ts'
import type { TokenManager } from '../tokens/token-manager.ts'
import { findNamedCredential } from './callout-url.ts'
import { grantContextFor, resolveTarget } from './steps/resolve-target.ts'
import type { CredentialTarget } from './types.ts'

/** How long a pending browser authorization (state + PKCE verifier) stays valid: 10 minutes. */
export const PENDING_AUTHORIZATION_TTL_MS = 10 * 60 * 1000

/** Options for {@link startAuthorization}. */
export interface AuthorizeUrlOptions {
  /** Exactly a redirect URI registered with the client (Salesforce: the Connected App callback URL). */
  readonly redirectUri: string
  /**
   * The end user, for per-user principals: the user of the session that starts the flow. The
   * flow is bound to this user; completing it needs the same user.
   */
  readonly user?: string
  /** e.g. `login consent` to force a fresh login when re-authenticating. */
  readonly prompt?: string
  readonly loginHint?: string
  /**
   * An audit entry (the console passes one), written in the same transaction as the pending
   * authorization: the flow starts with its entry or not at all.
   */
  readonly audit?: AuditRecord
}

/** Options for {@link completeAuthorization}. */
export interface CompleteAuthorizationOptions {
  /**
   * The end user of the session that received the callback. Required for per-user principals,
   * and it must be the user the flow was started for: otherwise the callback is refused with
   * `AUTHORIZATION_USER_MISMATCH` and nothing is stored (someone sent their authorize URL to
   * another user).
   */
  readonly user?: string
  /**
   * The `state` that this caller's session started the flow with (RFC 6749 §10.12): keep it in
   * the session when calling `authorizeUrl` and pass it here; a callback with another state is
   * refused with `AUTHORIZATION_FAILED` before anything else happens.
   */
  readonly state?: string
  /**
   * An audit entry (the console passes one), made from the Named Credential and the stored
   * credential and written in the same transaction as the tokens: they are stored together or not
   * at all. When that write fails, the tokens are not kept (authenticate again).
   */
  readonly audit?: (stored: {
    readonly namedCredential: string
    readonly credential: PrincipalCredential
  }) => AuditRecord
}

/** The token manager's audit entry of a completed flow, from the caller's. */
function completed(
  audit: NonNullable<CompleteAuthorizationOptions['audit']>,
  target: CredentialTarget,
): (credential: PrincipalCredential) => AuditRecord {
  return (credential) => audit({ namedCredential: target.namedCredential.name, credential })
}

/** What the browser flow needs from the broker. */
export interface AuthorizationDeps {
  readonly store: Store
  readonly clock: Clock
  /** Talks to the authorization server and writes the credential (DESIGN §5). */
  readonly tokens: TokenManager
}

/**
 * The target of a browser flow: the Named Credential must use oauth2 with the browser flow.
 *
 * @example
 * const target = browserTarget(defs, 'Crm', { user: 'alice' })
 */
export function browserTarget(
  defs: Definitions,
  name: string,
  selection: { readonly user?: string; readonly principal?: string },
): CredentialTarget {
  const nc = findNamedCredential(defs, name)
  const target = resolveTarget(defs, `callout:${nc.name}`, selection)
  if (target.kind !== 'credential') throw new CalloutError('INTERNAL', 'unreachable: plain target')
  const ec = target.externalCredential
  if (ec.protocol !== 'oauth2' || ec.flow !== 'browser' || target.provider === undefined) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `Named Credential ${nc.name} does not use the browser flow (ExternalCredential ${ec.name} is ${ec.protocol}${ec.flow === undefined ? '' : `/${ec.flow}`}); it needs no interactive authentication.`,
      { details: { namedCredential: nc.name } },
    )
  }
  return target
}

/**
 * Starts the browser flow (authorization code + PKCE, RFC 6749 §4.1, RFC 7636): the token
 * manager builds the request (state, verifier, nonce); they are stored as a single-use pending
 * authorization (10 minutes) bound to the principal and, for per-user principals, the user.
 * Returns the URL to open and the state (keep it in the caller's session, RFC 6749 §10.12).
 *
 * @example
 * const { url, state } = await startAuthorization(defs, 'Salesforce', { redirectUri }, deps)
 * @see https://www.rfc-editor.org/rfc/rfc7636
 */
export async function startAuthorization(
  defs: Definitions,
  name: string,
  options: AuthorizeUrlOptions,
  deps: AuthorizationDeps,
): Promise<{ readonly url: string; readonly state: string }> {
  const target = browserTarget(defs, name, options.user === undefined ? {} : { user: options.user })
  const request = await deps.tokens.authorizationRequest(grantContextFor(target), {
    redirectUri: options.redirectUri,
    ...(options.prompt === undefined ? {} : { prompt: options.prompt }),
    ...(options.loginHint === undefined ? {} : { loginHint: options.loginHint }),
  })
  await deps.store.putPendingAuthorization(
    {
      state: request.state,
      namedCredential: target.namedCredential.name,
      externalCredential: target.externalCredential.name,
      principal: target.principal.name,
      userId: target.userId,
      redirectUri: options.redirectUri,
      expiresAt: deps.clock.now() + PENDING_AUTHORIZATION_TTL_MS,
      ...(request.codeVerifier === undefined ? {} : { codeVerifier: request.codeVerifier }),
      ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
    },
    options.audit === undefined ? {} : { audit: options.audit },
  )
  return { url: request.url.href, state: request.state }
}

/** The callback as the browser delivered it: the full URL, its query, or the parameters. */
export type AuthorizationCallback =
  string | URL | URLSearchParams | Readonly<Record<string, string>>

function callbackParams(callback: AuthorizationCallback): URLSearchParams {
  if (callback instanceof URLSearchParams) return callback
  if (callback instanceof URL) return callback.searchParams
  if (typeof callback === 'string') {
    const q = callback.indexOf('?')
    return new URLSearchParams(q === -1 ? callback : callback.slice(q + 1))
  }
  return new URLSearchParams(callback as Record<string, string>)
}

/**
 * Refuses a pending authorization that does not belong to the caller: a per-user flow completes
 * only for the user who started it (the callback may have reached another user's browser).
 */
function assertInitiator(pending: PendingAuthorization, options: CompleteAuthorizationOptions) {
  if (pending.userId === '') return
  if (options.user === undefined || options.user === '') {
    throw new CalloutError(
      'USER_REQUIRED',
      `The callback completes a per-user authentication of Named Credential ${pending.namedCredential}: pass the user of the session that received it (completeAuthorization(callback, { user })). Nothing was stored; start the authentication again.`,
      { details: { namedCredential: pending.namedCredential } },
    )
  }
  if (!safeEqual(options.user, pending.userId)) {
    throw new CalloutError(
      'AUTHORIZATION_USER_MISMATCH',
      `The callback completes an authentication that another user started for Named Credential ${pending.namedCredential}; it was refused and nothing was stored. Each user must start their own authentication (a link someone else sent cannot connect your account).`,
      { details: { namedCredential: pending.namedCredential, user: options.user } },
    )
  }
}

/**
 * Completes the browser flow: takes the pending authorization by `state` (single use, unexpired),
 * checks that it belongs to the caller (`options.user` for per-user principals, `options.state`
 * for the caller's session), then the token manager validates the callback, exchanges the code
 * (with the PKCE verifier), reads the identity and stores the credential as `authenticated`.
 *
 * @throws CalloutError `AUTHORIZATION_TIMEOUT` for a callback whose flow timed out (it stays
 *   shown as `timed-out`); `AUTHORIZATION_FAILED` for an unknown/reused state, a state other
 *   than the session's, or an error callback; `USER_REQUIRED` or `AUTHORIZATION_USER_MISMATCH`
 *   when a per-user flow is completed without its user or by another user (nothing is stored);
 *   the grant's errors for a failed exchange.
 * @example
 * const { key } = await completeAuthorization(defs, req.url, { user: session.user }, deps)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-10.12
 */
export async function completeAuthorization(
  defs: Definitions,
  callback: AuthorizationCallback,
  options: CompleteAuthorizationOptions,
  deps: AuthorizationDeps,
): Promise<{
  readonly key: CredentialKey
  readonly namedCredential: string
  readonly credential: PrincipalCredential
}> {
  const params = callbackParams(callback)
  const state = params.get('state')
  if (state === null || state === '') {
    throw new CalloutError(
      'AUTHORIZATION_FAILED',
      'The authorization callback has no state; start the authentication again.',
    )
  }
  if (options.state !== undefined && !safeEqual(state, options.state)) {
    throw new CalloutError(
      'AUTHORIZATION_FAILED',
      "The authorization callback's state is not the one this session started (possible CSRF, or the flow was started in another browser); nothing was stored. Start the authentication again.",
      { details: { reason: 'session_state_mismatch' } },
    )
  }
  const now = deps.clock.now()
  const pending = await deps.store.takePendingAuthorization(state, now)
  if (pending === undefined) {
    const [late] = await deps.store.listPendingFlows({ state })
    if (late !== undefined && late.expiresAt <= now) {
      throw new CalloutError(
        'AUTHORIZATION_TIMEOUT',
        `The authorization callback for Named Credential ${late.namedCredential} arrived after its flow timed out (started ${new Date(late.createdAt).toISOString()}, 10 minutes allowed); it was refused and nothing was stored. Authenticate again and finish the login within 10 minutes. If the org allows only single sign-on, use the JWT bearer flow or the target org's My Domain login URL.`,
        { details: { namedCredential: late.namedCredential, reason: 'flow_timeout' } },
      )
    }
    throw new CalloutError(
      'AUTHORIZATION_FAILED',
      'The authorization callback does not match a pending authentication (unknown, already used, or older than 10 minutes); start the authentication again.',
    )
  }
  assertInitiator(pending, options)
  const target = browserTarget(defs, pending.namedCredential, {
    principal: pending.principal,
    ...(pending.userId === '' ? {} : { user: pending.userId }),
  })
  const credential = await deps.tokens.completeAuthorization(
    grantContextFor(target),
    {
      callback: params,
      state: pending.state,
      redirectUri: pending.redirectUri,
      ...(pending.codeVerifier === undefined ? {} : { codeVerifier: pending.codeVerifier }),
      ...(pending.nonce === undefined ? {} : { nonce: pending.nonce }),
    },
    options.audit === undefined ? {} : { audit: completed(options.audit, target) },
  )
  const key: CredentialKey = {
    externalCredential: credential.externalCredential,
    principal: credential.principal,
    userId: credential.userId,
  }
  return { key, namedCredential: target.namedCredential.name, credential }
}
