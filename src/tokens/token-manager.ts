import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { randomUUID } from 'node:crypto'
import type { TokenSet } from '../auth/types.ts'
import { systemClock, type Clock } from '../clock.ts'
import {
  credentialKeyString,
  type CredentialIdentity,
  type CredentialKey,
  type ExternalCredential,
  type PrincipalCredential,
} from '../definitions/model.ts'
import { CalloutError, isCalloutError } from '../errors.ts'
import type { Secret } from '../secrets/secret.ts'
import type { AuditRecord } from '../store/admin.ts'
import type { StoreEvent } from '../store/notifications.ts'
import { CredentialCache } from './cache.ts'
import { ChangeWaiters } from './change-waiters.ts'
import { Cooldown } from './cooldown.ts'
import { clearStoredErrors } from './definitions-changed.ts'
import { TypedEvents } from './events.ts'
import { effectiveExpiresAt, EXPIRY_DEFAULTS, refreshDueAt, sessionTimeoutFor } from './expiry.ts'
import { LEASE_DEFAULTS, withLease, type LeaseOptions } from './lease.ts'
import { SingleFlight } from './single-flight.ts'
import {
  silentLogger,
  type ActiveCredential,
  type AuthorizationCodeExchange,
  type AuthorizationRequest,
  type AuthorizationRequestOptions,
  type GrantContext,
  type Logger,
  type TokenEventName,
  type TokenEvents,
  type TokenGrants,
  type TokenStore,
} from './types.ts'

/** Options for {@link TokenManager}. */
export interface TokenManagerOptions {
  /** The credentials and leases (any `Store`). */
  readonly store: TokenStore
  readonly grants: TokenGrants
  readonly clock?: Clock
  readonly logger?: Logger
  /** This process's lease holder id. Default: `<hostname>:<pid>:<random>`. */
  readonly holderId?: string
  /** Refresh this long before a known expiry (or 10% of the lifetime, if shorter). Default 60 s. */
  readonly refreshMarginMs?: number
  /** How long to fail fast after a failed refresh. Default 30 s. */
  readonly cooldownMs?: number
  /**
   * How long to keep retrying the store write of a token set just obtained from the authorization
   * server, while holding (and renewing) the lease. After that the token set is kept in memory,
   * used, and persisted as soon as the store answers. Default: the lease TTL (15 s), so that a
   * database outage shorter than the TTL ends with this holder renewing its lease and storing the
   * token set before any other instance may take the lease (and replay a rotated-out refresh
   * token).
   */
  readonly commitRetryMs?: number
  /**
   * Limits on refreshes caused by an upstream rejecting a token (401), so that a path that always
   * answers 401 cannot drive the credential into the authorization server's rate limits. A
   * rejected token obtained by such a refresh less than `freshMs` ago is not refreshed again, and
   * at most `budget` such refreshes happen per credential in `windowMs`; the 401 is returned with
   * advice instead. Defaults: 10 s, 5, 5 minutes.
   */
  readonly rejectionRefresh?: Partial<RejectionRefreshOptions>
  readonly lease?: Partial<Omit<LeaseOptions, 'otherHolderDone' | 'nextChange' | 'logger'>>
  /**
   * How long a cached credential is used before it is read from the store again (a cheap read, no
   * token request unless it is due). Other instances' refreshes and re-authentications arrive at
   * once through the store's notifications; this bounds how long one missed notification can
   * last. Default 30 s.
   */
  readonly cacheTtlMs?: number
}

/**
 * The outcome of {@link TokenManager.revoke}. Never carries a token.
 *
 * - `provider`: `revoked` (the authorization server accepted the revocation), `already-invalid`
 *   (it no longer knew the token), `no-endpoint` (the AuthProvider has no revocation endpoint:
 *   removed locally only), `failed` (the request failed and `force` removed the tokens anyway),
 *   `nothing-stored` (no token was stored; nothing changed).
 */
export interface Revocation {
  readonly key: CredentialKey
  readonly provider: 'revoked' | 'already-invalid' | 'no-endpoint' | 'failed' | 'nothing-stored'
  /** Which token was sent to the revocation endpoint. */
  readonly tokenType?: 'refresh_token' | 'access_token'
  /** Whether the stored tokens were removed. */
  readonly removedLocally: boolean
  /** True when the `audit` entry given to `revoke` was stored with the removal. */
  readonly audited?: boolean
  /** What happened, in a sentence for people. */
  readonly message: string
  /** Why the revocation request failed, when `provider` is `failed`. */
  readonly failure?: { readonly code: string; readonly message: string }
}

/** Options of {@link TokenManager.revoke}. */
export interface RevokeTokensOptions {
  /** Remove the stored tokens even when the revocation request fails. */
  readonly force?: boolean
  /**
   * The audit entry of the removal, made from the outcome at the authorization server and
   * written in the same transaction as the removal of the tokens. Asked for only when tokens are
   * removed here (not when nothing was stored, nor when the revocation request failed without
   * `force`).
   */
  readonly audit?: (removal: Pick<Revocation, 'provider' | 'tokenType'>) => AuditRecord
}

/** See {@link TokenManagerOptions.rejectionRefresh}. */
export interface RejectionRefreshOptions {
  readonly freshMs: number
  readonly budget: number
  readonly windowMs: number
}

/** Defaults for {@link TokenManagerOptions}, in one frozen object. */
export const TOKEN_MANAGER_DEFAULTS = Object.freeze({
  cooldownMs: 30_000,
  cacheTtlMs: 30_000,
  /** Rounds of "another holder finished, re-check" before giving up. */
  maxLeaseRounds: 3,
  /** When no lease TTL is given either (the lease TTL is the default). */
  commitRetryMs: LEASE_DEFAULTS.ttlMs,
  rejectionRefresh: Object.freeze({ freshMs: 10_000, budget: 5, windowMs: 5 * 60_000 }),
  /** First pause between store write attempts; doubles up to `maxStoreRetryPauseMs`. */
  storeRetryPauseMs: 50,
  maxStoreRetryPauseMs: 1_000,
  /** Background persistence of a token set kept in memory: first pause, and the longest. */
  persistPauseMs: 250,
  maxPersistPauseMs: 5_000,
})

/** A token set the authorization server issued that the store has not accepted yet. */
interface UnsavedCredential {
  readonly key: CredentialKey
  readonly credential: Omit<PrincipalCredential, 'version'>
  /** The stored version it replaces. */
  readonly expectedVersion: number
}

/** Refresh leases are named `token:<credential key>`. */
const LEASE_PREFIX = 'token:'

const MINT_FLOWS = new Set(['client-credentials', 'jwt-bearer', 'password'])

/**
 * The only component that obtains tokens (DESIGN §5). Per credential key it keeps one refresh in
 * flight in the process (single-flight), takes a lease in the store across processes, re-reads
 * the stored credential after taking it (another process may have refreshed already), and commits
 * with compare-and-swap on `version`. Tokens are refreshed proactively before a known expiry and
 * lazily when an upstream rejects one ({@link TokenManager.invalidate}). Failed refreshes cool
 * down; `invalid_grant` marks the principal `needs-reauth` and emits `needs-reauth`.
 *
 * @example
 * const tokens = new TokenManager({ store, grants: createAuthGrants() })
 * tokens.on('needs-reauth', (e) => notify(e.namedCredential))
 * const { accessToken } = await tokens.getToken({ ec, principal, userId: '', provider })
 * // upstream answered 401:
 * const fresh = await tokens.invalidate({ ec, principal, userId: '', provider }, accessToken)
 */
export class TokenManager {
  readonly #store: TokenStore
  readonly #grants: TokenGrants
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #holderId: string
  readonly #margin: { readonly refreshMarginMs: number }
  readonly #cooldownMs: number
  readonly #commitRetryMs: number
  readonly #unsaved = new Map<string, UnsavedCredential>()
  readonly #rejectionRefresh: RejectionRefreshOptions
  /**
   * Per credential key: when (clock ms) a token obtained because of a rejection was rejected too,
   * and the last such token.
   */
  readonly #wasted = new Map<string, { times: number[]; token: Secret }>()
  readonly #persisting = new Map<string, Promise<void>>()
  readonly #leaseOptions: LeaseOptions
  readonly #cache = new CredentialCache()
  readonly #cacheTtlMs: number
  readonly #waiters = new ChangeWaiters()
  readonly #unsubscribe: () => void
  readonly #cooldown = new Cooldown()
  readonly #flights = new SingleFlight<string, ActiveCredential>()
  readonly #events: TypedEvents<TokenEvents>

  constructor(options: TokenManagerOptions) {
    this.#store = options.store
    this.#grants = options.grants
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? silentLogger
    this.#holderId = options.holderId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    this.#margin = Object.freeze({
      refreshMarginMs: options.refreshMarginMs ?? EXPIRY_DEFAULTS.refreshMarginMs,
    })
    this.#cooldownMs = options.cooldownMs ?? TOKEN_MANAGER_DEFAULTS.cooldownMs
    this.#commitRetryMs =
      options.commitRetryMs ?? options.lease?.ttlMs ?? TOKEN_MANAGER_DEFAULTS.commitRetryMs
    this.#rejectionRefresh = Object.freeze({
      ...TOKEN_MANAGER_DEFAULTS.rejectionRefresh,
      ...options.rejectionRefresh,
    })
    this.#leaseOptions = { ...LEASE_DEFAULTS, ...options.lease, logger: this.#logger }
    this.#events = new TypedEvents<TokenEvents>((error) =>
      this.#logger.error({ err: error }, 'a token event listener threw'),
    )
    this.#cacheTtlMs = options.cacheTtlMs ?? TOKEN_MANAGER_DEFAULTS.cacheTtlMs
    this.#unsubscribe =
      options.store.notifications?.subscribe((event) => this.#onStoreEvent(event)) ??
      (() => undefined)
  }

  /** Stops listening to the store's notifications (the broker calls it on close). */
  close(): void {
    this.#unsubscribe()
    this.#waiters.wakeAll()
  }

  /**
   * Another instance (or this one) changed the store: drop a cached credential whose stored
   * version moved on, and wake whoever waits for that credential's refresh or lease.
   */
  #onStoreEvent(event: StoreEvent): void {
    if (event.kind === 'credential') {
      const k = credentialKeyString(event.key)
      const cached = this.#cache.get(k)
      if (cached !== undefined && cached.version !== event.version) this.#cache.delete(k)
      this.#waiters.wake(k)
    } else if (event.kind === 'lease-released') {
      if (event.name.startsWith(LEASE_PREFIX))
        this.#waiters.wake(event.name.slice(LEASE_PREFIX.length))
    } else if (event.kind === 'resync') {
      this.#cache.clear()
      this.#waiters.wakeAll()
    }
  }

  /** Adds an event listener; returns a function that removes it. */
  on<K extends TokenEventName>(name: K, listener: (payload: TokenEvents[K]) => void): () => void {
    return this.#events.on(name, listener)
  }

  /**
   * A credential with a usable access token: from the in-process cache, else the store, else
   * obtained (mint for `client-credentials`/`jwt-bearer`/`password`, refresh for `browser`).
   * Refreshes proactively when the token is within its refresh margin. With `fresh: true` it asks
   * the authorization server now (mint, or refresh for `browser`) whatever is cached or stored and
   * whatever cooldown is running: an operator's "check it now" (`callout auth`, `doctor --online`).
   * With `fresh` and `audit`, the token set obtained and that entry are stored in one transaction
   * (both or neither; the token set is then not kept in memory to be stored later), and the
   * request is this caller's own: it never joins a token request already in flight.
   *
   * @throws CalloutError `NOT_AUTHENTICATED` (browser flow never authenticated), `NEEDS_REAUTH`,
   *   `REFRESH_COOLDOWN`, `USER_REQUIRED`, or the grant's error.
   */
  async getToken(
    ctx: GrantContext,
    options: {
      readonly fresh?: boolean
      readonly audit?: (stored: PrincipalCredential) => AuditRecord
    } = {},
  ): Promise<ActiveCredential> {
    const k = keyStringOf(ctx)
    const key = keyOf(ctx)
    if (options.fresh === true) {
      const { audit } = options
      const obtain = () => this.#obtainWithLease(ctx, key, undefined, undefined, true, audit)
      return audit === undefined ? this.#flights.run(k, obtain) : this.#flights.runOwn(k, obtain)
    }
    const cached = this.#fresh(k, ctx)
    if (cached !== undefined) return cached
    const aged = this.#cache.get(k)
    if (aged !== undefined && !this.#isDue(aged, ctx, this.#clock.now())) {
      return this.#flights.run(k, () => this.#revalidate(ctx, key, k, aged))
    }
    return this.#flights.run(k, () => this.#obtain(ctx, key, undefined))
  }

  /**
   * A cached credential outlived `cacheTtlMs` but is not due: read the store again (another
   * instance may have refreshed or re-authenticated it). When the store cannot be reached, keep
   * using the cached token: callouts on a valid token never depend on the store.
   */
  async #revalidate(
    ctx: GrantContext,
    key: CredentialKey,
    k: string,
    aged: ActiveCredential,
  ): Promise<ActiveCredential> {
    let stored: PrincipalCredential | undefined
    try {
      stored = await this.#read(key)
    } catch (error) {
      if (!isTransientStoreError(error)) throw error
      this.#logger.warn(
        { credential: keyDetails(key), code: isCalloutError(error) ? error.code : undefined },
        'the store is not reachable; using the cached token until it is due',
      )
      return this.#remember(k, aged)
    }
    if (stored?.version === aged.version) return this.#remember(k, aged)
    const usable = this.#acceptable(stored, ctx, undefined)
    if (usable !== undefined) return this.#remember(k, usable)
    this.#cache.delete(k)
    return this.#obtain(ctx, key, undefined)
  }

  /**
   * The cache hit of {@link TokenManager.getToken} without a promise: the cached credential when
   * `getToken` would return it at once — the same freshness rule (not due for refresh by the
   * clock, the refresh margin and the expiry) — else `undefined`, and the caller calls `getToken`,
   * which reads the store, refreshes, honours cooldowns and `needs-reauth`. Only credentials that
   * were obtained or read as `authenticated` are ever cached; a failed refresh evicts the entry.
   * Never obtains anything and never waits. Throws `USER_REQUIRED` like `getToken` rejects.
   *
   * @example
   * const credential = tokens.peekToken(ctx) ?? (await tokens.getToken(ctx))
   */
  peekToken(ctx: GrantContext): ActiveCredential | undefined {
    return this.#fresh(keyStringOf(ctx), ctx)
  }

  /** The cached credential for `k` if it is not due for refresh now. */
  #fresh(k: string, ctx: GrantContext): ActiveCredential | undefined {
    const entry = this.#cache.entry(k)
    if (entry === undefined) return undefined
    const now = this.#clock.now()
    if (now - entry.at >= this.#cacheTtlMs || this.#isDue(entry.credential, ctx, now)) {
      return undefined
    }
    return entry.credential
  }

  /**
   * Called when an upstream rejected `rejectedToken` (401): returns a different, fresh token,
   * refreshing at most once across all concurrent callers and processes.
   *
   * @example
   * if (res.status === 401) cred = await tokens.invalidate(ctx, cred.accessToken)
   */
  /**
   * Whether an upstream's rejection of `rejectedToken` should be answered with a new token. Returns
   * advice (for the `callout-advice` header) when it should not: the rejected token was obtained
   * because of a rejection and was rejected at once as well, less than `freshMs` ago (a new one
   * would be rejected too), or the credential has wasted its budget of such refreshes in the
   * window (see {@link TokenManagerOptions.rejectionRefresh}). Undefined when a refresh may go
   * ahead.
   *
   * @example
   * const advice = tokens.refreshAdvice(ctx, cred.accessToken)
   * if (advice === undefined) cred = await tokens.invalidate(ctx, cred.accessToken)
   */
  refreshAdvice(ctx: GrantContext, rejectedToken: Secret): string | undefined {
    const k = keyStringOf(ctx)
    const wasted = this.#wasted.get(k)
    if (wasted === undefined) return undefined
    const now = this.#clock.now()
    const { freshMs, budget, windowMs } = this.#rejectionRefresh
    wasted.times = wasted.times.filter((t) => t > now - windowMs)
    const last = wasted.times.at(-1)
    const name = ctx.namedCredential ?? ctx.ec.name
    if (last !== undefined && now - last < freshMs && wasted.token.equals(rejectedToken)) {
      return `The upstream rejected a token of ${name} that Callout had just obtained because an earlier token was rejected; a new token would most likely be rejected too, so Callout did not ask for one. Check that the token's scope and the user's permissions allow this request.`
    }
    if (wasted.times.length >= budget) {
      const retryAt = new Date((wasted.times[0] ?? now) + windowMs).toISOString()
      return `The upstream keeps rejecting the tokens of ${name}: ${wasted.times.length} new tokens obtained after a rejection were rejected too in the last ${Math.round(windowMs / 1000)} s, and Callout asks for no more until ${retryAt}. Check that the token's scope and the user's permissions allow this request.`
    }
    return undefined
  }

  /**
   * Records that the upstream also rejected the token obtained by {@link TokenManager.invalidate}
   * (the retry got a 401 too): the refresh was wasted. Feeds {@link TokenManager.refreshAdvice}.
   *
   * @example
   * if (retry.statusCode === 401) tokens.refreshWasted(ctx, fresh.accessToken)
   */
  refreshWasted(ctx: GrantContext, token: Secret): void {
    const k = keyStringOf(ctx)
    const wasted = this.#wasted.get(k) ?? { times: [], token }
    wasted.times.push(this.#clock.now())
    wasted.token = token
    this.#wasted.set(k, wasted)
  }

  async invalidate(ctx: GrantContext, rejectedToken: Secret): Promise<ActiveCredential> {
    const key = keyOf(ctx)
    const k = credentialKeyString(key)
    const cached = this.#cache.get(k)
    if (cached !== undefined) {
      if (
        !cached.accessToken.equals(rejectedToken) &&
        !this.#isDue(cached, ctx, this.#clock.now())
      ) {
        return cached
      }
      if (cached.accessToken.equals(rejectedToken)) this.#cache.delete(k)
    }
    const result = await this.#flights.run(k, () => this.#obtain(ctx, key, rejectedToken))
    if (!result.accessToken.equals(rejectedToken)) return result
    // We joined a flight that was not about our rejected token (a plain load); refresh now.
    return this.#flights.run(k, () => this.#obtain(ctx, key, rejectedToken))
  }

  /**
   * Builds the authorization request of a `browser`-flow principal (the URL to open, with state,
   * PKCE verifier and nonce to keep server-side until the callback). Talks to the authorization
   * server only for discovery.
   *
   * @example
   * const request = await tokens.authorizationRequest(ctx, { redirectUri })
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1
   */
  authorizationRequest(
    ctx: GrantContext,
    options: AuthorizationRequestOptions,
  ): Promise<AuthorizationRequest> {
    keyOf(ctx)
    assertBrowserFlow(ctx)
    return this.#grants.authorizationRequest(ctx, options)
  }

  /**
   * Completes the browser flow of one principal (and user): under the principal's lease, validates
   * the callback, exchanges the code, and stores the new token set as `authenticated` (replacing
   * whatever was stored, including `needs-reauth`), then forgets the principal's cooldown and
   * cached token. The caller has already checked that the callback belongs to whoever started the
   * flow (see `completeAuthorization` in `callout/browser-authorization.ts`). With `audit`, the
   * token set and that entry are stored in one transaction; when it fails the token set is not
   * kept in memory to be stored later (as an unaudited write would be), and the error is thrown.
   *
   * @throws CalloutError `AUTHORIZATION_FAILED` for a bad callback; the grant's errors for a
   *   failed exchange (nothing is stored then).
   * @example
   * const credential = await tokens.completeAuthorization(ctx, { callback, state, redirectUri, codeVerifier })
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
   */
  async completeAuthorization(
    ctx: GrantContext,
    exchange: AuthorizationCodeExchange,
    options: { readonly audit?: (stored: PrincipalCredential) => AuditRecord } = {},
  ): Promise<ActiveCredential> {
    const key = keyOf(ctx)
    const k = credentialKeyString(key)
    assertBrowserFlow(ctx)
    const outcome = await withLease(
      this.#store,
      `${LEASE_PREFIX}${k}`,
      this.#holderId,
      async () => {
        const tokenSet = await this.#grants.exchangeCode(ctx, exchange)
        return this.#commit(ctx, key, tokenSet, 'replace', options.audit)
      },
      { ...this.#leaseOptions, nextChange: () => this.#waiters.arm(k) },
    )
    if (!outcome.acquired) throw new CalloutError('INTERNAL', 'unreachable: lease not taken')
    return outcome.value
  }

  /**
   * Revokes the stored tokens of one principal (and user) at the authorization server and removes
   * them from the store, under the principal's lease (so no refresh runs meanwhile, in this
   * process or another). The refresh token is revoked when one is stored (Salesforce and RFC 7009
   * servers then invalidate its access tokens too), else the access token. Afterwards a `browser`
   * principal is `needs-reauth` (its next callout fails with `NEEDS_REAUTH` and the advice to
   * re-authenticate); a minting flow (`client-credentials`, `jwt-bearer`, `password`) obtains a
   * new token at its next callout. The write bumps the stored version, so other instances drop
   * their cached token as soon as the store's notification arrives (PostgreSQL), or within
   * `cacheTtlMs` (SQLite).
   *
   * Without a revocation endpoint the tokens are removed locally (`provider: 'no-endpoint'`).
   * When the revocation request fails (unreachable, 5xx, refused), the tokens are kept and the
   * error is thrown, unless `force` is set: then they are removed locally anyway
   * (`provider: 'failed'`) and may stay usable at the server until they expire. With `audit`, the
   * removal and its entry are one transaction; when it fails the tokens stay stored and the
   * store's error is thrown with `details.reason: 'removal-failed'` and `details.provider`.
   *
   * @throws CalloutError `REVOCATION_FAILED` or `TOKEN_ENDPOINT_ERROR` (without `force`),
   *   `INVALID_ARGUMENT` (not oauth2), `USER_REQUIRED`.
   * @example
   * const outcome = await tokens.revoke(ctx)
   * if (outcome.provider === 'no-endpoint') console.warn(outcome.message)
   * @see https://www.rfc-editor.org/rfc/rfc7009
   */
  async revoke(ctx: GrantContext, options: RevokeTokensOptions = {}): Promise<Revocation> {
    const key = keyOf(ctx)
    const k = credentialKeyString(key)
    if (ctx.ec.protocol !== 'oauth2') {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `ExternalCredential ${ctx.ec.name} uses protocol ${ctx.ec.protocol}; only oauth2 credentials have tokens to revoke.`,
        { details: { externalCredential: ctx.ec.name } },
      )
    }
    const outcome = await withLease(
      this.#store,
      `${LEASE_PREFIX}${k}`,
      this.#holderId,
      () => this.#revokeHeld(ctx, key, options),
      { ...this.#leaseOptions, nextChange: () => this.#waiters.arm(k) },
    )
    if (!outcome.acquired) throw new CalloutError('INTERNAL', 'unreachable: lease not taken')
    return outcome.value
  }

  async #revokeHeld(
    ctx: GrantContext,
    key: CredentialKey,
    options: RevokeTokensOptions,
  ): Promise<Revocation> {
    const force = options.force === true
    const k = credentialKeyString(key)
    const current = await this.#read(key)
    const token = current?.refreshToken ?? current?.accessToken
    const tokenType = current?.refreshToken === undefined ? 'access_token' : 'refresh_token'
    if (current === undefined || token === undefined) {
      return {
        key,
        provider: 'nothing-stored',
        removedLocally: false,
        message: `${capitalise(describe(ctx))} holds no token; nothing was revoked.`,
      }
    }
    const name = ctx.namedCredential ?? ctx.ec.name
    let provider: Revocation['provider']
    let failure: CalloutError | undefined
    try {
      provider = await this.#grants.revoke(ctx, token, tokenType)
    } catch (thrown) {
      failure = isCalloutError(thrown)
        ? thrown
        : new CalloutError('REVOCATION_FAILED', 'The revocation request failed unexpectedly.', {
            cause: thrown,
          })
      if (!force) {
        this.#logger.warn(
          { credential: keyDetails(key), code: failure.code },
          'revocation failed; the stored tokens were kept',
        )
        throw new CalloutError(
          failure.code === 'TOKEN_ENDPOINT_ERROR' ? 'REVOCATION_FAILED' : failure.code,
          `Revoking the tokens of ${describe(ctx)} failed: ${failure.message} The stored tokens were kept; retry, or remove them locally anyway (they may stay valid at the authorization server until they expire).`,
          {
            cause: failure,
            details: { ...keyDetails(key), namedCredential: name, reason: 'provider-failed' },
          },
        )
      }
      provider = 'failed'
    }
    const now = this.#clock.now()
    const browser = ctx.ec.flow === 'browser'
    const cleared: Omit<PrincipalCredential, 'version'> = {
      ...key,
      status: browser ? 'needs-reauth' : 'not-configured',
      ...optional('identity', current.identity),
      ...(browser
        ? {
            lastError: {
              code: 'NEEDS_REAUTH',
              message: `The tokens of ${describe(ctx)} were revoked on ${new Date(now).toISOString()}; the principal must re-authenticate. ${connectAdvice(name, ctx)}`,
              at: now,
            },
          }
        : {}),
    }
    this.#unsaved.delete(k)
    // Under the lease nobody else refreshes; a non-leased writer (a failure record) may still
    // race once, hence a few compare-and-swap rounds.
    const { audit } = options
    const removal = audit === undefined ? {} : { audit: () => audit({ provider, tokenType }) }
    let written: boolean
    // Whether `audit`'s entry was stored with the removal (not when the credential vanished).
    let audited = false
    try {
      written = await this.#retryingStore(async () => {
        for (let round = 0; round < 5; round++) {
          const latest = await this.#store.getCredential(key)
          if (latest === undefined) return true
          if (
            (await this.#store.compareAndSetCredential(cleared, latest.version, removal)) !==
            undefined
          ) {
            audited = audit !== undefined
            return true
          }
        }
        return false
      })
    } catch (thrown) {
      // The removal and its audit entry are one transaction: when it fails (the store, or the
      // audit entry refused), the tokens stay stored and nothing here changed. A token the
      // server has revoked is useless, so keeping it is safe, while removing it without its
      // audit entry would leave an unaudited change: fail loudly instead, saying what happened
      // at the server, and let the revocation be run again (an RFC 7009 server accepts revoking a
      // token it no longer knows, and the tokens are then removed with their entry).
      if (!isCalloutError(thrown)) throw thrown
      const dead = provider === 'revoked' || provider === 'already-invalid'
      throw new CalloutError(
        thrown.code,
        `Removing the stored tokens of ${describe(ctx)} failed: ${thrown.message} They stay stored${dead ? `, but the authorization server no longer accepts them (${provider})` : ` and ${provider === 'no-endpoint' ? 'usable: nothing was revoked at the authorization server' : 'may stay usable: the revocation request failed'}`}; revoke again once the store works, to remove them with their audit entry.`,
        {
          cause: thrown,
          details: {
            ...keyDetails(key),
            namedCredential: name,
            reason: 'removal-failed',
            provider,
          },
        },
      )
    }
    if (!written) {
      throw new CalloutError(
        'STORE_CONFLICT',
        `The credential for ${describe(ctx)} kept changing while Callout removed its tokens; retry.`,
        { details: keyDetails(key) },
      )
    }
    this.#cache.delete(k)
    this.#cooldown.clear(k)
    const revoked = tokenType === 'refresh_token' ? 'refresh token' : 'access token'
    const message =
      provider === 'revoked'
        ? `The ${revoked} of ${describe(ctx)} was revoked at the authorization server and the stored tokens were removed.`
        : provider === 'already-invalid'
          ? `The authorization server no longer knew the ${revoked} of ${describe(ctx)}; the stored tokens were removed.`
          : provider === 'no-endpoint'
            ? `The AuthProvider of ${describe(ctx)} has no revocation endpoint: the stored tokens were removed here only, and stay valid at the authorization server until they expire (revoke them there too).`
            : `Revoking at the authorization server failed (${failure?.code}: ${failure?.message}); the stored tokens were removed here anyway and may stay valid there until they expire.`
    this.#logger.info(
      { credential: keyDetails(key), provider, tokenType },
      'stored tokens revoked and removed',
    )
    return {
      key,
      provider,
      tokenType,
      removedLocally: true,
      ...(audited ? { audited } : {}),
      message,
      ...(failure === undefined
        ? {}
        : { failure: { code: failure.code, message: failure.message } }),
    }
  }

  /**
   * Called after the definitions of these ExternalCredentials (or their AuthProviders) changed:
   * forgets their cached tokens and cooldowns, and clears the stored last error (and the `error`
   * status; `needs-reauth` too for flows that mint without a user), so that the fixed
   * configuration is tried at once instead of failing with the old error until the cooldown ends.
   * Credentials of the browser flow that need re-authentication keep that status.
   *
   * @example
   * await tokens.definitionsChanged([defs.externalCredentials.get('Api')!])
   */
  async definitionsChanged(ecs: readonly ExternalCredential[]): Promise<void> {
    for (const ec of ecs) this.forget({ externalCredential: ec.name })
    await clearStoredErrors(this.#store, ecs, (error, credential) =>
      this.#logger.warn(
        { err: safeLogError(error), credential: keyDetails(credential) },
        'clearing the last error after a definition change failed',
      ),
    )
  }

  /**
   * Forgets cached credentials and cooldowns: for one key, one ExternalCredential, or all. Call
   * after definitions change or a user re-authenticates.
   */
  forget(scope?: CredentialKey | { readonly externalCredential: string }): void {
    if (scope === undefined) {
      this.#cache.clear()
      this.#cooldown.clearAll()
    } else if ('principal' in scope) {
      const k = credentialKeyString(scope)
      this.#cache.delete(k)
      this.#cooldown.clear(k)
    } else {
      this.#cache.clear(`${scope.externalCredential}/`)
      this.#cooldown.clearAll()
    }
  }

  #isDue(credential: PrincipalCredential, ctx: GrantContext, now: number): boolean {
    const due = refreshDueAt(credential, sessionTimeoutFor(ctx.ec, ctx.provider), this.#margin)
    return due !== undefined && now >= due
  }

  #isExpired(credential: PrincipalCredential, ctx: GrantContext, now: number): boolean {
    const expiresAt = effectiveExpiresAt(credential, sessionTimeoutFor(ctx.ec, ctx.provider))
    return expiresAt !== undefined && now >= expiresAt
  }

  /** A stored credential we may use as it is: authenticated, not rejected, not due for refresh. */
  #acceptable(
    credential: PrincipalCredential | undefined,
    ctx: GrantContext,
    rejected: Secret | undefined,
  ): ActiveCredential | undefined {
    if (credential?.status !== 'authenticated' || credential.accessToken === undefined)
      return undefined
    if (rejected !== undefined && credential.accessToken.equals(rejected)) return undefined
    if (this.#isDue(credential, ctx, this.#clock.now())) return undefined
    return credential as ActiveCredential
  }

  async #obtain(
    ctx: GrantContext,
    key: CredentialKey,
    rejected: Secret | undefined,
  ): Promise<ActiveCredential> {
    const seen = await this.#read(key)
    try {
      return await this.#obtainWithLease(ctx, key, rejected, seen)
    } catch (error) {
      await this.#recordDeadSession(ctx, key, rejected, error)
      // A proactive refresh failed, but the current token has not expired yet: keep using it.
      if (
        rejected === undefined &&
        isCalloutError(error) &&
        error.code !== 'NEEDS_REAUTH' &&
        seen?.status !== 'needs-reauth' &&
        seen?.accessToken !== undefined &&
        seen.lastError?.code !== 'NEEDS_REAUTH' &&
        !this.#isExpired(seen, ctx, this.#clock.now())
      ) {
        const latest = await this.#read(key)
        if (latest?.accessToken !== undefined && latest.status === 'authenticated') {
          this.#logger.warn(
            { credential: keyDetails(key), code: error.code },
            'proactive refresh failed; using the current token until it expires',
          )
          return latest as ActiveCredential
        }
      }
      throw error
    }
  }

  /**
   * A browser-flow token that was rejected or has expired, with no refresh token to renew it:
   * record `needs-reauth` so that status shows what every callout now meets.
   */
  async #recordDeadSession(
    ctx: GrantContext,
    key: CredentialKey,
    rejected: Secret | undefined,
    error: unknown,
  ): Promise<void> {
    if (!isCalloutError(error) || error.details.reason !== 'missing-refresh-token') return
    try {
      const current = await this.#read(key)
      if (current?.status !== 'authenticated' || current.refreshToken !== undefined) return
      const now = this.#clock.now()
      const used = rejected !== undefined && current.accessToken?.equals(rejected) === true
      if (!used && !this.#isExpired(current, ctx, now)) return
      const lastError = { code: error.code, message: error.message, at: now }
      const marked = { ...current, status: 'needs-reauth' as const, lastError }
      await this.#store.compareAndSetCredential(marked, current.version)
      this.#cache.delete(credentialKeyString(key))
      this.#events.emit('needs-reauth', {
        key,
        code: error.code,
        message: error.message,
        at: now,
        ...optional('namedCredential', ctx.namedCredential),
      })
    } catch (failure) {
      this.#logger.warn(
        { err: failure, credential: keyDetails(key) },
        'recording an expired session failed',
      )
    }
  }

  async #obtainWithLease(
    ctx: GrantContext,
    key: CredentialKey,
    rejected: Secret | undefined,
    initial: PrincipalCredential | undefined,
    fresh = false,
    audit?: (stored: PrincipalCredential) => AuditRecord,
  ): Promise<ActiveCredential> {
    const k = credentialKeyString(key)
    let seen = initial
    for (let round = 0; round < TOKEN_MANAGER_DEFAULTS.maxLeaseRounds; round++) {
      const usable = fresh ? undefined : this.#acceptable(seen, ctx, rejected)
      if (usable !== undefined) return this.#remember(k, usable)
      if (!fresh) this.#assertMayObtain(ctx, seen, k)
      const seenVersion = seen?.version ?? 0
      const outcome = await withLease(
        this.#store,
        `${LEASE_PREFIX}${k}`,
        this.#holderId,
        async () => {
          // Re-read after taking the lease: another process may have refreshed meanwhile.
          const current = await this.#read(key)
          if (fresh) {
            this.#assertMayObtain(ctx, current, k, true)
            return this.#callGrant(ctx, key, current, rejected, audit)
          }
          const accepted = this.#acceptable(current, ctx, rejected)
          if (accepted !== undefined) return accepted
          this.#assertMayObtain(ctx, current, k)
          return this.#callGrant(ctx, key, current, rejected)
        },
        {
          ...this.#leaseOptions,
          otherHolderDone: async () => ((await this.#read(key))?.version ?? 0) !== seenVersion,
          nextChange: () => this.#waiters.arm(k),
        },
      )
      if (outcome.acquired) return this.#remember(k, outcome.value)
      seen = await this.#read(key)
    }
    throw new CalloutError(
      'STORE_CONFLICT',
      `The credential for ${describe(ctx)} kept changing while Callout tried to refresh it; retry the call.`,
      { details: keyDetails(key) },
    )
  }

  /**
   * The stored credential — or, while a token set obtained from the authorization server waits
   * in memory for the store, that token set (after one more attempt to persist it).
   */
  async #read(key: CredentialKey): Promise<PrincipalCredential | undefined> {
    const k = credentialKeyString(key)
    if (this.#unsaved.has(k)) {
      await this.#persist(k).catch(() => undefined)
      const unsaved = this.#unsaved.get(k)
      if (unsaved !== undefined) return { ...unsaved.credential, version: unsaved.expectedVersion }
    }
    try {
      return await this.#store.getCredential(key)
    } catch (error) {
      if (isCalloutError(error)) throw error
      throw new CalloutError(
        'STORE_ERROR',
        'Reading the stored credential failed; check the store.',
        {
          cause: error,
        },
      )
    }
  }

  #remember(k: string, credential: ActiveCredential): ActiveCredential {
    this.#cache.set(k, credential, this.#clock.now())
    return credential
  }

  /** Throws when obtaining a token is pointless or not allowed right now (no token request). */
  #assertMayObtain(
    ctx: GrantContext,
    current: PrincipalCredential | undefined,
    k: string,
    ignoreCooldown = false,
  ): void {
    const now = this.#clock.now()
    const name = ctx.namedCredential ?? ctx.ec.name
    const key = keyOf(ctx)
    const cooling = ignoreCooldown ? undefined : this.#cooldown.active(k, now)
    if (cooling !== undefined) throw this.#coolingError(ctx, cooling.error, cooling.until)
    if (ctx.ec.protocol !== 'oauth2' || ctx.ec.flow === undefined) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `ExternalCredential ${ctx.ec.name} uses protocol ${ctx.ec.protocol}; only oauth2 credentials have tokens.`,
      )
    }
    const recentError =
      !ignoreCooldown &&
      current?.lastError !== undefined &&
      now < current.lastError.at + this.#cooldownMs
    if (ctx.ec.flow === 'browser') {
      if (current?.status === 'needs-reauth') {
        const message =
          current.refreshToken === undefined && current.lastError?.code === 'NEEDS_REAUTH'
            ? current.lastError.message
            : reauthMessage(name, ctx)
        throw new CalloutError('NEEDS_REAUTH', message, {
          details: {
            ...keyDetails(key),
            namedCredential: name,
            lastError: current.lastError?.code,
          },
        })
      }
      if (current?.refreshToken === undefined) {
        if (current?.accessToken === undefined || current.status !== 'authenticated') {
          throw new CalloutError(
            'NOT_AUTHENTICATED',
            `${describe(ctx)} has not been authenticated yet. ${connectAdvice(name, ctx)}`,
            { details: { ...keyDetails(key), namedCredential: name } },
          )
        }
        throw new CalloutError(
          'NEEDS_REAUTH',
          `The access token for ${describe(ctx)} is no longer accepted and no refresh token is stored: the granted scope lacks refresh_token (Salesforce: add "refresh_token" or "offline_access" to the scope and allow it in the Connected App). Then ${connectAdvice(name, ctx, true)}`,
          {
            details: { ...keyDetails(key), namedCredential: name, reason: 'missing-refresh-token' },
          },
        )
      }
    } else if (current?.status === 'needs-reauth' && recentError) {
      throw new CalloutError(
        'NEEDS_REAUTH',
        `The authorization server rejected the ${ctx.ec.flow} grant for ${describe(ctx)} (${current.lastError?.code}: ${current.lastError?.message}). Fix the ExternalCredential or the authorization server's configuration, then retry.`,
        { details: { ...keyDetails(key), namedCredential: name } },
      )
    }
    if (current?.status === 'error' && recentError && current.lastError !== undefined) {
      const until = current.lastError.at + this.#cooldownMs
      throw new CalloutError(
        'REFRESH_COOLDOWN',
        `Obtaining a token for ${describe(ctx)} failed recently (${current.lastError.code}: ${current.lastError.message}); Callout retries after ${new Date(until).toISOString()}.`,
        { details: { ...keyDetails(key), lastError: current.lastError.code, retryAt: until } },
      )
    }
  }

  #coolingError(ctx: GrantContext, error: CalloutError, until: number): CalloutError {
    if (error.code === 'NEEDS_REAUTH') return error
    return new CalloutError(
      'REFRESH_COOLDOWN',
      `Obtaining a token for ${describe(ctx)} failed recently (${error.code}); Callout retries after ${new Date(until).toISOString()}. Cause: ${error.message}`,
      {
        cause: error,
        details: { ...keyDetails(keyOf(ctx)), lastError: error.code, retryAt: until },
      },
    )
  }

  async #callGrant(
    ctx: GrantContext,
    key: CredentialKey,
    current: PrincipalCredential | undefined,
    rejected: Secret | undefined,
    audit?: (stored: PrincipalCredential) => AuditRecord,
  ): Promise<ActiveCredential> {
    let tokenSet: TokenSet
    try {
      if (ctx.ec.flow === 'browser') {
        // #assertMayObtain guarantees a refresh token for the browser flow.
        tokenSet = await this.#grants.refresh(ctx, current?.refreshToken as Secret)
      } else if (ctx.ec.flow !== undefined && MINT_FLOWS.has(ctx.ec.flow)) {
        tokenSet = await this.#grants.mint(ctx)
      } else {
        throw new CalloutError(
          'CONFIG_INVALID',
          `ExternalCredential ${ctx.ec.name} has no oauth2 flow.`,
        )
      }
    } catch (thrown) {
      throw await this.#recordFailure(ctx, key, current, rejected, thrown)
    }
    return this.#commit(ctx, key, tokenSet, { current, rejected }, audit)
  }

  /**
   * Stores a token set obtained from the authorization server. After a refresh or a mint the
   * write is a compare-and-swap on the version of `current` and keeps what the response omits (a
   * refresh token that was not rotated, scope, instance URL, identity); a new authorization
   * (`replace`) replaces whatever is stored. With `audit`, its entry goes in the write's
   * transaction, and a failed write is thrown rather than kept to store later.
   */
  async #commit(
    ctx: GrantContext,
    key: CredentialKey,
    tokenSet: TokenSet,
    basis:
      | { readonly current: PrincipalCredential | undefined; readonly rejected: Secret | undefined }
      | 'replace',
    audit?: (stored: PrincipalCredential) => AuditRecord,
  ): Promise<ActiveCredential> {
    const current = basis === 'replace' ? undefined : basis.current
    const rejected = basis === 'replace' ? undefined : basis.rejected
    const k = credentialKeyString(key)
    const now = this.#clock.now()
    const next: Omit<PrincipalCredential, 'version'> = {
      ...key,
      status: 'authenticated',
      accessToken: tokenSet.accessToken,
      tokenType: tokenSet.tokenType,
      issuedAt: tokenSet.issuedAt,
      lastRefreshAt: now,
      ...optional('refreshToken', tokenSet.refreshToken ?? current?.refreshToken),
      ...optional('expiresAt', tokenSet.expiresAt),
      ...optional('scope', tokenSet.scope ?? current?.scope),
      ...optional('instanceUrl', tokenSet.instanceUrl ?? current?.instanceUrl),
      ...optional('identity', keptIdentity(tokenSet.identity, current?.identity)),
    }
    let stored: PrincipalCredential | undefined
    try {
      if (basis === 'replace') {
        // A new authorization replaces what is stored, whatever its version.
        for (let attempt = 0; attempt < 5 && stored === undefined; attempt++) {
          stored = await this.#retryingStore(async () =>
            this.#store.compareAndSetCredential(
              next,
              (await this.#read(key))?.version ?? 0,
              audit === undefined ? {} : { audit },
            ),
          )
        }
      } else {
        stored = await this.#retryingStore(() =>
          this.#store.compareAndSetCredential(
            next,
            current?.version ?? 0,
            audit === undefined ? {} : { audit },
          ),
        )
      }
    } catch (error) {
      // An audited write is stored with its entry or not at all: never kept to store later.
      if (!isTransientStoreError(error) || audit !== undefined) throw error
      // The authorization server has issued this token set (and may have rotated the refresh
      // token away): never drop it. Use it now and persist it as soon as the store answers.
      const expectedVersion =
        basis === 'replace'
          ? ((await this.#read(key).catch(() => undefined))?.version ?? 0)
          : (current?.version ?? 0)
      this.#unsaved.set(k, { key, credential: next, expectedVersion })
      this.#schedulePersist(k, TOKEN_MANAGER_DEFAULTS.persistPauseMs)
      this.#logger.warn(
        { credential: keyDetails(key), code: isCalloutError(error) ? error.code : undefined },
        'the store did not accept the new token set; it is used from memory and stored as soon as the store answers',
      )
      stored = { ...next, version: expectedVersion }
    }
    if (stored === undefined) {
      // Another writer won (e.g. our lease expired mid-call). Use theirs if it is usable.
      const theirs = this.#acceptable(await this.#read(key), ctx, rejected)
      if (theirs !== undefined) return theirs
      throw new CalloutError(
        'STORE_CONFLICT',
        `Another process changed the credential for ${describe(ctx)} while Callout refreshed it; retry the call.`,
        { details: keyDetails(key) },
      )
    }
    this.#cooldown.clear(k)
    this.#cache.set(k, stored as ActiveCredential, this.#clock.now())
    this.#logger.info({ credential: keyDetails(key), flow: ctx.ec.flow }, 'token obtained')
    this.#events.emit('refreshed', {
      key,
      at: now,
      ...optional('namedCredential', ctx.namedCredential),
    })
    return stored as ActiveCredential
  }

  /** Runs a store write, retrying transient store failures for up to `commitRetryMs`. */
  async #retryingStore<T>(write: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#commitRetryMs
    let pause: number = TOKEN_MANAGER_DEFAULTS.storeRetryPauseMs
    for (;;) {
      try {
        return await write()
      } catch (error) {
        if (!isTransientStoreError(error) || Date.now() + pause > deadline) throw error
        this.#logger.warn(
          { code: isCalloutError(error) ? error.code : undefined, retryInMs: pause },
          'storing the new token set failed; retrying while the lease is held',
        )
        await sleep(pause)
        pause = Math.min(pause * 2, TOKEN_MANAGER_DEFAULTS.maxStoreRetryPauseMs)
      }
    }
  }

  /**
   * Writes the token set kept in memory for `k` (one attempt, shared by concurrent callers). If
   * another writer stored a newer authenticated credential meanwhile, that one wins.
   */
  #persist(k: string): Promise<void> {
    const running = this.#persisting.get(k)
    if (running !== undefined) return running
    const attempt = (async () => {
      const unsaved = this.#unsaved.get(k)
      if (unsaved === undefined) return
      const stored = await this.#store.getCredential(unsaved.key)
      const version = stored?.version ?? 0
      const theirsIsNewer =
        version !== unsaved.expectedVersion &&
        stored?.status === 'authenticated' &&
        (stored.lastRefreshAt ?? 0) >= (unsaved.credential.lastRefreshAt ?? 0)
      if (!theirsIsNewer) {
        const written = await this.#store.compareAndSetCredential(unsaved.credential, version)
        if (written === undefined) throw new CalloutError('STORE_CONFLICT', 'changed meanwhile')
        if (this.#cache.get(k)?.accessToken.equals(unsaved.credential.accessToken as Secret)) {
          this.#cache.set(k, written as ActiveCredential, this.#clock.now())
        }
      }
      this.#unsaved.delete(k)
      this.#logger.info({ credential: keyDetails(unsaved.key) }, 'the new token set is stored')
    })().finally(() => this.#persisting.delete(k))
    this.#persisting.set(k, attempt)
    return attempt
  }

  /** Retries {@link TokenManager.#persist} in the background until the store accepts it. */
  #schedulePersist(k: string, pauseMs: number): void {
    const timer = setTimeout(() => {
      if (!this.#unsaved.has(k)) return
      this.#persist(k).catch(() =>
        this.#schedulePersist(k, Math.min(pauseMs * 2, TOKEN_MANAGER_DEFAULTS.maxPersistPauseMs)),
      )
    }, pauseMs)
    timer.unref()
  }

  async #recordFailure(
    ctx: GrantContext,
    key: CredentialKey,
    current: PrincipalCredential | undefined,
    rejected: Secret | undefined,
    thrown: unknown,
  ): Promise<CalloutError> {
    const k = credentialKeyString(key)
    const now = this.#clock.now()
    const name = ctx.namedCredential ?? ctx.ec.name
    const cause = isCalloutError(thrown)
      ? thrown
      : new CalloutError(
          'TOKEN_ENDPOINT_ERROR',
          `The token request for ${describe(ctx)} failed unexpectedly; check the AuthProvider's token URL.`,
          { cause: thrown },
        )
    const needsReauth = cause.code === 'NEEDS_REAUTH'
    const stillUsable =
      !needsReauth &&
      current?.status === 'authenticated' &&
      current.accessToken !== undefined &&
      (rejected === undefined || !current.accessToken.equals(rejected)) &&
      !this.#isExpired(current, ctx, now)
    const lastError = { code: cause.code, message: cause.message, at: now }
    const marked: Omit<PrincipalCredential, 'version'> = {
      ...(current ?? key),
      ...key,
      status: needsReauth ? 'needs-reauth' : stillUsable ? 'authenticated' : 'error',
      lastError,
    }
    try {
      await this.#store.compareAndSetCredential(marked, current?.version ?? 0)
    } catch (error) {
      this.#logger.warn(
        { err: error, credential: keyDetails(key) },
        'recording a refresh failure failed',
      )
    }
    this.#cache.delete(k)
    const error = needsReauth
      ? new CalloutError(
          'NEEDS_REAUTH',
          ctx.ec.flow === 'browser'
            ? reauthMessage(name, ctx)
            : `The authorization server rejected the ${ctx.ec.flow} grant for ${describe(ctx)}: ${cause.message}`,
          { cause, details: { ...keyDetails(key), namedCredential: name } },
        )
      : cause
    this.#cooldown.start(k, now + this.#cooldownMs, error)
    const event = {
      key,
      code: error.code,
      message: error.message,
      at: now,
      ...optional('namedCredential', ctx.namedCredential),
    }
    if (needsReauth) {
      this.#logger.warn(
        { credential: keyDetails(key), code: cause.code },
        'principal needs re-authentication',
      )
      this.#events.emit('needs-reauth', event)
    } else {
      this.#logger.warn({ credential: keyDetails(key), code: cause.code }, 'token request failed')
      this.#events.emit('refresh-failed', event)
    }
    return error
  }
}

function safeLogError(error: unknown): unknown {
  return isCalloutError(error) ? { code: error.code, message: error.message } : undefined
}

/** A store failure that may pass (a lock, a lost connection) — not a conflict or tampering. */
function isTransientStoreError(error: unknown): boolean {
  if (!isCalloutError(error)) return false
  return (
    error.code === 'STORE_BUSY' ||
    error.code === 'STORE_ERROR' ||
    error.code === 'STORE_UNREACHABLE'
  )
}

function assertBrowserFlow(ctx: GrantContext): void {
  if (ctx.ec.protocol !== 'oauth2' || ctx.ec.flow !== 'browser' || ctx.provider === undefined) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `ExternalCredential ${ctx.ec.name} does not use the browser flow (it is ${ctx.ec.protocol}${ctx.ec.flow === undefined ? '' : `/${ctx.ec.flow}`}); it needs no interactive authentication.`,
      { details: { externalCredential: ctx.ec.name } },
    )
  }
}

function keyOf(ctx: GrantContext): CredentialKey {
  if (ctx.principal.type === 'per-user' && ctx.userId === '') {
    throw new CalloutError(
      'USER_REQUIRED',
      `Principal ${ctx.principal.name} of ${ctx.ec.name} is per-user: pass the end user (e.g. { user: 'alice' }).`,
    )
  }
  return {
    externalCredential: ctx.ec.name,
    principal: ctx.principal.name,
    userId: ctx.principal.type === 'per-user' ? ctx.userId : '',
  }
}

const keyStrings = new WeakMap<
  GrantContext,
  {
    readonly ec: string
    readonly principal: string
    readonly type: string
    readonly userId: string
    readonly k: string
  }
>()

/**
 * `credentialKeyString(keyOf(ctx))`, remembered per context object (the pipeline reuses one per
 * resolved target) and re-checked against the fields it is made of on every use, so a context
 * changed after its first use never yields a stale key. Throws `USER_REQUIRED` like `keyOf`.
 */
function keyStringOf(ctx: GrantContext): string {
  const memo = keyStrings.get(ctx)
  if (
    memo !== undefined &&
    memo.ec === ctx.ec.name &&
    memo.principal === ctx.principal.name &&
    memo.type === ctx.principal.type &&
    memo.userId === ctx.userId
  ) {
    return memo.k
  }
  const k = credentialKeyString(keyOf(ctx))
  keyStrings.set(ctx, {
    ec: ctx.ec.name,
    principal: ctx.principal.name,
    type: ctx.principal.type,
    userId: ctx.userId,
    k,
  })
  return k
}

function keyDetails(key: CredentialKey): Record<string, string> {
  return {
    externalCredential: key.externalCredential,
    principal: key.principal,
    userId: key.userId,
  }
}

function describe(ctx: GrantContext): string {
  const user = ctx.principal.type === 'per-user' ? ` for user ${ctx.userId}` : ''
  return `principal ${ctx.principal.name} of ExternalCredential ${ctx.ec.name}${user}`
}

function connectAdvice(name: string, ctx: GrantContext, lower = false): string {
  const advice =
    ctx.principal.type === 'per-user'
      ? `Send user ${ctx.userId} a connect link (broker.authorizeUrl('${name}', { user: '${ctx.userId}', … })).`
      : `Run \`callout auth ${name}\`.`
  return lower ? advice.charAt(0).toLowerCase() + advice.slice(1) : advice
}

function reauthMessage(name: string, ctx: GrantContext): string {
  return `The refresh token for ${describe(ctx)} was rejected (invalid_grant: expired, revoked or rotated away); the principal must re-authenticate. ${connectAdvice(name, ctx)}`
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

/**
 * The identity to store after a refresh or mint: a response that names the same user (Salesforce
 * refresh responses carry only the identity URL `id`) keeps what it omits, such as the username
 * "Authenticated as" shows; a response naming another identity URL replaces it.
 */
function keptIdentity(
  next: CredentialIdentity | undefined,
  current: CredentialIdentity | undefined,
): CredentialIdentity | undefined {
  if (next === undefined || current === undefined) return next ?? current
  const sameUser =
    next.idUrl === undefined || current.idUrl === undefined || next.idUrl === current.idUrl
  return sameUser ? { ...current, ...next } : next
}
