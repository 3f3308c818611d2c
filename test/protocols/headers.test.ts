/**
 * End to end: the protocols that only shape headers, through `broker.fetch` — `custom` (formula
 * headers: an HMAC signature the upstream recomputes), `none` (no Authorization at all, the
 * caller's own dropped), `basic` with non-ASCII credentials (UTF-8, RFC 7617), and merge fields
 * in caller headers and bodies only where the Named Credential allows them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isCalloutError, type Broker } from '../../src/index.ts'
import { makeHome, openTestBroker, type TestHome } from '../e2e/helpers/e2e.ts'
import { header, recordingUpstream, type Received, type RecordingUpstream } from './helpers.ts'

const CLIENT_ID = 'client-7f3a'
const SIGNING_SECRET = 'sîgning-sécret-✓-0123456789'
const BASIC_USER = 'jürgen.müller'
const BASIC_PASSWORD = 'pässwörd €uro 日本語 🔑:colon'

let upstream: RecordingUpstream
let home: TestHome
let broker: Broker

function expectedSignature(clientId: string, secret: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(Buffer.from(`${clientId}:fixed`, 'utf8'))
    .digest('base64')
}

/** What the custom-protocol upstream checks: the signature over the client id, constant-time. */
function verifySignature(request: Received): boolean {
  const got = Buffer.from(header(request, 'x-signature') ?? '', 'utf8')
  const want = Buffer.from(
    expectedSignature(header(request, 'x-client-id') ?? '', SIGNING_SECRET),
    'utf8',
  )
  return got.length === want.length && timingSafeEqual(got, want)
}

beforeAll(async () => {
  upstream = await recordingUpstream()
  home = await makeHome({
    SIGNING_SECRET,
    BASIC_PASSWORD,
    CRLF_PARAM: 'x',
  })
  broker = await openTestBroker(home, {
    externalCredentials: {
      Ec: {
        protocol: 'custom',
        authHeaders: {
          'X-Signature':
            "BASE64ENCODE(HMAC('sha256', {!$Credential.Ec.clientId} & ':' & 'fixed', {!$Credential.Ec.secret}))",
          'X-Client-Id': '{!$Credential.Ec.clientId}',
        },
        principals: {
          Signer: {
            type: 'named',
            parameters: { clientId: CLIENT_ID },
            secrets: { secret: '${env:SIGNING_SECRET}' },
          },
        },
      },
      Open: { protocol: 'none' },
      Legacy: {
        protocol: 'basic',
        principals: {
          Svc: {
            type: 'named',
            parameters: { username: BASIC_USER },
            secrets: { password: '${env:BASIC_PASSWORD}' },
          },
        },
      },
    },
    namedCredentials: {
      Signed: {
        url: `${upstream.origin}/signed`,
        externalCredential: 'Ec',
        headers: [
          { name: 'Accept', formula: "'application/json'" },
          { name: 'X-Api-Version', formula: "'2024-06-01'" },
        ],
      },
      Merging: {
        url: `${upstream.origin}/merging`,
        externalCredential: 'Ec',
        allowMergeFieldsInHeader: true,
        allowMergeFieldsInBody: true,
      },
      Public: { url: `${upstream.origin}/public`, externalCredential: 'Open' },
      Erp: { url: `${upstream.origin}/erp`, externalCredential: 'Legacy' },
    },
  })
})

afterAll(async () => {
  await broker?.close()
  await upstream?.close()
  await home?.cleanup()
})

describe('custom protocol: formula headers', () => {
  it('sends an HMAC signature the upstream recomputes, and no Authorization', async () => {
    upstream.check = (request) =>
      verifySignature(request)
        ? { status: 200, body: { ok: true } }
        : { status: 401, body: { error: 'bad signature' } }
    const res = await broker.fetch('callout:Signed/orders', {
      headers: { Authorization: 'Bearer from-the-caller' },
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
    const got = upstream.received.at(-1)!
    expect(header(got, 'x-signature')).toBe(expectedSignature(CLIENT_ID, SIGNING_SECRET))
    expect(header(got, 'x-client-id')).toBe(CLIENT_ID)
    expect(header(got, 'accept')).toBe('application/json')
    expect(header(got, 'x-api-version')).toBe('2024-06-01')
    expect(got.headers.authorization).toBeUndefined()
  })

  it('the upstream check can fail: a signature over other data does not match', () => {
    const got = upstream.received.at(-1)!
    const forged: Received = {
      ...got,
      headers: { ...got.headers, 'x-client-id': 'client-other' },
    }
    expect(verifySignature(got)).toBe(true)
    expect(verifySignature(forged)).toBe(false)
  })

  it('merge fields in caller headers and bodies are evaluated only where allowed', async () => {
    upstream.check = () => ({ status: 200, body: {} })
    const init = {
      method: 'POST',
      headers: { 'X-On-Behalf': 'id={!$Credential.Ec.clientId}' },
      body: '{"client":"{!$Credential.Ec.clientId}"}',
    }
    const allowed = await broker.fetch('callout:Merging/x', init)
    expect(allowed.status).toBe(200)
    await allowed.arrayBuffer()
    const merged = upstream.received.at(-1)!
    expect(header(merged, 'x-on-behalf')).toBe(`id=${CLIENT_ID}`)
    expect(merged.body.toString('utf8')).toBe(`{"client":"${CLIENT_ID}"}`)

    const refused = await broker.fetch('callout:Signed/x', init)
    expect(refused.status).toBe(200)
    await refused.arrayBuffer()
    const literal = upstream.received.at(-1)!
    expect(header(literal, 'x-on-behalf')).toBe('id={!$Credential.Ec.clientId}')
    expect(literal.body.toString('utf8')).toBe('{"client":"{!$Credential.Ec.clientId}"}')
  })

  it('a merge field naming an unknown parameter is FORMULA_INVALID, sent nowhere', async () => {
    const start = upstream.received.length
    const error = await broker
      .fetch('callout:Merging/x', { headers: { 'X-Leak': '{!$Credential.Other.secret}' } })
      .catch((e: unknown) => e)
    expect(isCalloutError(error, 'FORMULA_INVALID')).toBe(true)
    expect((error as Error).message).not.toContain(SIGNING_SECRET)
    expect(upstream.received.length).toBe(start)
  })

  it('a merge field whose value would split the header is HEADER_INJECTION, sent nowhere', async () => {
    const start = upstream.received.length
    const error = await broker
      .fetch('callout:Merging/x', {
        headers: { 'X-Evil': "{!'a' & BLOB('\\n') & 'X-Injected: 1'}" },
      })
      .catch((e: unknown) => e)
    // BLOB gives bytes, which "&" refuses; the plain newline literal is what splits a header.
    expect(isCalloutError(error, 'FORMULA_INVALID')).toBe(true)
    const newline = await broker
      .fetch('callout:Merging/x', { headers: { 'X-Evil': "{!'a\\nX-Injected: 1'}" } })
      .catch((e: unknown) => e)
    expect(isCalloutError(newline, 'HEADER_INJECTION')).toBe(true)
    expect(upstream.received.length).toBe(start)
  })
})

describe('none protocol', () => {
  it('sends no Authorization, and drops the caller’s own credentials', async () => {
    upstream.check = () => ({ status: 200, body: {} })
    const res = await broker.fetch('callout:Public/status', {
      headers: {
        authorization: 'Basic c2VjcmV0OnNlY3JldA==',
        'proxy-authorization': 'Basic eDp5',
        'x-keep': 'kept',
      },
    })
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    const got = upstream.received.at(-1)!
    expect(got.url).toBe('/public/status')
    expect(got.headers.authorization).toBeUndefined()
    expect(got.headers['proxy-authorization']).toBeUndefined()
    expect(header(got, 'x-keep')).toBe('kept')
  })
})

describe('basic protocol', () => {
  it('encodes a non-ASCII username and password as UTF-8 (RFC 7617 §2.1)', async () => {
    upstream.check = (request) => {
      const match = /^Basic ([A-Za-z0-9+/]+=*)$/.exec(header(request, 'authorization') ?? '')
      if (match === null) return { status: 401, body: {} }
      const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      return decoded.slice(0, colon) === BASIC_USER && decoded.slice(colon + 1) === BASIC_PASSWORD
        ? { status: 200, body: { user: decoded.slice(0, colon) } }
        : { status: 401, body: {} }
    }
    const res = await broker.fetch('callout:Erp/api/me')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ user: BASIC_USER })
    const auth = header(upstream.received.at(-1)!, 'authorization')!
    expect(auth).toBe(
      `Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`, 'utf8').toString('base64')}`,
    )
    // Not Latin-1: the euro sign and CJK would not survive it.
    expect(auth).not.toBe(
      `Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`, 'latin1').toString('base64')}`,
    )
  })
})
