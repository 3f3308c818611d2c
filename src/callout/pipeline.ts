import type { Definitions } from '../definitions/model.ts'
import { DEFAULTS } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import type { Secret } from '../secrets/secret.ts'
import type { ActiveCredential, GrantContext } from '../tokens/types.ts'
import type { Dispatcher } from 'undici'
import type { Dispatchers } from './dispatchers.ts'
import { apiOrigin, needsInstanceOrigin } from './steps/api-origin.ts'
import { startDeadline } from './steps/deadline.ts'
import { authenticate, authenticateNow, type Authenticators } from './steps/authenticate.ts'
import { checkAccessNow, type AccessPolicy } from './steps/check-access.ts'
import { trustedInstanceOrigin, untrustedInstance } from './steps/instance-trust.ts'
import {
  effectivePort,
  redirectDecision,
  type FollowedRedirect,
  type RedirectTrust,
} from './steps/redirects.ts'
import {
  ADVICE_HEADER,
  refreshVerdict,
  refreshVerdictNow,
  refreshVerdictOfText,
} from './steps/refresh-trigger.ts'
import { grantContextFor, ResolvedTargets } from './steps/resolve-target.ts'
import { send, type SendOptions } from './steps/send.ts'
import { placeSessionId, type SessionIdPlacement } from './steps/session-id.ts'
import { stripCallerAuth } from './steps/strip-caller-auth.ts'
import type {
  CalloutOptions,
  CalloutResponse,
  CalloutTarget,
  CredentialTarget,
  OutboundBody,
  OutboundRequest,
} from './types.ts'
import { loginOrUiHostRedirectAdvice } from '../providers/salesforce-advice.ts'

/** The token operations the pipeline needs (a `TokenManager` satisfies it). */
export interface PipelineTokens {
  getToken(ctx: GrantContext): Promise<ActiveCredential>
  /**
   * Optional: the credential `getToken` would return at once from its cache (same freshness
   * rule), or `undefined`; lets a callout on a cached token skip a promise. See
   * `TokenManager.peekToken`.
   */
  peekToken?(ctx: GrantContext): ActiveCredential | undefined
  invalidate(ctx: GrantContext, rejectedToken: Secret): Promise<ActiveCredential>
  /**
   * Optional: advice when a rejected token should not be refreshed (see
   * `TokenManager.refreshAdvice`); the response is then returned with that advice.
   */
  refreshAdvice?(ctx: GrantContext, rejectedToken: Secret): string | undefined
  /** Optional: the token a refresh just obtained was rejected too (see `refreshAdvice`). */
  refreshWasted?(ctx: GrantContext, token: Secret): void
}

/** What the pipeline is built from. */
export interface PipelineDeps {
  /** The current definitions (swapped atomically on apply/reload). */
  readonly definitions: () => Definitions
  readonly tokens: PipelineTokens
  readonly authenticators: Authenticators
  readonly dispatchers: Dispatchers
  readonly access: AccessPolicy
}

/** The caller's request after `normalizeRequest`. */
export interface PipelineRequest {
  readonly method: string
  readonly headers: Record<string, string>
  readonly body: OutboundBody
  readonly signal?: AbortSignal | undefined
}

const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
]

/**
 * An answer the proxy's fast path already received for a prepared {@link Exchange}, for
 * {@link CalloutPipeline.run} to continue from instead of sending the request again: `rejected` —
 * the answer rejected this token (refresh at once, then send: the send is the retry);
 * `redirected` — a redirect the pipeline follows ({@link Exchange.redirect}: the next hop is the
 * first request sent).
 */
export type Received =
  | { readonly rejected: Secret }
  | { readonly redirected: { readonly status: number; readonly next: FollowedRedirect } }

/** A resolved target with what the pipeline derives from it once per definitions snapshot. */
interface Prepared {
  readonly target: CalloutTarget
  /** The token manager's context (oauth2 credentials only). */
  readonly ctx: GrantContext | undefined
  readonly sendOptions: SendOptions
}

function prepare(target: CalloutTarget): Prepared {
  if (target.kind === 'plain') {
    return {
      target,
      ctx: undefined,
      sendOptions: { timeoutMs: DEFAULTS.timeoutMs, target: target.url.origin },
    }
  }
  const nc = target.namedCredential
  const ctx = target.externalCredential.protocol === 'oauth2' ? grantContextFor(target) : undefined
  return { target, ctx, sendOptions: { timeoutMs: nc.timeoutMs, target: nc.name } }
}

/** The send options of one run: the prepared ones, with the total deadline when one applies. */
function withDeadline(prepared: Prepared, options: CalloutOptions): SendOptions {
  const target = prepared.target
  const definitionMs = target.kind === 'plain' ? undefined : target.namedCredential.deadlineMs
  if (definitionMs === undefined && options.deadlineMs === undefined) return prepared.sendOptions
  const deadline = startDeadline(definitionMs, options.deadlineMs)
  return deadline === undefined ? prepared.sendOptions : { ...prepared.sendOptions, deadline }
}

function isStream(body: OutboundBody): boolean {
  return typeof body === 'object' && !(body instanceof Uint8Array)
}

function notReplayable(target: string, why: string): CalloutError {
  return new CalloutError(
    'BODY_NOT_REPLAYABLE',
    `The request to ${target} must be sent again (${why}) but its body is a stream; pass the body as a string or bytes to allow the retry.`,
    { details: { target, reason: why } },
  )
}

/**
 * The request pipeline shared by `broker.fetch`, `broker.request` and the proxy (DESIGN §4):
 * resolve → access check → strip caller credentials → authenticate → send → on 401 refresh once
 * and retry once → follow trusted redirects → typed errors. Each step is its own module.
 *
 * @example
 * const pipeline = new CalloutPipeline(deps)
 * const res = await pipeline.run('callout:Api/users', await normalizeRequest(init), { user: 'alice' })
 */
export class CalloutPipeline {
  readonly #deps: PipelineDeps
  /** Resolved targets per definitions snapshot (invalidated when the snapshot is replaced). */
  readonly #targets = new ResolvedTargets(prepare)

  constructor(deps: PipelineDeps) {
    this.#deps = deps
  }

  // Not `async`, and the steps are called through their synchronous forms where they have
  // nothing to wait for (access policy, cached token, authentication, refresh verdict): each
  // `await` of a value that is already there still costs a promise and a microtask turn.
  // Failures are still delivered as rejections, never thrown.
  run(
    input: string | URL,
    request: PipelineRequest,
    options: CalloutOptions = {},
    received?: Received,
  ): Promise<CalloutResponse> {
    try {
      const prepared = this.#targets.get(this.#deps.definitions(), input, options)
      const sendOptions = withDeadline(prepared, options)
      const pending = checkAccessNow(prepared.target, this.#deps.access, options.client)
      const placement = options.sessionId
      if (pending !== undefined) {
        return pending.then(() =>
          this.#dispatch(prepared, sendOptions, request, placement, received),
        )
      }
      return this.#dispatch(prepared, sendOptions, request, placement, received)
    } catch (error) {
      return Promise.reject(error as Error)
    }
  }

  #dispatch(
    prepared: Prepared,
    sendOptions: SendOptions,
    request: PipelineRequest,
    placement: SessionIdPlacement | undefined,
    received: Received | undefined,
  ): Promise<CalloutResponse> {
    stripCallerAuth(request.headers) // mutates the pipeline's own (normalised) headers
    const target = prepared.target
    if (target.kind === 'plain') {
      return send(
        this.#deps.dispatchers.for(undefined),
        outboundOf(request, request.method, target.url, request.headers, request.body),
        sendOptions,
      )
    }
    return this.#runCredential(target, prepared, sendOptions, request, placement, received)
  }

  /**
   * The first exchange of {@link run} prepared without a promise, for the proxy's fast path
   * (`callout serve`): the same resolution, access check, token and authentication as `run`, for a
   * request without a body on a Named Credential whose token is cached and whose authentication
   * needs nothing asynchronous. `undefined` whenever any of that does not hold or a step fails —
   * `run` then does the work (and reports the failure) as usual.
   */
  prepareNow(
    input: string,
    request: PipelineRequest,
    options: CalloutOptions,
  ): Exchange | undefined {
    if (request.body !== undefined || options.sessionId !== undefined) return undefined
    if (options.deadlineMs !== undefined) return undefined
    try {
      const prepared = this.#targets.get(this.#deps.definitions(), input, options)
      const target = prepared.target
      if (target.kind === 'plain' || target.namedCredential.deadlineMs !== undefined)
        return undefined
      if (checkAccessNow(target, this.#deps.access, options.client) !== undefined) return undefined
      const ctx = prepared.ctx
      const credential = ctx === undefined ? undefined : this.#deps.tokens.peekToken?.(ctx)
      if (ctx !== undefined && credential === undefined) return undefined
      stripCallerAuth(request.headers)
      const url = apiUrl(target, credential)
      const outbound = outboundOf(request, request.method, url, request.headers, undefined)
      const authed = authenticateNow(target, outbound, credential, this.#deps.authenticators)
      if (authed === undefined || authed.body !== undefined) return undefined
      return new Exchange(
        target,
        ctx === undefined ? undefined : this.#deps.tokens,
        ctx,
        credential,
        this.#deps.dispatchers.for(target.namedCredential),
        authed.url,
        authed.headers,
        request.method,
      )
    } catch {
      return undefined
    }
  }

  async #runCredential(
    target: CredentialTarget,
    prepared: Prepared,
    sendOptions: SendOptions,
    request: PipelineRequest,
    placement: SessionIdPlacement | undefined,
    received: Received | undefined,
  ): Promise<CalloutResponse> {
    const nc = target.namedCredential
    const tokens = this.#deps.tokens
    const ctx = prepared.ctx
    let credential =
      ctx === undefined ? undefined : (tokens.peekToken?.(ctx) ?? (await tokens.getToken(ctx)))
    let url = apiUrl(target, credential)
    const dispatcher = this.#deps.dispatchers.for(nc)
    const authenticators = this.#deps.authenticators
    let method = request.method
    let headers = request.headers
    let body = request.body
    let refreshed = false
    // The fast path already received this callout's first answer (`received`): a rejected token
    // is refreshed at once, then the request sent (the send is the retry); a redirect the pipeline
    // follows continues with its next hop (the first hop is spent: `maxRedirects` counts it).
    let retry = false
    let first = 0
    if (received !== undefined && 'rejected' in received) {
      const rejected = received.rejected
      if (
        ctx !== undefined &&
        !isStream(body) &&
        tokens.refreshAdvice?.(ctx, rejected) === undefined
      ) {
        refreshed = retry = true
        credential = await tokens.invalidate(ctx, rejected)
        url = apiUrl(target, credential)
      }
    } else if (received !== undefined) {
      const { status, next } = received.redirected
      ;({ headers, body } = nextHop(nc.name, status, next, headers, body))
      method = next.method
      url = next.url
      first = 1
    }
    for (let hop = first; ; hop++) {
      const outbound = outboundOf(request, method, url, headers, body)
      const authed =
        authenticateNow(target, outbound, credential, authenticators) ??
        (await authenticate(target, outbound, credential, authenticators))
      let res = await send(
        dispatcher,
        placement === undefined ? authed : placeSessionId(authed, placement),
        sendOptions,
      )
      if (retry && ctx !== undefined && credential !== undefined) {
        retry = false
        if (refreshRejected(res, target)) tokens.refreshWasted?.(ctx, credential.accessToken)
      }
      if (ctx !== undefined && credential !== undefined && !refreshed) {
        const verdict = refreshVerdictNow(res, target) ?? (await refreshVerdict(res, target))
        res = verdict.response
        if (verdict.action === 'advise' && verdict.advice !== undefined) {
          return withHeader(res, ADVICE_HEADER, verdict.advice)
        }
        const declined =
          verdict.action === 'refresh'
            ? tokens.refreshAdvice?.(ctx, credential.accessToken)
            : undefined
        if (declined !== undefined) return withHeader(res, ADVICE_HEADER, declined)
        if (verdict.action === 'refresh') {
          refreshed = true
          await res.body.dump()
          credential = await tokens.invalidate(ctx, credential.accessToken)
          if (isStream(body))
            throw notReplayable(nc.name, `retry after a ${res.statusCode} and a token refresh`)
          // The refresh may have moved the API origin (Salesforce instance_url).
          if (hop === 0) url = apiUrl(target, credential)
          const retry: OutboundRequest = { ...outbound, url }
          const reauthed = await authenticate(target, retry, credential, authenticators)
          res = await send(
            dispatcher,
            placement === undefined ? reauthed : placeSessionId(reauthed, placement),
            sendOptions,
          )
          if (refreshRejected(res, target)) tokens.refreshWasted?.(ctx, credential.accessToken)
        }
      }
      if (res.statusCode < 300 || res.statusCode > 399) return res
      const decision = redirectDecision(
        res.statusCode,
        res.headers.location,
        url,
        method,
        redirectTrust(target, credential),
      )
      if (!decision.follow) {
        const advice = redirectAdvice(res.statusCode, target)
        return advice === undefined ? res : withHeader(res, ADVICE_HEADER, advice)
      }
      if (hop >= DEFAULTS.maxRedirects) {
        await res.body.dump()
        throw new CalloutError(
          'TOO_MANY_REDIRECTS',
          `${nc.name} redirected more than ${DEFAULTS.maxRedirects} times; check the Named Credential URL, or set redirects: manual to handle them yourself.`,
          { details: { namedCredential: nc.name } },
        )
      }
      await res.body.dump()
      ;({ headers, body } = nextHop(nc.name, res.statusCode, decision, headers, body))
      method = decision.method
      url = decision.url
    }
  }
}

/**
 * The advice on a redirect the pipeline returns (not followed): for a Named Credential that names
 * a Salesforce login or Lightning host, why its callouts belong on the instance origin.
 */
function redirectAdvice(status: number, target: CredentialTarget): string | undefined {
  if (status < 300 || status > 399) return undefined
  if (!needsInstanceOrigin(target.namedCredential, target.provider)) return undefined
  return loginOrUiHostRedirectAdvice(target.namedCredential.name)
}

/**
 * The next hop's headers and body after a followed redirect: without the body and its headers
 * when the redirect drops them (303, a 301/302 POST); a streamed body cannot be sent again.
 */
function nextHop(
  name: string,
  status: number,
  next: FollowedRedirect,
  headers: Record<string, string>,
  body: OutboundBody,
): { headers: Record<string, string>; body: OutboundBody } {
  if (next.dropBody) {
    const kept = { ...headers }
    for (const header of BODY_HEADERS) delete kept[header]
    return { headers: kept, body: undefined }
  }
  if (isStream(body) && body !== undefined) throw notReplayable(name, `redirect ${status}`)
  return { headers, body }
}

/**
 * One exchange {@link CalloutPipeline.prepareNow} prepared: where and what to send, and what the
 * pipeline would do with the answer before returning it.
 */
export class Exchange {
  readonly #target: CredentialTarget
  readonly #tokens: PipelineTokens | undefined
  readonly #ctx: GrantContext | undefined
  readonly #credential: ActiveCredential | undefined
  readonly #url: URL
  /** The token sent, for OAuth 2.0 credentials. */
  readonly token: Secret | undefined
  readonly dispatcher: Dispatcher
  readonly origin: string
  /** Path and query. */
  readonly path: string
  readonly method: string
  /** The authenticated request headers (secret: never log them). */
  readonly headers: Record<string, string>

  constructor(
    target: CredentialTarget,
    tokens: PipelineTokens | undefined,
    ctx: GrantContext | undefined,
    credential: ActiveCredential | undefined,
    dispatcher: Dispatcher,
    url: URL,
    headers: Record<string, string>,
    method: string,
  ) {
    this.#target = target
    this.#tokens = tokens
    this.#ctx = ctx
    this.#credential = credential
    this.#url = url
    this.token = credential?.accessToken
    this.dispatcher = dispatcher
    this.origin = url.origin
    this.path = `${url.pathname}${url.search}`
    this.method = method
    this.headers = headers
  }

  /** The Named Credential's name. */
  get namedCredential(): string {
    return this.#target.namedCredential.name
  }

  /** The Named Credential's timeout: for the answer's headers, and between body chunks. */
  get timeoutMs(): number {
    return this.#target.namedCredential.timeoutMs
  }

  /**
   * What the pipeline does with an answer of `status` before returning it: `pass` — nothing;
   * `inspect` — it decides from the body whether the token was rejected ({@link verdict}), then,
   * for a 3xx, whether to follow it ({@link redirect}); `redirect` — it decides whether to follow
   * it ({@link redirect}).
   */
  intercept(status: number): 'pass' | 'inspect' | 'redirect' {
    if (this.token !== undefined) {
      const trigger =
        status === 401 ||
        this.#target.externalCredential.additionalRefreshStatusCodes.includes(status) ||
        (status === 500 && this.#target.provider?.type === 'salesforce')
      if (trigger) return 'inspect'
    }
    return status >= 300 && status <= 399 ? 'redirect' : 'pass'
  }

  /**
   * The pipeline's decision on a redirect answer (`status`, its `Location` as undici parses it),
   * by the rules of its redirect step: `follow` — continue with {@link CalloutPipeline.run} from
   * `received` (it sends the next hop; the redirect's body is not needed); `pass` — return it as
   * it is, with `advice` when the pipeline adds some (a Salesforce login or Lightning host).
   */
  redirect(
    status: number,
    location: string | string[] | undefined,
  ):
    | { readonly action: 'follow'; readonly received: Received }
    | { readonly action: 'pass'; readonly advice: string | undefined } {
    const trust = redirectTrust(this.#target, this.#credential)
    const next = redirectDecision(status, location, this.#url, this.method, trust)
    if (!next.follow) return { action: 'pass', advice: redirectAdvice(status, this.#target) }
    return { action: 'follow', received: { redirected: { status, next } } }
  }

  /**
   * The pipeline's verdict on an inspected answer (its body's first
   * `INSPECT_BODY_LIMIT_BYTES` (64 KiB) bytes as `text`): `refresh` — send it through the pipeline
   * with {@link token} as the rejected token; `advise` — return it with this `callout-advice`;
   * `none` — return it as it is.
   */
  verdict(
    status: number,
    text: string,
  ):
    | { readonly action: 'refresh' | 'none' }
    | { readonly action: 'advise'; readonly advice: string } {
    const verdict = refreshVerdictOfText(status, text, this.#target)
    if (verdict.action === 'advise' && verdict.advice !== undefined) {
      return { action: 'advise', advice: verdict.advice }
    }
    if (verdict.action !== 'refresh') return { action: 'none' }
    const ctx = this.#ctx
    const token = this.token
    const declined =
      ctx === undefined || token === undefined
        ? undefined
        : this.#tokens?.refreshAdvice?.(ctx, token)
    return declined === undefined ? { action: 'refresh' } : { action: 'advise', advice: declined }
  }
}

/**
 * The URL a callout goes to: the resolved URL, on the token's `instance_url` origin when the
 * Named Credential names a Salesforce login or Lightning host — refused when that instance is not
 * trusted (`trustedInstanceHosts`).
 */
function apiUrl(target: CredentialTarget, credential: ActiveCredential | undefined): URL {
  const nc = target.namedCredential
  const instanceUrl = credential?.instanceUrl
  if (
    instanceUrl !== undefined &&
    target.provider !== undefined &&
    needsInstanceOrigin(nc, target.provider) &&
    trustedInstanceOrigin(target.provider, instanceUrl) === undefined
  ) {
    throw untrustedInstance(nc.name, target.provider, instanceUrl)
  }
  return apiOrigin(target.url, nc, target.provider, instanceUrl)
}

/**
 * Where a redirect may take the credential (DESIGN §4 step 5): under the Named Credential's base
 * path on its origin and on a trusted Salesforce `instance_url` origin, and to `allowedHosts`.
 */
function redirectTrust(
  target: CredentialTarget,
  credential: ActiveCredential | undefined,
): RedirectTrust {
  const nc = target.namedCredential
  const base = new URL(nc.url)
  const basePath = base.pathname.replace(/\/+$/, '')
  const places = [{ origin: base.origin, basePath }]
  const instance = trustedInstanceOrigin(target.provider, credential?.instanceUrl)
  if (instance !== undefined && instance !== base.origin)
    places.push({ origin: instance, basePath })
  return {
    policy: nc.redirects,
    places,
    outsideBasePath: nc.allowRedirectsOutsideBasePath,
    allowedHosts: nc.allowedHosts,
    defaultPort: effectivePort(base),
  }
}

function outboundOf(
  request: PipelineRequest,
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: OutboundBody,
): OutboundRequest {
  const signal = request.signal
  return signal === undefined
    ? { method, url, headers, body }
    : { method, url, headers, body, signal }
}

function withHeader(res: CalloutResponse, name: string, value: string): CalloutResponse {
  return { ...res, headers: { ...res.headers, [name]: value } }
}

/** The retried response rejects the new token too (by status: 401 or an extra refresh status). */
function refreshRejected(res: CalloutResponse, target: CredentialTarget): boolean {
  const status = res.statusCode
  return status === 401 || target.externalCredential.additionalRefreshStatusCodes.includes(status)
}
