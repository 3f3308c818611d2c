import { Readable } from 'node:stream'
import { CalloutError } from '../../errors.ts'
import type { OutboundBody } from '../types.ts'

/** A request body a caller may pass to `broker.fetch` or `broker.request`. */
export type CallerBody =
  | string
  | ArrayBuffer
  | ArrayBufferView
  | Blob
  | FormData
  | URLSearchParams
  | ReadableStream<Uint8Array>
  | Readable
  | AsyncIterable<Uint8Array>
  | null
  | undefined

/** Caller headers in any of the usual shapes. */
export type CallerHeaders =
  | Headers
  | readonly (readonly [string, string])[]
  | Record<string, string | readonly string[] | undefined>
  | undefined

/** The caller's method, headers and body, normalised for the pipeline. */
export interface NormalizedRequest {
  readonly method: string
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Record<string, string>
  readonly body: OutboundBody
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK'])
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'])
const BAD_HEADER_VALUE = /[\r\n\0]/

function invalid(message: string): CalloutError {
  return new CalloutError('INVALID_ARGUMENT', message)
}

/**
 * Pipeline step: normalises the caller's method, headers and body. Replayable bodies (strings,
 * bytes, Blob, FormData, URLSearchParams) are buffered so that a retry after a 401 refresh or a
 * 307/308 redirect can resend them; streams stay streams and cannot be resent.
 *
 * @example
 * await normalizeRequest({ method: 'post', headers: { 'Content-Type': 'application/json' }, body: '{}' })
 * // { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }
 */
export async function normalizeRequest(init: CallerRequest): Promise<NormalizedRequest> {
  const method = normalizeMethod(init.method)
  const headers = normalizeHeaders(init.headers as CallerHeaders)
  const body = await normalizeBody(init.body, headers)
  return checked(method, headers, body)
}

/** The method, headers and body a caller passes to `broker.fetch` or `broker.request`. */
export interface CallerRequest {
  readonly method?: string | undefined
  readonly headers?: CallerHeaders | RequestInit['headers']
  readonly body?: CallerBody | undefined
}

/**
 * {@link normalizeRequest} without a promise, for the hot path: the same validation and result,
 * returned at once. Returns `undefined` (having validated nothing that matters) when the body is
 * a `Blob` or `FormData`, which only the platform can serialise, asynchronously: call
 * `normalizeRequest` then. Throws the same errors as `normalizeRequest` rejects with.
 *
 * @example
 * const request = normalizeRequestSync(init) ?? (await normalizeRequest(init))
 */
export function normalizeRequestSync(init: CallerRequest): NormalizedRequest | undefined {
  const method = normalizeMethod(init.method)
  const headers = normalizeHeaders(init.headers as CallerHeaders)
  const body = init.body
  if (body instanceof Blob || body instanceof FormData) return undefined
  return checked(method, headers, normalizeBodySync(body, headers))
}

function checked(
  method: string,
  headers: Record<string, string>,
  body: OutboundBody,
): NormalizedRequest {
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
    throw invalid(`A ${method} request cannot have a body; use POST, PUT or PATCH.`)
  }
  return { method, headers, body }
}

function normalizeMethod(method: string | undefined): string {
  if (method === undefined) return 'GET'
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw invalid('The HTTP method is not a valid token (e.g. GET, POST).')
  }
  const upper = method.toUpperCase()
  if (FORBIDDEN_METHODS.has(upper)) throw invalid(`The HTTP method ${upper} is not allowed.`)
  return NORMALIZED_METHODS.has(upper) ? upper : method
}

/** Lower-cases header names and rejects names that are not tokens and values with CR, LF or NUL. */
export function normalizeHeaders(input: CallerHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  if (input === undefined || input === null) return out
  const add = (name: string, value: string): void => {
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      throw invalid('A request header name is not a valid token.')
    }
    const v = String(value)
    if (BAD_HEADER_VALUE.test(v)) {
      throw new CalloutError(
        'HEADER_INJECTION',
        `The value of request header ${name} contains CR, LF or NUL; nothing was sent.`,
      )
    }
    const key = name.toLowerCase()
    const existing = out[key]
    out[key] = existing === undefined ? v : `${existing}, ${v}`
  }
  if (typeof (input as Headers).forEach === 'function' && !Array.isArray(input)) {
    ;(input as Headers).forEach((value, name) => add(name, value))
  } else if (Array.isArray(input)) {
    for (const pair of input as readonly (readonly [string, string])[]) {
      if (!Array.isArray(pair) || pair.length !== 2)
        throw invalid('Header pairs must be [name, value].')
      add(pair[0], pair[1])
    }
  } else {
    for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
      if (value === undefined) continue
      if (Array.isArray(value)) for (const v of value) add(name, String(v))
      else add(name, String(value))
    }
  }
  return out
}

async function normalizeBody(
  body: CallerBody,
  headers: Record<string, string>,
): Promise<OutboundBody> {
  if (body instanceof Blob || body instanceof FormData) {
    // Let the platform serialise (multipart boundary, Blob type) once; the bytes are replayable.
    const serialised = new Response(body)
    const type = serialised.headers.get('content-type')
    if (type !== null) headers['content-type'] ??= type
    return new Uint8Array(await serialised.arrayBuffer())
  }
  return normalizeBodySync(body, headers)
}

/** Every body but `Blob` and `FormData` (see {@link normalizeBody}). */
function normalizeBodySync(body: CallerBody, headers: Record<string, string>): OutboundBody {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') {
    headers['content-type'] ??= 'text/plain;charset=UTF-8'
    return body
  }
  if (body instanceof Uint8Array) return body
  if (body instanceof ArrayBuffer) return new Uint8Array(body)
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8'
    return body.toString()
  }
  if (body instanceof ReadableStream) {
    return {
      kind: 'stream',
      stream: Readable.fromWeb(body as import('node:stream/web').ReadableStream),
    }
  }
  if (
    body instanceof Readable ||
    typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function'
  ) {
    return { kind: 'stream', stream: body as Readable | AsyncIterable<Uint8Array> }
  }
  throw invalid(
    'Unsupported request body: pass a string, bytes, Blob, FormData, URLSearchParams or a stream.',
  )
}
