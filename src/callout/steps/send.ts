import type { Dispatcher } from 'undici'
import type { CalloutResponse, OutboundRequest } from '../types.ts'
import { translateUpstreamError } from './translate-error.ts'

/** Options for {@link send}. */
export interface SendOptions {
  readonly timeoutMs: number
  /** For error messages: the Named Credential name, or the origin for plain URLs. */
  readonly target: string
}

/**
 * Pipeline step 3: sends one request with undici (`dispatcher.request`, keep-alive pools), with
 * the Named Credential's timeout as `headersTimeout` and `bodyTimeout`, and the caller's abort
 * signal. Transport failures become typed errors. Never follows redirects (a later step does).
 *
 * @example
 * const res = await send(dispatchers.for(nc), request, { timeoutMs: nc.timeoutMs, target: nc.name })
 */
export async function send(
  dispatcher: Dispatcher,
  request: OutboundRequest,
  options: SendOptions,
): Promise<CalloutResponse> {
  const body = request.body
  try {
    const res = await dispatcher.request({
      origin: request.url.origin,
      path: `${request.url.pathname}${request.url.search}`,
      method: request.method as Dispatcher.HttpMethod,
      headers: request.headers,
      body:
        body === undefined
          ? null
          : typeof body === 'string' || body instanceof Uint8Array
            ? body
            : (body.stream as never),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    })
    return res as unknown as CalloutResponse
  } catch (error) {
    throw translateUpstreamError(error, {
      target: options.target,
      origin: request.url.origin,
      timeoutMs: options.timeoutMs,
      signal: request.signal,
    })
  }
}
