import { bodyErrorContext, type BodyErrorContext } from './steps/send.ts'
import { translateUpstreamError } from './steps/translate-error.ts'
import type { CalloutResponse, ResponseBody } from './types.ts'

/** Streams `body`, turning a failure mid-body into a typed error (`UPSTREAM_TIMEOUT`, …). */
async function* translated(
  body: ResponseBody,
  context: BodyErrorContext,
): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of body) yield chunk as Uint8Array
  } catch (error) {
    throw translateUpstreamError(error, context)
  }
}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304])

/**
 * Builds a WHATWG `Response` from an upstream response in undici's `request` shape, streaming
 * the body (no copy). `HEAD` responses and null-body statuses get no body.
 *
 * @example
 * return toResponse(await pipeline.run(url, request), request.method)
 */
export function toResponse(res: CalloutResponse, method: string): Response {
  const headers = new Headers()
  for (const name in res.headers) {
    const value = res.headers[name]
    if (value === undefined) continue
    if (typeof value === 'string') headers.append(name, value)
    else for (const v of value) headers.append(name, v)
  }
  const status = res.statusCode
  if (NULL_BODY_STATUSES.has(status) || method === 'HEAD') {
    res.body.dump().catch(() => {})
    return new Response(null, { status, headers })
  }
  const context = bodyErrorContext(res.body)
  const body = context === undefined ? res.body : translated(res.body, context)
  return new Response(body as unknown as ReadableStream, { status, headers })
}
