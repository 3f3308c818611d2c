import type { SessionIdPlacement } from './steps/session-id.ts'
/**
 * Shapes shared by the pipeline steps: the outbound request as the steps build it, the upstream
 * response as undici returns it, and the resolved target of a callout.
 */
import type { Readable } from 'node:stream'
import type {
  AuthProvider,
  ExternalCredential,
  NamedCredential,
  Principal,
} from '../definitions/model.ts'

/**
 * A request body the pipeline can send: replayable (`string`, bytes) or a one-shot stream,
 * which cannot be resent after a 401 refresh or a 307/308 redirect.
 */
export type OutboundBody =
  | string
  | Uint8Array
  | { readonly kind: 'stream'; readonly stream: Readable | AsyncIterable<Uint8Array> }
  | undefined

/** The request the steps build and `send` dispatches. Header names are lower case. */
export interface OutboundRequest {
  readonly method: string
  readonly url: URL
  readonly headers: Record<string, string>
  readonly body: OutboundBody
  readonly signal?: AbortSignal
}

/** A response body: a Node stream with undici's body mixin helpers. */
export type ResponseBody = Readable & {
  text(): Promise<string>
  json(): Promise<unknown>
  arrayBuffer(): Promise<ArrayBuffer>
  dump(): Promise<void>
}

/** Response header values as undici reports them. */
export type ResponseHeaders = Record<string, string | string[] | undefined>

/**
 * An upstream response in undici's `request` shape.
 *
 * @example
 * const { statusCode, headers, body } = await broker.request('callout:Api/users')
 * const users = await body.json()
 */
export interface CalloutResponse {
  readonly statusCode: number
  readonly headers: ResponseHeaders
  readonly body: ResponseBody
}

/** A callout to a Named Credential, resolved against the definitions. */
export interface CredentialTarget {
  readonly kind: 'credential'
  readonly namedCredential: NamedCredential
  readonly externalCredential: ExternalCredential
  readonly principal: Principal
  readonly provider?: AuthProvider
  /** The end user for per-user principals; `''` for named ones. */
  readonly userId: string
  /** The resolved URL on the Named Credential's origin. */
  readonly url: URL
}

/** A plain `https://` URL the caller explicitly allowed: no credential. */
export interface PlainTarget {
  readonly kind: 'plain'
  readonly url: URL
}

/** What a callout goes to. */
export type CalloutTarget = CredentialTarget | PlainTarget

/**
 * Options a caller adds to `fetch`/`request`.
 *
 * @example
 * await broker.fetch('callout:Github/user', { user: 'alice' })
 */
export interface CalloutOptions {
  /** The end user, for per-user principals. */
  readonly user?: string
  /** A principal by name, when the ExternalCredential has several of one type. */
  readonly principal?: string
  /** Accept a plain `https://` URL, called without any credential. Default false. */
  readonly allowPlainUrl?: boolean
  /** The calling client (proxy client key id), for the access check. */
  readonly client?: string
  /**
   * Total deadline of this callout in ms, until the last byte of the body; with the Named
   * Credential's `deadlineMs` the shorter one applies. `UPSTREAM_TIMEOUT` with
   * `details.timeout: 'deadline'` when it passes.
   */
  readonly deadlineMs?: number
  /**
   * Also sends the access token in this header and in place of this body marker (Salesforce Bulk
   * API 1.0 and SOAP, which `callout serve`'s credential ports serve). OAuth 2.0 credentials only.
   */
  readonly sessionId?: SessionIdPlacement
}
