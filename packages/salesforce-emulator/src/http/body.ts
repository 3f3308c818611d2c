/**
 * Request body reading with a hard size limit, and the two body formats the emulator parses:
 * JSON (REST) and forms (OAuth endpoints: urlencoded, and multipart for the device flow).
 */
import type { IncomingMessage } from 'node:http'

const BRAND = Symbol.for('callout.salesforce-emulator.BodyTooLargeError')

/** Thrown when a request body exceeds the configured limit. */
export class BodyTooLargeError extends Error {
  /** Stable code. */
  readonly code = 'BODY_TOO_LARGE'
  readonly [BRAND] = true
  /** The limit that was exceeded, in bytes. */
  readonly limitBytes: number

  constructor(limitBytes: number) {
    super(`Request body exceeds the maximum size of ${limitBytes} bytes`)
    this.name = 'BodyTooLargeError'
    this.limitBytes = limitBytes
  }

  /** Brand check that survives duplicate installs. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && BRAND in value
  }
}

/**
 * Reads the whole body, failing fast (without buffering the rest) once `limitBytes` is passed.
 * The rest of an oversized body is drained so the connection can answer.
 */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume()
    throw new BodyTooLargeError(limitBytes)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limitBytes) {
      req.resume()
      throw new BodyTooLargeError(limitBytes)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** The media type of a `content-type` header, lower-cased and without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

/**
 * Parses a form body: `application/x-www-form-urlencoded` (or no content type) and
 * `multipart/form-data` (non-file fields only). Returns undefined for any other media type.
 */
export async function parseForm(
  body: Buffer,
  contentType: string | undefined,
): Promise<URLSearchParams | undefined> {
  const type = mediaType(contentType)
  if (type === '' || type === 'application/x-www-form-urlencoded') {
    return new URLSearchParams(body.toString('utf8'))
  }
  if (type === 'multipart/form-data') {
    const form = await new Response(new Uint8Array(body), {
      headers: { 'content-type': contentType ?? '' },
    }).formData()
    const params = new URLSearchParams()
    for (const [name, value] of form) if (typeof value === 'string') params.append(name, value)
    return params
  }
  return undefined
}
