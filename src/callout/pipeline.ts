import type { Definitions } from '../definitions/model.ts'
import { DEFAULTS } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import type { Secret } from '../secrets/secret.ts'
import type { ActiveCredential, GrantContext } from '../tokens/types.ts'
import type { Dispatchers } from './dispatchers.ts'
import { apiOrigin, needsInstanceOrigin } from './steps/api-origin.ts'
import { authenticate, type Authenticators } from './steps/authenticate.ts'
import { checkAccess, type AccessPolicy } from './steps/check-access.ts'
import { redirectDecision, type RedirectTrust } from './steps/redirects.ts'
import { ADVICE_HEADER, refreshVerdict } from './steps/refresh-trigger.ts'
import { resolveTarget } from './steps/resolve-target.ts'
import { send } from './steps/send.ts'
import { stripCallerAuth } from './steps/strip-caller-auth.ts'
import type {
  CalloutOptions,
  CalloutResponse,
  CredentialTarget,
  OutboundBody,
  OutboundRequest,
} from './types.ts'

/** The token operations the pipeline needs (a `TokenManager` satisfies it). */
export interface PipelineTokens {
  getToken(ctx: GrantContext): Promise<ActiveCredential>
  invalidate(ctx: GrantContext, rejectedToken: Secret): Promise<ActiveCredential>
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

  constructor(deps: PipelineDeps) {
    this.#deps = deps
  }

  async run(
    input: string | URL,
    request: PipelineRequest,
    options: CalloutOptions = {},
  ): Promise<CalloutResponse> {
    const target = resolveTarget(this.#deps.definitions(), input, options)
    await checkAccess(target, this.#deps.access, options.client)
    const headers = stripCallerAuth(request.headers)
    if (target.kind === 'plain') {
      return send(
        this.#deps.dispatchers.for(undefined),
        {
          method: request.method,
          url: target.url,
          headers,
          body: request.body,
          ...signalOf(request),
        },
        { timeoutMs: DEFAULTS.timeoutMs, target: target.url.origin },
      )
    }
    return this.#runCredential(target, { ...request, headers })
  }

  async #runCredential(
    target: CredentialTarget,
    request: PipelineRequest,
  ): Promise<CalloutResponse> {
    const nc = target.namedCredential
    const ec = target.externalCredential
    const tokens = this.#deps.tokens
    const ctx: GrantContext | undefined =
      ec.protocol === 'oauth2'
        ? {
            ec,
            principal: target.principal,
            userId: target.userId,
            namedCredential: nc.name,
            ...(target.provider === undefined ? {} : { provider: target.provider }),
          }
        : undefined
    let credential = ctx === undefined ? undefined : await tokens.getToken(ctx)
    let url = apiOrigin(target.url, nc, target.provider, credential?.instanceUrl)
    const dispatcher = this.#deps.dispatchers.for(nc)
    const sendOptions = { timeoutMs: nc.timeoutMs, target: nc.name }
    let method = request.method
    let headers = request.headers
    let body = request.body
    let refreshed = false
    for (let hop = 0; ; hop++) {
      const outbound: OutboundRequest = { method, url, headers, body, ...signalOf(request) }
      let res = await send(
        dispatcher,
        await authenticate(target, outbound, credential, this.#deps.authenticators),
        sendOptions,
      )
      if (ctx !== undefined && credential !== undefined && !refreshed) {
        const verdict = await refreshVerdict(res, target)
        res = verdict.response
        if (verdict.action === 'advise' && verdict.advice !== undefined) {
          return withHeader(res, ADVICE_HEADER, verdict.advice)
        }
        if (verdict.action === 'refresh') {
          refreshed = true
          await res.body.dump()
          credential = await tokens.invalidate(ctx, credential.accessToken)
          if (isStream(body))
            throw notReplayable(nc.name, `retry after a ${res.statusCode} and a token refresh`)
          // The refresh may have moved the API origin (Salesforce instance_url).
          if (hop === 0) url = apiOrigin(target.url, nc, target.provider, credential.instanceUrl)
          const retry: OutboundRequest = { ...outbound, url }
          res = await send(
            dispatcher,
            await authenticate(target, retry, credential, this.#deps.authenticators),
            sendOptions,
          )
        }
      }
      if (res.statusCode < 300 || res.statusCode > 399) return res
      const decision = redirectDecision(
        res.statusCode,
        res.headers.location,
        url,
        method,
        this.#trust(target, credential, url),
      )
      if (!decision.follow) return this.#adviseRedirect(res, target)
      if (hop >= DEFAULTS.maxRedirects) {
        await res.body.dump()
        throw new CalloutError(
          'TOO_MANY_REDIRECTS',
          `${nc.name} redirected more than ${DEFAULTS.maxRedirects} times; check the Named Credential URL, or set redirects: manual to handle them yourself.`,
          { details: { namedCredential: nc.name } },
        )
      }
      await res.body.dump()
      if (decision.dropBody) {
        body = undefined
        headers = { ...headers }
        for (const name of BODY_HEADERS) delete headers[name]
      } else if (isStream(body) && body !== undefined) {
        throw notReplayable(nc.name, `redirect ${res.statusCode}`)
      }
      method = decision.method
      url = decision.url
    }
  }

  #trust(
    target: CredentialTarget,
    credential: ActiveCredential | undefined,
    url: URL,
  ): RedirectTrust {
    const origins = new Set([target.url.origin, url.origin])
    if (credential?.instanceUrl !== undefined) {
      try {
        origins.add(new URL(credential.instanceUrl).origin)
      } catch {
        // an unparsable instance URL is simply not trusted
      }
    }
    return {
      policy: target.namedCredential.redirects,
      origins,
      allowedHosts: target.namedCredential.allowedHosts,
    }
  }

  #adviseRedirect(res: CalloutResponse, target: CredentialTarget): CalloutResponse {
    if (res.statusCode < 300 || res.statusCode > 399) return res
    if (!needsInstanceOrigin(target.namedCredential, target.provider)) return res
    return withHeader(
      res,
      ADVICE_HEADER,
      `Named Credential ${target.namedCredential.name} points at a Salesforce login or Lightning host, which redirects API calls; set its URL to the org's My Domain (https://<domain>.my.salesforce.com).`,
    )
  }
}

function signalOf(request: PipelineRequest): { signal?: AbortSignal } {
  return request.signal === undefined ? {} : { signal: request.signal }
}

function withHeader(res: CalloutResponse, name: string, value: string): CalloutResponse {
  return { ...res, headers: { ...res.headers, [name]: value } }
}
