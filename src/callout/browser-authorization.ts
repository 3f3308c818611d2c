import type { AuthDeps } from '../auth/deps.ts'
import {
  buildAuthorizationUrl,
  createAuthorizationRequest,
  validateCallback,
} from '../auth/authorization-code.ts'
import { resolveEndpoints, type EndpointCache } from '../auth/endpoints.ts'
import { fetchIdentity } from '../auth/identity.ts'
import { authorizationCodeGrant } from '../auth/oauth2-grants.ts'
import type { Clock } from '../clock.ts'
import type { CredentialKey, Definitions, PrincipalCredential } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import type { Store } from '../store/types.ts'
import { findNamedCredential } from './callout-url.ts'
import { resolveTarget } from './steps/resolve-target.ts'
import type { CredentialTarget } from './types.ts'

/** How long a pending browser authorization (state + PKCE verifier) stays valid: 10 minutes. */
export const PENDING_AUTHORIZATION_TTL_MS = 10 * 60 * 1000

/** Options for {@link startAuthorization}. */
export interface AuthorizeUrlOptions {
  /** Exactly a redirect URI registered with the client (Salesforce: the Connected App callback URL). */
  readonly redirectUri: string
  /** The end user, for per-user principals. */
  readonly user?: string
  /** e.g. `login consent` to force a fresh login when re-authenticating. */
  readonly prompt?: string
  readonly loginHint?: string
}

/** What the browser flow needs from the broker. */
export interface AuthorizationDeps {
  readonly store: Store
  readonly clock: Clock
  readonly auth: AuthDeps & { readonly endpointCache?: EndpointCache }
}

function browserTarget(
  defs: Definitions,
  name: string,
  user: string | undefined,
): CredentialTarget {
  const nc = findNamedCredential(defs, name)
  const target = resolveTarget(defs, `callout:${nc.name}`, user === undefined ? {} : { user })
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
 * Starts the browser flow (authorization code + PKCE, RFC 6749 §4.1, RFC 7636): creates state,
 * verifier and nonce, stores them as a single-use pending authorization (10 minutes), and returns
 * the URL to open.
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
  const target = browserTarget(defs, name, options.user)
  const provider = target.provider!
  const { endpointCache, ...authDeps } = deps.auth
  const endpoints = await resolveEndpoints(provider, {
    ...authDeps,
    ...(endpointCache === undefined ? {} : { cache: endpointCache }),
  })
  const scope = target.externalCredential.scope ?? provider.defaultScopes ?? ''
  const oidc = provider.type === 'oidc' || /(?:^|\s)openid(?:\s|$)/.test(scope)
  const secrets = await createAuthorizationRequest({ oidc })
  const url = buildAuthorizationUrl({
    provider,
    endpoints,
    externalCredential: target.externalCredential,
    redirectUri: options.redirectUri,
    state: secrets.state,
    ...(provider.usePkce ? { codeChallenge: secrets.codeChallenge } : {}),
    ...(secrets.nonce === undefined ? {} : { nonce: secrets.nonce }),
    ...(options.prompt === undefined ? {} : { prompt: options.prompt }),
    ...(options.loginHint === undefined ? {} : { loginHint: options.loginHint }),
  })
  await deps.store.putPendingAuthorization({
    state: secrets.state,
    namedCredential: target.namedCredential.name,
    externalCredential: target.externalCredential.name,
    principal: target.principal.name,
    userId: target.userId,
    redirectUri: options.redirectUri,
    expiresAt: deps.clock.now() + PENDING_AUTHORIZATION_TTL_MS,
    ...(provider.usePkce ? { codeVerifier: new Secret(secrets.codeVerifier) } : {}),
    ...(secrets.nonce === undefined ? {} : { nonce: secrets.nonce }),
  })
  return { url: url.href, state: secrets.state }
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
 * Completes the browser flow: takes the pending authorization by `state` (single use, unexpired),
 * validates the callback, exchanges the code (with the PKCE verifier), fetches the identity, and
 * stores the credential as `authenticated`. Returns the stored credential's key and whether a
 * refresh token was issued.
 *
 * @throws CalloutError `AUTHORIZATION_FAILED` for an unknown/expired/reused state or an error
 *   callback; the grant's errors for a failed exchange.
 * @example
 * const { key } = await completeAuthorization(defs, req.url, deps)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
 */
export async function completeAuthorization(
  defs: Definitions,
  callback: AuthorizationCallback,
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
      'The authorization callback has no state; start the authentication again (callout auth <Name>).',
    )
  }
  const pending = await deps.store.takePendingAuthorization(state, deps.clock.now())
  if (pending === undefined) {
    throw new CalloutError(
      'AUTHORIZATION_FAILED',
      'The authorization callback does not match a pending authentication (unknown, already used, or older than 10 minutes); start the authentication again.',
    )
  }
  const target = browserTarget(
    defs,
    pending.namedCredential,
    pending.userId === '' ? undefined : pending.userId,
  )
  const provider = target.provider!
  const { endpointCache, ...authDeps } = deps.auth
  const endpoints = await resolveEndpoints(provider, {
    ...authDeps,
    ...(endpointCache === undefined ? {} : { cache: endpointCache }),
  })
  const code = validateCallback(params, pending.state, {
    redirectUri: pending.redirectUri,
    ...(endpoints.issuer === undefined || provider.type !== 'oidc'
      ? {}
      : { expectedIssuer: endpoints.issuer }),
  })
  const tokenSet = await authorizationCodeGrant(
    provider,
    endpoints,
    target.externalCredential,
    target.principal,
    {
      code,
      redirectUri: pending.redirectUri,
      ...(pending.codeVerifier === undefined
        ? {}
        : { codeVerifier: pending.codeVerifier.reveal() }),
      ...(pending.nonce === undefined ? {} : { nonce: pending.nonce }),
    },
    authDeps,
  )
  const identity = await fetchIdentity(provider, endpoints, tokenSet, authDeps)
  const key: CredentialKey = {
    externalCredential: target.externalCredential.name,
    principal: target.principal.name,
    userId: target.userId,
  }
  const now = deps.clock.now()
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await deps.store.getCredential(key)
    const stored = await deps.store.compareAndSetCredential(
      {
        ...key,
        status: 'authenticated',
        accessToken: tokenSet.accessToken,
        tokenType: tokenSet.tokenType,
        issuedAt: tokenSet.issuedAt,
        lastRefreshAt: now,
        identity,
        ...(tokenSet.refreshToken === undefined ? {} : { refreshToken: tokenSet.refreshToken }),
        ...(tokenSet.expiresAt === undefined ? {} : { expiresAt: tokenSet.expiresAt }),
        ...(tokenSet.scope === undefined ? {} : { scope: tokenSet.scope }),
        ...(tokenSet.instanceUrl === undefined ? {} : { instanceUrl: tokenSet.instanceUrl }),
      },
      current?.version ?? 0,
    )
    if (stored !== undefined)
      return { key, namedCredential: target.namedCredential.name, credential: stored }
  }
  throw new CalloutError(
    'STORE_CONFLICT',
    'The credential kept changing while it was stored; authenticate again.',
  )
}
