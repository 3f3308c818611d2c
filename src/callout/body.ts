import { Readable } from 'node:stream'
import type { ResponseBody } from './types.ts'

/** Default cap for inspecting a response body (401 bodies are small). */
export const INSPECT_BODY_LIMIT_BYTES = 64 * 1024

/**
 * Makes a {@link ResponseBody} (a Readable with undici's `text`/`json`/`arrayBuffer`/`dump`) from
 * chunks already read followed by the rest of a source stream.
 *
 * @example
 * const body = bodyFrom([Buffer.from('{"a":1}')])
 * await body.json() // { a: 1 }
 */
export function bodyFrom(
  head: readonly Uint8Array[],
  rest?: AsyncIterator<Uint8Array>,
): ResponseBody {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const chunk of head) yield chunk
    if (rest === undefined) return
    for (;;) {
      const next = await rest.next()
      if (next.done === true) return
      yield next.value
    }
  }
  const stream = Readable.from(chunks(), { objectMode: false })
  const readAll = async (): Promise<Buffer> => {
    const parts: Buffer[] = []
    for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array))
    return Buffer.concat(parts)
  }
  return Object.assign(stream, {
    text: async () => (await readAll()).toString('utf8'),
    json: async () => JSON.parse((await readAll()).toString('utf8')) as unknown,
    arrayBuffer: async () => {
      const buf = await readAll()
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer
    },
    dump: async () => {
      stream.destroy()
      await rest?.return?.()
    },
  })
}

/**
 * Reads up to `limit` bytes of `body` for inspection and returns them as text, with a body that
 * replays everything (inspected bytes, then the rest) for the caller.
 *
 * @example
 * const { text, body } = await peekBody(res.body)
 * if (text.includes('INVALID_SESSION_ID')) …
 */
export async function peekBody(
  body: AsyncIterable<Uint8Array>,
  limit = INSPECT_BODY_LIMIT_BYTES,
): Promise<{ readonly text: string; readonly body: ResponseBody }> {
  const iterator = body[Symbol.asyncIterator]()
  const head: Uint8Array[] = []
  let size = 0
  let done = false
  while (size < limit) {
    const next = await iterator.next()
    if (next.done === true) {
      done = true
      break
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value
    head.push(chunk)
    size += chunk.byteLength
  }
  const text = Buffer.concat(head).subarray(0, limit).toString('utf8')
  return { text, body: bodyFrom(head, done ? undefined : iterator) }
}
