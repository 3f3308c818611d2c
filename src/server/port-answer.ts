/**
 * What a credential port changes in an upstream answer so that SDKs stay on the port: the
 * `Location` header, and the absolute URLs of the few small JSON answers that SDKs follow (the
 * `identity` of `GET /services/data/vNN.0`, and the identity answers themselves). Every other
 * answer streams through untouched.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import type { Broker } from '../callout/broker.ts'
import type { CalloutResponse } from '../callout/types.ts'
import type { ForwardContext } from './forward.ts'
import { resolveTarget } from '../callout/steps/resolve-target.ts'
import { PLACEHOLDER_ID_PATH, PLACEHOLDER_ORG } from './local-token.ts'
import { portJson, portLocation, upstreamPlaces, type UpstreamPlace } from './port-urls.ts'

/** Answers whose JSON body may carry URLs an SDK follows (versioned root, identity, userinfo). */
const URL_BEARING_PATHS =
  /^\/(?:services\/data\/v\d+\.\d+\/?|id\/[^?]*|services\/oauth2\/userinfo)$/
/** Larger answers are streamed unchanged. */
const MAX_REWRITE_BYTES = 1024 * 1024

const DECODERS: Record<string, (b: Buffer) => Buffer> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
}

/**
 * The `adjustAnswer` of a credential port for `credential`, whose origin is `portOrigin()`.
 * Never throws: when the upstream places cannot be read, the answer passes unchanged.
 *
 * @example
 * const ctx = { ...server.forwardContext, adjustAnswer: portAnswer(broker, 'Target', () => origin) }
 */
export function portAnswer(
  broker: Broker,
  credential: string,
  portOrigin: () => string,
): NonNullable<ForwardContext['adjustAnswer']> {
  return async (res, headers, request) => {
    const location = headers.location
    const rewriteBody =
      request.raw.method === 'GET' &&
      res.statusCode === 200 &&
      URL_BEARING_PATHS.test(pathOf(request.raw.url)) &&
      /json/i.test(String(headers['content-type'] ?? ''))
    if (typeof location !== 'string' && !rewriteBody) return res.body
    const places = await placesOf(broker, credential, request.raw)
    if (places === undefined) return res.body
    if (typeof location === 'string')
      headers.location = portLocation(location, places, portOrigin())
    if (!rewriteBody) return res.body
    return rewriteJson(res.body, headers, (value) => portJson(value, places, portOrigin()))
  }
}

/**
 * The `Location` of an answer on a credential port (`location` as the upstream sent it),
 * rewritten to the port as {@link portAnswer} does; unchanged when the upstream places cannot be
 * read. For the port's fast path, which passes every other header on as it came.
 *
 * @example
 * await portLocationOf(broker, 'Target', () => 'http://127.0.0.1:7071', 'https://na1.my.salesforce.com/x', req)
 * // 'http://127.0.0.1:7071/x'
 */
export async function portLocationOf(
  broker: Broker,
  credential: string,
  portOrigin: () => string,
  location: string,
  request: IncomingMessage,
): Promise<string> {
  const places = await placesOf(broker, credential, request)
  return places === undefined ? location : portLocation(location, places, portOrigin())
}

/** The upstream places of a port request (its `Callout-User`), `undefined` when unreadable. */
async function placesOf(
  broker: Broker,
  credential: string,
  request: IncomingMessage,
): Promise<UpstreamPlace[] | undefined> {
  try {
    const user = request.headers['callout-user']
    return await upstreamPlaces(broker, credential, typeof user === 'string' ? user : undefined)
  } catch {
    return undefined
  }
}

/**
 * A credential port's request target without the placeholder token jsforce repeats in the query
 * (`?oauth_token=00D000000000000!ck_…`, `conn.identity()`): the client key never reaches the
 * upstream. Other parameters keep their exact spelling.
 *
 * @example
 * withoutPlaceholderToken('/id/00D/005?format=json&oauth_token=00D000000000000!ck_1') // '/id/00D/005?format=json'
 */
export function withoutPlaceholderToken(url: string): string {
  const q = url.indexOf('?')
  if (q === -1 || !url.includes('oauth_token=', q)) return url
  const kept = url
    .slice(q + 1)
    .split('&')
    .filter((part) => {
      const eq = part.indexOf('=')
      if (part.slice(0, eq) !== 'oauth_token') return true
      let value = part.slice(eq + 1)
      try {
        value = decodeURIComponent(value.replace(/\+/g, ' '))
      } catch {
        return true
      }
      return !value.startsWith(`${PLACEHOLDER_ORG}!`)
    })
  return kept.length === 0 ? url.slice(0, q) : `${url.slice(0, q)}?${kept.join('&')}`
}

/**
 * A credential port's request for the identity URL of its local token answer
 * (`/id/00D000000000000AAA/005000000000000AAA`, which jsforce's `identity()` follows after a
 * login through the port), sent to the identity URL of the principal's real token instead; any
 * other target is returned unchanged. Without a stored token, one is obtained first (as the first
 * callout would); without a stored identity URL the target is returned unchanged.
 *
 * @example
 * await realIdentityTarget(broker, 'Target', '/id/00D000000000000AAA/005000000000000AAA?format=json')
 * // '/id/00D5g0000000001EAA/0055g0000000001AAA?format=json'
 */
export async function realIdentityTarget(
  broker: Broker,
  credential: string,
  url: string,
  user?: string,
): Promise<string> {
  const q = url.indexOf('?')
  if ((q === -1 ? url : url.slice(0, q)) !== PLACEHOLDER_ID_PATH) return url
  const target = resolveTarget(
    broker.definitions,
    `callout:${credential}`,
    user === undefined ? {} : { user },
  )
  if (target.kind !== 'credential') return url
  const key = {
    externalCredential: target.externalCredential.name,
    principal: target.principal.name,
    userId: target.userId,
  }
  let stored = await broker.store.getCredential(key)
  if (stored?.identity?.idUrl === undefined) {
    // No token yet (identity() right after the login): obtain one, as the first callout would.
    await broker.authenticate(credential, { fresh: false, ...(user === undefined ? {} : { user }) })
    stored = await broker.store.getCredential(key)
  }
  const idUrl = stored?.identity?.idUrl
  if (idUrl === undefined) return url
  let path: string
  try {
    path = new URL(idUrl).pathname
  } catch {
    return url
  }
  return /^\/id\/[A-Za-z0-9]+\/[A-Za-z0-9]+$/.test(path)
    ? `${path}${q === -1 ? '' : url.slice(q)}`
    : url
}

/**
 * Whether a credential port may rewrite the answer for this path (without the query), or send it
 * elsewhere: the JSON answers SDKs follow and every identity URL (`/id/…`, among them the local
 * token answer's placeholder identity, see {@link realIdentityTarget}).
 *
 * @example
 * rewrittenAt('/services/data/v61.0') // true
 * rewrittenAt('/services/data/v61.0/query') // false
 */
export function rewrittenAt(path: string): boolean {
  return URL_BEARING_PATHS.test(path) || path.startsWith('/id/')
}

function pathOf(url: string | undefined): string {
  const value = url ?? '/'
  const q = value.indexOf('?')
  return q === -1 ? value : value.slice(0, q)
}

/** Reads a small JSON body, decodes it, rewrites it; anything unexpected passes unchanged. */
async function rewriteJson(
  body: CalloutResponse['body'],
  headers: Record<string, string | string[]>,
  rewrite: (value: unknown) => unknown,
): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  const iterator = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  for (;;) {
    const next = await iterator.next()
    if (next.done === true) break
    chunks.push(next.value)
    size += next.value.length
    if (size > MAX_REWRITE_BYTES) return Readable.from(rest(chunks, iterator))
  }
  const original = Buffer.concat(chunks)
  const encoding = String(headers['content-encoding'] ?? '').toLowerCase()
  let text: string
  try {
    const decode = encoding === '' || encoding === 'identity' ? undefined : DECODERS[encoding]
    if (encoding !== '' && encoding !== 'identity' && decode === undefined) return original
    text = JSON.stringify(rewrite(JSON.parse((decode?.(original) ?? original).toString('utf8'))))
  } catch {
    return original
  }
  delete headers['content-encoding']
  delete headers.etag
  headers['content-length'] = String(Buffer.byteLength(text))
  return text
}

async function* rest(
  read: readonly Buffer[],
  iterator: AsyncIterator<Buffer>,
): AsyncGenerator<Buffer> {
  yield* read
  for (;;) {
    const next = await iterator.next()
    if (next.done === true) return
    yield next.value
  }
}
