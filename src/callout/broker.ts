import { checkFormulas } from '../auth/formula-check.ts'
import type { Clock } from '../clock.ts'
import type { Definitions, PrincipalCredential } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import type { AuditRecord } from '../store/admin.ts'
import type { ApplyResult, Store } from '../store/types.ts'
import { externalCredentialsChangedBy } from '../tokens/definitions-changed.ts'
import type { Revocation, RevokeTokensOptions, TokenManager } from '../tokens/token-manager.ts'
import type { Logger, TokenEventName, TokenEvents } from '../tokens/types.ts'
import {
  completeAuthorization,
  startAuthorization,
  type AuthorizationCallback,
  type AuthorizeUrlOptions,
  type CompleteAuthorizationOptions,
} from './browser-authorization.ts'
import type { Dispatchers } from './dispatchers.ts'
import { CalloutPipeline, type Exchange, type PipelineRequest, type Received } from './pipeline.ts'
import { buildStatusReports, type StatusReport } from './status-report.ts'
import type { Authenticators } from './steps/authenticate.ts'
import { allowAll, type AccessPolicy } from './steps/check-access.ts'
import {
  normalizeRequest,
  normalizeRequestSync,
  type CallerBody,
  type CallerHeaders,
  type NormalizedRequest,
} from './steps/normalize-request.ts'
import { grantContextFor, resolveTarget } from './steps/resolve-target.ts'
import { mintConnectLink, type ConnectUrlOptions } from './connect-links.ts'
import { atOrgOrigin, frontdoorUrl, type FrontdoorOptions } from './frontdoor.ts'
import { jsforceConnection, type JsforceOptions } from './jsforce-connection.ts'
import { toResponse } from './to-response.ts'
import type { CalloutOptions, CalloutResponse } from './types.ts'

/**
 * `broker.fetch` options: the WHATWG `RequestInit` plus the callout options.
 *
 * @example
 * await broker.fetch('callout:Api/items', { method: 'POST', body: JSON.stringify(item), user: 'alice' })
 */
export type CalloutRequestInit = Omit<RequestInit, 'body' | 'headers'> & {
  readonly body?: CallerBody
  readonly headers?: CallerHeaders | RequestInit['headers']
} & CalloutOptions

/**
 * `broker.request` options, in undici's `request` shape.
 *
 * @example
 * const { statusCode, body } = await broker.request('callout:Api/items', { method: 'GET' })
 */
export interface CalloutRequestOptions extends CalloutOptions {
  readonly method?: string
  readonly headers?: CallerHeaders
  readonly body?: CallerBody
  readonly signal?: AbortSignal
}

/**
 * Options of {@link Broker.revoke}.
 *
 * @example
 * await broker.revoke('Support', { user: 'alice' })
 */
export interface RevokeOptions {
  /** The end user, for a per-user principal. */
  readonly user?: string
  /** The principal, when the ExternalCredential has several. */
  readonly principal?: string
  /** Remove the stored tokens even when the revocation request fails. */
  readonly force?: boolean
  /**
   * An audit entry (the console, the admin API and `callout revoke` pass one), made from the
   * outcome at the authorization server and written in the same transaction as the removal of
   * the tokens; asked for only when tokens are removed. When that transaction fails after the
   * server revoked the tokens, they stay stored (useless) and the store's error is thrown with
   * `details.reason` `removal-failed`.
   */
  readonly audit?: RevokeTokensOptions['audit']
}

/**
 * What {@link Broker.revoke} did (see {@link Revocation}); never a token.
 *
 * @example
 * const { provider, removedLocally, message } = await broker.revoke('Salesforce')
 */
export type RevokeResult = Revocation & { readonly namedCredential: string }

/** Events a broker emits (see {@link TokenEvents}). */
export type BrokerEvents = TokenEvents

/** What a {@link Broker} is assembled from (see `openBroker`). */
export interface BrokerParts {
  readonly store: Store
  /** Close the store on `broker.close()`. */
  readonly ownsStore: boolean
  readonly definitions: Definitions
  readonly tokens: TokenManager
  readonly authenticators: Authenticators
  readonly dispatchers: Dispatchers
  readonly clock: Clock
  readonly logger: Logger
  readonly access?: AccessPolicy
  /** The origin of the setup console, for connect links (`openBroker({ consoleUrl })`). */
  readonly consoleUrl?: string
}

/**
 * The broker: authenticated outbound HTTP by credential name. Create one with `openBroker()`.
 *
 * @example
 * const broker = await openBroker()
 * const res = await broker.fetch('callout:Salesforce/services/data/v61.0/')
 * console.log(await res.json())
 * await broker.close()
 */
export class Broker {
  readonly #parts: BrokerParts
  readonly #pipeline: CalloutPipeline
  /** The same pipeline over {@link atOrgOrigin} definitions, for the UI Bridge request. */
  readonly #originPipeline: CalloutPipeline
  #definitions: Definitions
  #closed = false

  constructor(parts: BrokerParts) {
    this.#parts = parts
    this.#definitions = parts.definitions
    const deps = {
      definitions: () => this.#definitions,
      tokens: parts.tokens,
      authenticators: parts.authenticators,
      dispatchers: parts.dispatchers,
      access: parts.access ?? allowAll,
    }
    this.#pipeline = new CalloutPipeline(deps)
    this.#originPipeline = new CalloutPipeline({
      ...deps,
      definitions: () => atOrgOrigin(this.#definitions),
    })
  }

  /** The store this broker reads and writes. */
  get store(): Store {
    return this.#parts.store
  }

  /** The definitions in use (replaced atomically by `apply` and `reload`). */
  get definitions(): Definitions {
    return this.#definitions
  }

  /**
   * Calls `callout:Name/path?query` with the Named Credential's URL and authentication and
   * returns a WHATWG `Response`. A 401 refreshes the token once and retries once; trusted
   * redirects are followed. Failures are `CalloutError`s with stable codes.
   *
   * @example
   * const res = await broker.fetch('callout:Salesforce/services/data/v61.0/query?q=SELECT+Id+FROM+Account')
   * if (res.headers.has('callout-advice')) console.warn(res.headers.get('callout-advice'))
   */
  async fetch(input: string | URL, init: CalloutRequestInit = {}): Promise<Response> {
    this.#assertOpen()
    const request = normalizeRequestSync(init) ?? (await normalizeRequest(init))
    const res = await this.#pipeline.run(input, withSignal(request, init.signal ?? undefined), init)
    return toResponse(res, request.method)
  }

  /**
   * The fast path in undici's `request` shape: `{ statusCode, headers, body }` where `body` has
   * `json()`, `text()`, `arrayBuffer()` and `dump()`. Consume or dump every body.
   *
   * @example
   * const { statusCode, body } = await broker.request('callout:Api/items', { user: 'alice' })
   * const items = await body.json()
   */
  request(input: string | URL, options: CalloutRequestOptions = {}): Promise<CalloutResponse> {
    // Not `async`: with nothing asynchronous to normalise, the pipeline's own promise is returned
    // (one promise and no extra microtask turns per call). Errors still arrive as rejections.
    try {
      this.#assertOpen()
      const request = normalizeRequestSync(options)
      if (request === undefined) return this.#requestSlow(input, options)
      return this.#pipeline.run(input, withSignal(request, options.signal), options)
    } catch (error) {
      return Promise.reject(error as Error)
    }
  }

  /**
   * For `callout serve`'s fast path: the first exchange of {@link request} prepared at once —
   * where to send, with the authenticated headers — for a callout without a body on a cached token
   * whose steps need nothing asynchronous; `undefined` otherwise (then call `request`).
   *
   * @internal
   */
  prepareNow(input: string, options: CalloutRequestOptions): Exchange | undefined {
    if (this.#closed || options.body !== undefined) return undefined
    let request
    try {
      request = normalizeRequestSync(options)
    } catch {
      return undefined
    }
    if (request === undefined) return undefined
    return this.#pipeline.prepareNow(input, withSignal(request, options.signal), options)
  }

  /**
   * {@link request} continued from the answer a prepared exchange already received: after a
   * rejected token (`exchange.token`) it refreshes once (as the pipeline does on a 401) and sends
   * the callout with the new token; after a redirect the pipeline follows, it sends the next hop.
   *
   * @internal
   */
  requestAfter(
    input: string,
    options: CalloutRequestOptions,
    received: Received,
  ): Promise<CalloutResponse> {
    try {
      this.#assertOpen()
      const request = normalizeRequestSync(options)
      if (request === undefined || request.body !== undefined) return this.request(input, options)
      return this.#pipeline.run(input, withSignal(request, options.signal), options, received)
    } catch (error) {
      return Promise.reject(error as Error)
    }
  }

  /** `request` with a body only the platform can serialise (Blob, FormData). */
  async #requestSlow(
    input: string | URL,
    options: CalloutRequestOptions,
  ): Promise<CalloutResponse> {
    const request = await normalizeRequest(options)
    return this.#pipeline.run(input, withSignal(request, options.signal), options)
  }

  /**
   * The status of every Named Credential (or one): protocol, flow and per principal its status,
   * "Authenticated as <username>", expiry and last error. Never tokens. `user` narrows per-user
   * principals to that end user's connection.
   *
   * @example
   * const [sf] = await broker.status('Salesforce')
   * console.log(sf.principals[0]?.summary) // 'Authenticated as admin@acme.example'
   */
  status(name?: string, options: { user?: string } = {}): Promise<StatusReport[]> {
    if (this.#closed) return Promise.reject(closedError())
    return buildStatusReports(this.#definitions, this.#parts.store, name, {
      now: this.#parts.clock.now(),
      ...options,
    })
  }

  /**
   * Obtains a token now for a Named Credential whose flow needs no browser (client credentials,
   * JWT bearer, password) — a real token request, even when a stored token is still valid, so a
   * wrong secret or key fails here — or checks the stored one for the browser flow, and returns
   * its status. Use it to surface configuration problems before the first callout (`callout
   * auth`). `fresh: false` accepts a cached or stored token that is still valid. Protocols without
   * tokens (none, basic, custom, jwt, aws-sigv4) only report their status. `audit` (the admin API
   * passes one) is asked for, and written in the same transaction, only when the token request
   * stores a token: both are stored or neither.
   *
   * @example
   * const report = await broker.authenticate('Target')
   * console.log(report.principals[0]?.summary) // 'Authenticated as integration@target.example'
   */
  async authenticate(
    name: string,
    options: {
      user?: string
      principal?: string
      fresh?: boolean
      audit?: (obtained: {
        readonly namedCredential: string
        readonly credential: PrincipalCredential
      }) => AuditRecord
    } = {},
  ): Promise<StatusReport> {
    this.#assertOpen()
    const target = resolveTarget(this.#definitions, `callout:${name}`, options)
    if (target.kind === 'credential' && target.externalCredential.protocol === 'oauth2') {
      const fresh = options.fresh !== false && target.externalCredential.flow !== 'browser'
      const { audit } = options
      await this.#parts.tokens.getToken(grantContextFor(target), {
        fresh,
        ...(audit === undefined || !fresh
          ? {}
          : {
              audit: (credential: PrincipalCredential) =>
                audit({ namedCredential: target.namedCredential.name, credential }),
            }),
      })
    }
    const [report] = await this.status(
      name,
      options.user === undefined ? {} : { user: options.user },
    )
    return report!
  }

  /**
   * Revokes a principal's tokens at the authorization server (RFC 7009; Salesforce's
   * `/services/oauth2/revoke`) and removes them from the store: the refresh token when one is
   * stored (which revokes its access tokens too), else the access token. A `browser` principal is
   * then `needs-reauth` — its next callout fails with `NEEDS_REAUTH` and the advice to
   * re-authenticate — in every process sharing the store. A minting flow (client credentials,
   * JWT bearer) obtains a new token at its next callout.
   *
   * Without a revocation endpoint on the AuthProvider (`revokeUrl` or discovery's
   * `revocation_endpoint`) the tokens are removed locally and `provider` is `'no-endpoint'`.
   * When the revocation request fails (unreachable, 5xx, refused) the tokens are kept and
   * `REVOCATION_FAILED` is thrown; pass `force: true` to remove them locally anyway (`provider`
   * is then `'failed'`; the server may accept them until they expire).
   *
   * @example
   * const result = await broker.revoke('Salesforce')
   * console.log(result.message) // 'The refresh token of principal … was revoked …'
   * await broker.revoke('Support', { user: 'alice', force: true })
   * @see https://www.rfc-editor.org/rfc/rfc7009
   */
  async revoke(name: string, options: RevokeOptions = {}): Promise<RevokeResult> {
    this.#assertOpen()
    const target = resolveTarget(this.#definitions, `callout:${name}`, {
      ...(options.user === undefined ? {} : { user: options.user }),
      ...(options.principal === undefined ? {} : { principal: options.principal }),
    })
    if (target.kind !== 'credential' || target.externalCredential.protocol !== 'oauth2') {
      const protocol =
        target.kind === 'credential' ? target.externalCredential.protocol : 'no credential'
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `Named Credential ${name} uses ${protocol}; only oauth2 credentials have tokens to revoke.`,
        { details: { namedCredential: name } },
      )
    }
    const revocation = await this.#parts.tokens.revoke(grantContextFor(target), {
      ...(options.force === undefined ? {} : { force: options.force }),
      ...(options.audit === undefined ? {} : { audit: options.audit }),
    })
    return { ...revocation, namedCredential: target.namedCredential.name }
  }

  /**
   * A jsforce `Connection` for a Salesforce Named Credential whose session refresh goes through
   * the broker (single-flight, leases across processes, rotated refresh tokens stored; a refresh
   * loop stops with `REFRESH_LOOP`). Needs the optional `jsforce` package. Typed `unknown` so that
   * Callout does not depend on jsforce's types: cast to `import('jsforce').Connection`.
   *
   * @example
   * const conn = (await broker.jsforce('Target')) as import('jsforce').Connection
   * const { records } = await conn.query('SELECT Id, Name FROM Account')
   */
  jsforce(name: string, options: JsforceOptions = {}): Promise<unknown> {
    return jsforceConnection(
      { definitions: this.#definitions, tokens: this.#parts.tokens, clock: this.#parts.clock },
      name,
      options,
    )
  }

  /**
   * A single-use frontdoor URL that logs a browser into the Salesforce org of a Named Credential
   * and lands on `path` (Salesforce's UI Bridge API, `POST /services/oauth2/singleaccess`): the
   * browser gets a one-time link, never the access token. The request goes through the callout
   * pipeline, to the org's origin whatever path the Named Credential's URL has, so a rejected
   * token is refreshed once and the request retried once. The URL is a
   * login link: hand it to one browser at once and never log it (Callout does not).
   *
   * Errors: `FRONTDOOR_NOT_SALESFORCE` (not an oauth2 Named Credential with a `salesforce`
   * AuthProvider), `FRONTDOOR_SCOPE_MISSING` (neither `web` nor `full` in the scopes),
   * `FRONTDOOR_PATH_INVALID` (not a path on the org), `USER_REQUIRED` (a per-user principal
   * without `user`), `FRONTDOOR_FAILED` (the org answered without a URL).
   *
   * @example
   * const url = await broker.frontdoorUrl('Target', { path: `/lightning/r/Account/${id}/edit` })
   * res.redirect(303, url) // the user lands on the edit page, already logged in
   */
  frontdoorUrl(name: string, options: FrontdoorOptions): Promise<string> {
    if (this.#closed) return Promise.reject(closedError())
    return frontdoorUrl(
      {
        definitions: this.#definitions,
        fetch: async (input, init) => {
          this.#assertOpen()
          const request = normalizeRequestSync(init) ?? (await normalizeRequest(init))
          return toResponse(await this.#originPipeline.run(input, request, init), request.method)
        },
      },
      name,
      options,
    )
  }

  /**
   * Starts the browser flow for a Named Credential: returns the authorization URL and its state.
   * For a per-user principal pass the user of the session that starts it; the flow is bound to
   * that user. Keep `state` in the caller's session and pass it back to
   * {@link Broker.completeAuthorization} (RFC 6749 §10.12).
   *
   * @example
   * const { url } = await broker.authorizeUrl('Salesforce', { redirectUri: 'http://localhost:8787/oauth/callback' })
   */
  authorizeUrl(
    name: string,
    options: AuthorizeUrlOptions,
  ): Promise<{ url: string; state: string }> {
    if (this.#closed) return Promise.reject(closedError())
    return startAuthorization(this.#definitions, name, options, this.#authorizationDeps())
  }

  /**
   * Completes the browser flow from the callback URL (or its query parameters) and returns the
   * Named Credential's status. For a per-user principal `options.user` must name the user of the
   * session that received the callback, and it must be the user who started the flow: otherwise
   * it fails with `AUTHORIZATION_USER_MISMATCH` and nothing is stored. `options.state` is the
   * state the session kept from {@link Broker.authorizeUrl}; another state is refused.
   *
   * @example
   * const report = await broker.completeAuthorization(req.url, { user: session.user, state: session.state })
   * console.log(report.principals[0]?.summary)
   */
  async completeAuthorization(
    callback: AuthorizationCallback,
    options: CompleteAuthorizationOptions = {},
  ): Promise<StatusReport> {
    this.#assertOpen()
    const done = await completeAuthorization(
      this.#definitions,
      callback,
      options,
      this.#authorizationDeps(),
    )
    if (done.credential.refreshToken === undefined) {
      this.#parts.logger.warn(
        { namedCredential: done.namedCredential },
        'no refresh token was issued: the scope lacks refresh_token (or offline_access); the credential stops working when the access token expires',
      )
    }
    const [report] = await this.status(
      done.namedCredential,
      done.key.userId === '' ? {} : { user: done.key.userId },
    )
    return report!
  }

  /**
   * Mints a per-user connect link: a short-lived, single-use URL on the setup console of
   * `callout serve` that connects `options.user` to the per-user principal of Named Credential
   * `name`. The user opens it, logs in at the authorization server and approves; the flow is bound
   * to the browser that opened the link. Only the SHA-256 of the link is stored. The URL is an
   * invitation to connect an account: hand it to that user only, and never log it.
   *
   * The console origin comes from `options.consoleUrl`, else `openBroker({ consoleUrl })`, else
   * `CALLOUT_CONSOLE_URL` (the origin given to `callout serve --public-url`). `expiresIn`:
   * seconds, or `90s`, `15m`, `2h`, `1d`; default 15 minutes, at most 24 hours.
   *
   * Errors: `CREDENTIAL_NOT_FOUND`, `USER_REQUIRED` (no user), `INVALID_ARGUMENT` (not an oauth2
   * browser-flow credential with a per-user principal, a lifetime out of range),
   * `CONSOLE_URL_MISSING`.
   *
   * @example
   * const url = await broker.connectUrl('Crm', { user: 'alice', expiresIn: '30m' })
   * await mailer.send(alice, `Connect your Salesforce account: ${url}`)
   */
  async connectUrl(name: string, options: ConnectUrlOptions): Promise<string> {
    this.#assertOpen()
    const consoleUrl = options.consoleUrl ?? this.#parts.consoleUrl
    const minted = await mintConnectLink(
      this.#definitions,
      name,
      { ...options, ...(consoleUrl === undefined ? {} : { consoleUrl }) },
      { store: this.#parts.store, clock: this.#parts.clock },
    )
    return minted.url
  }

  /**
   * Writes definitions to the store (one transaction) and starts using them. `audit` (the
   * console and admin API) is an audit entry written in that same transaction.
   *
   * @example
   * await broker.apply(await loadConfigFile('callout.yaml'))
   */
  async apply(
    defs: Definitions,
    options: { prune?: boolean; audit?: AuditRecord } = {},
  ): Promise<ApplyResult> {
    this.#assertOpen()
    checkFormulas(defs)
    const result = await this.#parts.store.applyDefinitions(defs, options)
    await this.reload()
    // A fixed configuration is tried at once: clear the cooldowns and last errors it may fix.
    const affected = externalCredentialsChangedBy(
      this.#definitions.externalCredentials.values(),
      result,
    )
    if (affected.length > 0) await this.#parts.tokens.definitionsChanged(affected)
    return result
  }

  /**
   * Re-reads definitions from the store (after another process changed them) and forgets cached
   * tokens and cooldowns.
   *
   * @example
   * await broker.reload()
   */
  async reload(): Promise<void> {
    this.#assertOpen()
    const defs = await this.#parts.store.loadDefinitions()
    this.#definitions = defs
    this.#parts.tokens.forget()
    this.#parts.dispatchers.prune(new Set(defs.namedCredentials.keys()))
  }

  /**
   * Listens to broker events: `needs-reauth` (a principal must re-authenticate), `refreshed`,
   * `refresh-failed`. Returns a function that removes the listener. Payloads never carry tokens.
   *
   * @example
   * broker.on('needs-reauth', (e) => alerting.page(`Re-authenticate ${e.namedCredential}`))
   */
  on<K extends TokenEventName>(name: K, listener: (event: BrokerEvents[K]) => void): () => void {
    return this.#parts.tokens.on(name, listener)
  }

  /**
   * Closes connection pools and, when the broker opened it, the store.
   *
   * @example
   * await broker.close()
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#parts.tokens.close()
    await this.#parts.dispatchers.close()
    if (this.#parts.ownsStore) await this.#parts.store.close()
  }

  /** Calls on a closed broker fail with a clear error instead of a pool or driver error. */
  #assertOpen(): void {
    if (this.#closed) throw closedError()
  }

  #authorizationDeps() {
    return { store: this.#parts.store, clock: this.#parts.clock, tokens: this.#parts.tokens }
  }
}

/** The normalised request with the caller's abort signal (the request object is our own). */
function withSignal(request: NormalizedRequest, signal: AbortSignal | undefined): PipelineRequest {
  if (signal === undefined) return request
  return { ...request, signal }
}

function closedError(): CalloutError {
  return new CalloutError(
    'BROKER_CLOSED',
    'This broker has been closed (broker.close()); open a new one with openBroker().',
  )
}
