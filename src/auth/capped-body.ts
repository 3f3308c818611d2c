/**
 * The one capped body reader of the auth layer: token, discovery and identity responses are read
 * through it, so no authorization server can make Callout buffer more than the cap.
 */
import { CalloutError } from '../errors.ts'

/**
 * Reads a response body as UTF-8 text with a byte cap (shared by token, discovery and identity
 * reads).
 *
 * @throws CalloutError `TOKEN_ENDPOINT_ERROR` when the body exceeds `maxBytes` or the read fails.
 */
export async function readCappedText(
  response: Response,
  maxBytes: number,
  what: string,
): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined)
    throw tooLarge(what, response.status, maxBytes)
  }
  if (response.body === null) return ''
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined)
        throw tooLarge(what, response.status, maxBytes)
      }
      chunks.push(value)
    }
  } catch (error) {
    if (error instanceof CalloutError) throw error
    throw new CalloutError(
      'TOKEN_ENDPOINT_ERROR',
      `Reading the ${what} response failed. Check the network path to the authorization server and try again.`,
      { cause: error, details: { status: response.status } },
    )
  }
  return Buffer.concat(chunks).toString('utf8')
}

function tooLarge(what: string, status: number, maxBytes: number): CalloutError {
  return new CalloutError(
    'TOKEN_ENDPOINT_ERROR',
    `The ${what} response is larger than ${maxBytes} bytes; Callout refuses to read it. Check that the URL points at the right server.`,
    { details: { status, maxBytes } },
  )
}
