/**
 * AWS Signature Version 4 request signing for the `aws-sigv4` protocol, with node:crypto (no
 * AWS SDK). Signs the method, path, query, headers and body bytes of one request.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
import { createHash, createHmac } from 'node:crypto'
import type { Clock } from '../clock.ts'
import { systemClock } from '../clock.ts'
import type { Principal, SigV4Settings } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import type { Secret } from '../secrets/secret.ts'

/** The request to sign. */
export interface SigV4Request {
  readonly method: string
  readonly url: string | URL
  /** Headers that will be sent (and signed, except the unsignable ones). */
  readonly headers?: Readonly<Record<string, string>>
  /** The exact body bytes sent; absent or empty for no body. */
  readonly body?: Uint8Array | string
}

/** AWS credentials (principal secrets `accessKeyId`, `secretAccessKey`, optional `sessionToken`). */
export interface SigV4Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: Secret
  readonly sessionToken?: Secret
}

/** Headers that are never signed (they change in transit or are added by clients and proxies). */
const UNSIGNABLE = new Set([
  'authorization',
  'cache-control',
  'connection',
  'expect',
  'from',
  'keep-alive',
  'max-forwards',
  'pragma',
  'proxy-authorization',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'x-amzn-trace-id',
])

/** RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-_.~` is %XX (upper case). */
export function sigV4Encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

const sha256Hex = (data: Uint8Array | string): string =>
  createHash('sha256').update(data).digest('hex')
const hmac = (key: Uint8Array | string, data: string): Buffer =>
  createHmac('sha256', key).update(data).digest()

/** `YYYYMMDDTHHMMSSZ` for a time in ms. */
export function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
}

function canonicalUri(url: URL, service: string): string {
  if (url.pathname === '' || url.pathname === '/') return '/'
  // url.pathname is already percent-encoded once (it is what goes on the wire). SigV4 encodes
  // each segment again for every service except S3, which is encoded exactly once.
  return url.pathname
    .split('/')
    .map((segment) => {
      if (service === 's3') return sigV4Encode(safeDecode(segment))
      return sigV4Encode(segment)
    })
    .join('/')
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function canonicalQuery(url: URL): string {
  if (url.search.length <= 1) return ''
  const pairs = url.search
    .slice(1)
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=')
      const k = eq < 0 ? p : p.slice(0, eq)
      const v = eq < 0 ? '' : p.slice(eq + 1)
      return [sigV4Encode(safeDecode(k)), sigV4Encode(safeDecode(v))] as const
    })
  pairs.sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
  return pairs.map(([k, v]) => `${k}=${v}`).join('&')
}

/** The intermediate strings of a signature, exposed for tests and `callout doctor`. */
export interface SigV4Parts {
  readonly canonicalRequest: string
  readonly stringToSign: string
  readonly signedHeaders: string
  readonly signature: string
  readonly credentialScope: string
}

/**
 * Computes a SigV4 signature and returns the headers to add to the request: `authorization`,
 * `x-amz-date`, `x-amz-security-token` (with a session token) and, for S3,
 * `x-amz-content-sha256`. `host` is always signed (from the URL).
 *
 * @throws CalloutError `CONFIG_INVALID` for a missing region/service or header values with CR/LF.
 * @example
 * const add = signSigV4({ method: 'GET', url }, credentials, { region: 'us-east-1', service: 'execute-api' })
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
export function signSigV4(
  request: SigV4Request,
  credentials: SigV4Credentials,
  settings: SigV4Settings,
  deps: { clock?: Clock } = {},
): Record<string, string> {
  const { headers } = sigV4Sign(request, credentials, settings, deps)
  return headers
}

/** Like {@link signSigV4}, also returning the canonical request and string to sign. */
export function sigV4Sign(
  request: SigV4Request,
  credentials: SigV4Credentials,
  settings: SigV4Settings,
  deps: { clock?: Clock } = {},
): { headers: Record<string, string>; parts: SigV4Parts } {
  if (!/^[a-z0-9-]+$/.test(settings.region) || !/^[a-z0-9-]+$/.test(settings.service)) {
    throw new CalloutError(
      'CONFIG_INVALID',
      'SigV4 needs a region and service of lower-case letters, digits and dashes (e.g. us-east-1, execute-api).',
    )
  }
  const url = typeof request.url === 'string' ? new URL(request.url) : request.url
  const date = amzDate((deps.clock ?? systemClock).now())
  const day = date.slice(0, 8)
  const body = request.body ?? ''
  const payloadHash = sha256Hex(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)

  const add: Record<string, string> = { 'x-amz-date': date }
  if (credentials.sessionToken !== undefined)
    add['x-amz-security-token'] = credentials.sessionToken.reveal()
  if (settings.service === 's3') add['x-amz-content-sha256'] = payloadHash

  const all = new Map<string, string[]>()
  const put = (name: string, value: string): void => {
    const key = name.toLowerCase()
    if (/[\r\n\0]/.test(value)) {
      throw new CalloutError(
        'HEADER_INJECTION',
        `Header ${key} contains CR, LF or NUL and cannot be signed.`,
      )
    }
    const list = all.get(key) ?? []
    list.push(value.trim().replace(/\s+/g, ' '))
    all.set(key, list)
  }
  for (const [k, v] of Object.entries(request.headers ?? {})) {
    const key = k.toLowerCase()
    if (UNSIGNABLE.has(key) || key === 'host' || key in add) continue
    put(key, v)
  }
  put('host', url.host)
  for (const [k, v] of Object.entries(add)) put(k, v)

  const names = [...all.keys()].sort()
  const canonicalHeaders = names.map((n) => `${n}:${(all.get(n) ?? []).join(',')}\n`).join('')
  const signedHeaders = names.join(';')
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalUri(url, settings.service),
    canonicalQuery(url),
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n')
  const credentialScope = `${day}/${settings.region}/${settings.service}/aws4_request`
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    date,
    credentialScope,
    sha256Hex(canonicalRequest),
  ].join('\n')
  const kDate = hmac(`AWS4${credentials.secretAccessKey.reveal()}`, day)
  const kSigning = hmac(hmac(hmac(kDate, settings.region), settings.service), 'aws4_request')
  const signature = hmac(kSigning, stringToSign).toString('hex')
  add.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${credentialScope}, SignedHeaders=${signedHeaders}, Signature=${signature}`
  return {
    headers: add,
    parts: { canonicalRequest, stringToSign, signedHeaders, signature, credentialScope },
  }
}

/**
 * Reads SigV4 credentials from a principal: secrets `accessKeyId` (or parameter), `secretAccessKey`,
 * optional `sessionToken`.
 *
 * @throws CalloutError `CONFIG_INVALID` when a required one is missing.
 */
export function sigV4CredentialsFromPrincipal(principal: Principal): SigV4Credentials {
  const accessKeyId = principal.secrets.accessKeyId?.reveal() ?? principal.parameters.accessKeyId
  const secretAccessKey = principal.secrets.secretAccessKey
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `Principal "${principal.name}" needs accessKeyId and secretAccessKey secrets for aws-sigv4.`,
      { details: { principal: principal.name } },
    )
  }
  if (!/^[A-Z0-9]{4,128}$/.test(accessKeyId)) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `The accessKeyId of principal "${principal.name}" is malformed.`,
      {
        details: { principal: principal.name },
      },
    )
  }
  const sessionToken = principal.secrets.sessionToken
  return { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) }
}
