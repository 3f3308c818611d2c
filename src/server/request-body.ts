/**
 * The body of a proxied request: none, a small body read into memory (so that a retry after a
 * token refresh or a 307/308 redirect can resend it), or a stream passed on with backpressure and
 * a byte limit.
 */
import type { IncomingMessage } from 'node:http'
import { Transform, type TransformCallback } from 'node:stream'
import { CalloutError } from '../errors.ts'

/** Limits for {@link requestBody}. */
export interface BodyLimits {
  /** Larger bodies are refused with `REQUEST_TOO_LARGE` (413). */
  readonly maxBodyBytes: number
  /** Bodies of a known length up to this size are buffered and replayable. */
  readonly replayableBodyBytes: number
}

function tooLarge(limit: number): CalloutError {
  return new CalloutError(
    'REQUEST_TOO_LARGE',
    `The request body is larger than ${limit} bytes, this proxy's limit; send a smaller body or raise --max-body-bytes on callout serve.`,
    { details: { maxBodyBytes: limit } },
  )
}

/** Counts bytes and fails the stream with `REQUEST_TOO_LARGE` past the limit. */
class ByteLimit extends Transform {
  #seen = 0
  readonly #limit: number

  constructor(limit: number) {
    super()
    this.#limit = limit
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#seen += chunk.length
    if (this.#seen > this.#limit) done(tooLarge(this.#limit))
    else done(null, chunk)
  }
}

/**
 * The request's body for the pipeline: `undefined` when there is none, a `Buffer` when its
 * declared length is small (a promise of it: the body is read first), else a stream (`Readable`)
 * limited to `maxBodyBytes`. Not `async`: a request without a body (most of them) costs no
 * promise.
 *
 * @example
 * const body = await requestBody(req.raw, { maxBodyBytes: 256 << 20, replayableBodyBytes: 1 << 20 })
 */
export function requestBody(
  raw: IncomingMessage,
  limits: BodyLimits,
): Promise<Buffer> | Transform | undefined {
  const chunked = raw.headers['transfer-encoding'] !== undefined
  const declared = raw.headers['content-length']
  const length = declared === undefined ? undefined : Number(declared)
  if (!chunked && (length === undefined || length === 0)) return undefined
  if (length !== undefined && length > limits.maxBodyBytes) throw tooLarge(limits.maxBodyBytes)
  if (!chunked && length !== undefined && length <= limits.replayableBodyBytes) {
    return readAll(raw)
  }
  const limited = new ByteLimit(limits.maxBodyBytes)
  raw.on('error', (error) => limited.destroy(error))
  return raw.pipe(limited)
}

async function readAll(raw: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of raw) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
