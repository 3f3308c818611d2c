/**
 * End to end: the `aws-sigv4` protocol through `broker.fetch`. The upstream re-verifies every
 * request with an independent SigV4 verifier written here from the AWS specification (it does
 * not use `src/auth/sigv4.ts`): it rebuilds the canonical request from what arrived on the wire,
 * derives the signing key from the secret access key and compares signatures. A tampered body,
 * query, path or signed header fails that verifier.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isCalloutError, type Broker } from '../../src/index.ts'
import { makeHome, openTestBroker, type TestHome } from '../e2e/helpers/e2e.ts'
import { header, recordingUpstream, type Received, type RecordingUpstream } from './helpers.ts'

const ACCESS_KEY_ID = 'AKIDEXAMPLE'
const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
const REGION = 'eu-west-1'
const SERVICE = 'execute-api'

/** RFC 3986 unreserved characters stay; every other UTF-8 byte becomes %XX (upper case). */
function uriEncode(text: string): string {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')
const hmac = (key: string | Buffer, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest()

/** Why a request does not verify, or `ok`. */
type Verification = { ok: true; signedHeaders: string[] } | { ok: false; reason: string }

/**
 * Verifies a received request's SigV4 signature from scratch (non-S3 services: each path segment
 * is URI-encoded twice, i.e. the on-the-wire segment encoded once more).
 */
function verifySigV4(request: Received, secret: string): Verification {
  const auth = header(request, 'authorization') ?? ''
  const match =
    /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      auth,
    )
  if (match === null) return { ok: false, reason: `malformed authorization: ${auth}` }
  const [, keyId, day, region, service, signedHeaderList, signature] = match as unknown as string[]
  if (keyId !== ACCESS_KEY_ID) return { ok: false, reason: 'unknown access key' }
  const amzDate = header(request, 'x-amz-date') ?? ''
  if (!/^\d{8}T\d{6}Z$/.test(amzDate)) return { ok: false, reason: 'bad x-amz-date' }
  if (amzDate.slice(0, 8) !== day) return { ok: false, reason: 'date outside the scope' }
  const signedHeaders = signedHeaderList!.split(';')
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
    return { ok: false, reason: 'host and x-amz-date must be signed' }
  }
  if ([...signedHeaders].sort().join(';') !== signedHeaderList) {
    return { ok: false, reason: 'signed headers not sorted' }
  }

  const q = request.url.indexOf('?')
  const rawPath = q < 0 ? request.url : request.url.slice(0, q)
  const rawQuery = q < 0 ? '' : request.url.slice(q + 1)
  const canonicalUri = rawPath
    .split('/')
    .map((segment) => uriEncode(segment))
    .join('/')
  const canonicalQuery = rawQuery
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=')
      const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq))
      const value = decodeURIComponent(eq < 0 ? '' : pair.slice(eq + 1))
      return `${uriEncode(name)}=${uriEncode(value)}`
    })
    .sort()
    .join('&')
  const canonicalHeaders = signedHeaders
    .map((name) => {
      const value = request.headers[name]
      if (value === undefined) return undefined
      const values = Array.isArray(value) ? value : [value]
      return `${name}:${values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}\n`
    })
    .join('')
  if (signedHeaders.some((name) => request.headers[name] === undefined)) {
    return { ok: false, reason: 'a signed header is missing' }
  }
  const canonicalRequest = [
    request.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedHeaderList,
    sha256(request.body),
  ].join('\n')
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    `${day}/${region}/${service}/aws4_request`,
    sha256(canonicalRequest),
  ].join('\n')
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${secret}`, day!), region!), service!), 'aws4_request')
  const expected = hmac(kSigning, stringToSign)
  if (!timingSafeEqual(expected, Buffer.from(signature!, 'hex'))) {
    return { ok: false, reason: 'signature mismatch' }
  }
  return { ok: true, signedHeaders }
}

let upstream: RecordingUpstream
let home: TestHome
let broker: Broker

beforeAll(async () => {
  upstream = await recordingUpstream()
  upstream.check = (request) => {
    const verdict = verifySigV4(request, SECRET_ACCESS_KEY)
    return verdict.ok
      ? { status: 200, body: { signedHeaders: verdict.signedHeaders } }
      : { status: 403, body: { message: verdict.reason } }
  }
  home = await makeHome({ AWS_SECRET: SECRET_ACCESS_KEY, AWS_TOKEN: 'session-token-value' })
  broker = await openTestBroker(home, {
    externalCredentials: {
      Aws: {
        protocol: 'aws-sigv4',
        sigv4: { region: REGION, service: SERVICE },
        principals: {
          Deployer: {
            type: 'named',
            parameters: { accessKeyId: ACCESS_KEY_ID },
            secrets: { secretAccessKey: '${env:AWS_SECRET}' },
          },
        },
      },
      AwsSession: {
        protocol: 'aws-sigv4',
        sigv4: { region: REGION, service: SERVICE },
        principals: {
          Deployer: {
            type: 'named',
            parameters: { accessKeyId: ACCESS_KEY_ID },
            secrets: { secretAccessKey: '${env:AWS_SECRET}', sessionToken: '${env:AWS_TOKEN}' },
          },
        },
      },
    },
    namedCredentials: {
      Gateway: { url: `${upstream.origin}/prod`, externalCredential: 'Aws' },
      GatewaySession: { url: `${upstream.origin}/prod`, externalCredential: 'AwsSession' },
    },
  })
})

afterAll(async () => {
  await broker?.close()
  await upstream?.close()
  await home?.cleanup()
})

describe('aws-sigv4 through broker.fetch', () => {
  it('signs a GET with a query the upstream verifies independently', async () => {
    const res = await broker.fetch(
      'callout:Gateway/orders/2024%2001/items?status=open&b=a%20b&a=%E2%82%AC&empty=',
    )
    const body = (await res.json()) as { signedHeaders?: string[]; message?: string }
    expect(body.message).toBeUndefined()
    expect(res.status).toBe(200)
    expect(body.signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-date']))
    const got = upstream.received.at(-1)!
    expect(got.url).toBe('/prod/orders/2024%2001/items?status=open&b=a%20b&a=%E2%82%AC&empty=')
    const auth = header(got, 'authorization')!
    const day = header(got, 'x-amz-date')!.slice(0, 8)
    expect(auth).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/${day}/${REGION}/${SERVICE}/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`,
      ),
    )
    expect(auth).not.toContain(SECRET_ACCESS_KEY)
  })

  it('signs a POST body and the caller headers; each is covered by the signature', async () => {
    const payload = JSON.stringify({ name: 'Grüße', n: 1 })
    const res = await broker.fetch('callout:Gateway/orders?dryRun=true', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'r-42' },
      body: payload,
    })
    expect(await res.json()).toEqual({
      signedHeaders: expect.arrayContaining(['content-type', 'host', 'x-amz-date', 'x-request-id']),
    })
    expect(res.status).toBe(200)
    const got = upstream.received.at(-1)!
    expect(got.body.toString('utf8')).toBe(payload)
    expect(verifySigV4(got, SECRET_ACCESS_KEY)).toMatchObject({ ok: true })

    // The verifier is not a rubber stamp: any change to what was signed breaks it.
    const tampered: Array<[string, Received]> = [
      ['body', { ...got, body: Buffer.from(payload.replace('1', '2')) }],
      ['query', { ...got, url: got.url.replace('dryRun=true', 'dryRun=false') }],
      ['path', { ...got, url: got.url.replace('/orders', '/orderz') }],
      ['method', { ...got, method: 'PUT' }],
      ['signed header', { ...got, headers: { ...got.headers, 'x-request-id': 'r-43' } }],
      ['host', { ...got, headers: { ...got.headers, host: 'evil.example' } }],
    ]
    for (const [what, request] of tampered) {
      expect(verifySigV4(request, SECRET_ACCESS_KEY), what).toEqual({
        ok: false,
        reason: 'signature mismatch',
      })
    }
    expect(verifySigV4(got, 'another-secret')).toEqual({ ok: false, reason: 'signature mismatch' })
  })

  it('signs bytes bodies exactly as sent', async () => {
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255])
    const res = await broker.fetch('callout:Gateway/blob', {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    })
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect([...upstream.received.at(-1)!.body]).toEqual([...bytes])
  })

  it('adds and signs x-amz-security-token for temporary credentials', async () => {
    const res = await broker.fetch('callout:GatewaySession/whoami')
    expect(await res.json()).toEqual({
      signedHeaders: expect.arrayContaining(['x-amz-security-token']),
    })
    expect(header(upstream.received.at(-1)!, 'x-amz-security-token')).toBe('session-token-value')
  })

  it("drops the caller's Authorization and signs anyway", async () => {
    const res = await broker.fetch('callout:Gateway/x', {
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=EVIL' },
    })
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect(header(upstream.received.at(-1)!, 'authorization')).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/`),
    )
  })

  it('refuses a streamed body (SigV4 must hash it) with a typed error, before sending', async () => {
    const start = upstream.received.length
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('chunk'))
        controller.close()
      },
    })
    const error = await broker
      .fetch('callout:Gateway/upload', { method: 'POST', body: stream })
      .catch((e: unknown) => e)
    expect(isCalloutError(error, 'BODY_NOT_REPLAYABLE')).toBe(true)
    expect(upstream.received.length).toBe(start)
  })
})
