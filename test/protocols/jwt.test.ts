/**
 * End to end: the `jwt` protocol (a self-signed JWT per call, sent as `Authorization: Bearer`)
 * through `broker.fetch`. The upstream verifies every JWT with jose — RS256 against the public
 * key, HS256 against the shared secret — and checks iss, sub, aud, exp, iat, jti and kid, and that
 * each call carries a fresh jti.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isCalloutError, type Broker } from '../../src/index.ts'
import { makeHome, openTestBroker, type TestHome } from '../e2e/helpers/e2e.ts'
import { header, recordingUpstream, type Received, type RecordingUpstream } from './helpers.ts'

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const PRIVATE_PEM = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
const OTHER_PUBLIC = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey
const SHARED = randomBytes(32).toString('base64url') // 43 bytes
const AUDIENCE = 'https://api.example.test'

let upstream: RecordingUpstream
let home: TestHome
let broker: Broker

function bearer(request: Received): string {
  const match = /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/.exec(header(request, 'authorization') ?? '')
  if (match?.[1] === undefined) throw new Error('no Bearer JWT')
  return match[1]
}

beforeAll(async () => {
  upstream = await recordingUpstream()
  home = await makeHome({ JWT_PRIVATE_KEY: PRIVATE_PEM, JWT_SHARED: SHARED })
  broker = await openTestBroker(home, {
    externalCredentials: {
      RsaJwt: {
        protocol: 'jwt',
        jwt: {
          issuer: 'callout-tests',
          audience: AUDIENCE,
          validitySeconds: 120,
          keyId: 'key-2024',
          additionalClaims: { scope: 'orders:read' },
        },
        principals: {
          Service: {
            type: 'named',
            parameters: { subject: 'svc-orders' },
            secrets: { privateKey: '${env:JWT_PRIVATE_KEY}' },
          },
        },
      },
      HmacJwt: {
        protocol: 'jwt',
        jwt: { algorithm: 'HS256', issuer: 'callout-hs', audience: [AUDIENCE, 'second'] },
        principals: {
          Service: {
            type: 'named',
            parameters: { username: 'hs-user' },
            secrets: { sharedSecret: '${env:JWT_SHARED}' },
          },
        },
      },
    },
    namedCredentials: {
      Rsa: { url: `${upstream.origin}/rsa`, externalCredential: 'RsaJwt' },
      Hmac: { url: `${upstream.origin}/hmac`, externalCredential: 'HmacJwt' },
    },
  })
})

afterAll(async () => {
  await broker?.close()
  await upstream?.close()
  await home?.cleanup()
})

describe('jwt protocol, RS256', () => {
  it('sends a JWT the upstream verifies against the public key, with every registered claim', async () => {
    const payloads: JWTPayload[] = []
    upstream.check = async (request) => {
      const { payload, protectedHeader } = await jwtVerify(bearer(request), publicKey, {
        algorithms: ['RS256'],
        issuer: 'callout-tests',
        subject: 'svc-orders',
        audience: AUDIENCE,
        requiredClaims: ['iat', 'exp', 'jti'],
      })
      expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'key-2024' })
      payloads.push(payload)
      return { status: 200, body: { sub: payload.sub } }
    }
    const before = Math.floor(Date.now() / 1000)
    const first = await broker.fetch('callout:Rsa/orders?limit=1')
    const second = await broker.fetch('callout:Rsa/orders?limit=2')
    const after = Math.floor(Date.now() / 1000)
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({ sub: 'svc-orders' })
    expect(second.status).toBe(200)
    await second.arrayBuffer()

    expect(payloads).toHaveLength(2)
    for (const p of payloads) {
      expect(p.iat).toBeGreaterThanOrEqual(before)
      expect(p.iat).toBeLessThanOrEqual(after)
      expect(p.exp).toBe(p.iat! + 120)
      expect(p.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(p.scope).toBe('orders:read')
      expect(p.iss).toBe('callout-tests')
    }
    expect(payloads[0]!.jti).not.toBe(payloads[1]!.jti)
    expect(upstream.received.at(-1)?.url).toBe('/rsa/orders?limit=2')
  })

  it('mints a fresh jti on every one of many concurrent calls', async () => {
    upstream.check = () => ({ status: 200, body: {} })
    const start = upstream.received.length
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => broker.fetch(`callout:Rsa/item/${i}`)),
    )
    for (const r of responses) {
      expect(r.status).toBe(200)
      await r.arrayBuffer()
    }
    const jtis = upstream.received.slice(start).map((r) => decodeJwt(bearer(r)).jti)
    expect(jtis).toHaveLength(20)
    expect(new Set(jtis).size).toBe(20)
  })

  it('a JWT does not verify against another key (the check can fail)', async () => {
    let rejected: unknown
    upstream.check = async (request) => {
      try {
        await jwtVerify(bearer(request), OTHER_PUBLIC, { algorithms: ['RS256'] })
      } catch (error) {
        rejected = error
        return { status: 401, body: { error: 'invalid_token' } }
      }
      return { status: 200, body: {} }
    }
    const start = upstream.received.length
    const res = await broker.fetch('callout:Rsa/x')
    // A self-signed JWT has no token to refresh: the 401 is returned as-is, with no retry.
    expect(res.status).toBe(401)
    expect(upstream.received.length - start).toBe(1)
    await res.arrayBuffer()
    expect((rejected as { code?: string }).code).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED')
  })

  it("replaces the caller's own Authorization header with the JWT", async () => {
    upstream.check = () => ({ status: 200, body: {} })
    const res = await broker.fetch('callout:Rsa/x', {
      headers: { Authorization: 'Bearer caller-supplied', 'X-Trace': 't-1' },
    })
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    const got = upstream.received.at(-1)!
    expect(decodeProtectedHeader(bearer(got)).alg).toBe('RS256')
    expect(header(got, 'x-trace')).toBe('t-1')
  })
})

describe('jwt protocol, HS256', () => {
  it('sends a JWT the upstream verifies against the shared secret', async () => {
    const payloads: JWTPayload[] = []
    upstream.check = async (request) => {
      const { payload, protectedHeader } = await jwtVerify(
        bearer(request),
        new TextEncoder().encode(SHARED),
        {
          algorithms: ['HS256'],
          issuer: 'callout-hs',
          subject: 'hs-user',
          audience: 'second',
          requiredClaims: ['iat', 'exp', 'jti'],
        },
      )
      expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' })
      payloads.push(payload)
      return { status: 200, body: {} }
    }
    for (let i = 0; i < 3; i++) {
      const res = await broker.fetch('callout:Hmac/v1/ping', { method: 'POST', body: '{}' })
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }
    expect(payloads).toHaveLength(3)
    for (const p of payloads) {
      expect(p.aud).toEqual([AUDIENCE, 'second'])
      expect(p.exp).toBe(p.iat! + 300) // the default validity
    }
    expect(new Set(payloads.map((p) => p.jti)).size).toBe(3)
  })

  it('a JWT does not verify against another secret', async () => {
    const codes: string[] = []
    upstream.check = async (request) => {
      try {
        await jwtVerify(bearer(request), randomBytes(32), { algorithms: ['HS256'] })
      } catch (error) {
        codes.push((error as { code: string }).code)
      }
      return { status: 403, body: {} }
    }
    const res = await broker.fetch('callout:Hmac/x')
    expect(res.status).toBe(403)
    await res.arrayBuffer()
    expect(codes).toEqual(['ERR_JWS_SIGNATURE_VERIFICATION_FAILED'])
  })
})

describe('jwt protocol, configuration', () => {
  it('refuses an HS256 credential without a sharedSecret, or with a short one, at apply time', async () => {
    const doc = (secrets: Record<string, string>) => ({
      externalCredentials: {
        Short: {
          protocol: 'jwt',
          jwt: { algorithm: 'HS256' },
          principals: { P: { type: 'named', secrets } },
        },
      },
      namedCredentials: { Short: { url: `${upstream.origin}/s`, externalCredential: 'Short' } },
    })
    const other = await makeHome({ KEY: PRIVATE_PEM, SHORT: 'x'.repeat(31) })
    try {
      for (const secrets of [{ privateKey: '${env:KEY}' }, { sharedSecret: '${env:SHORT}' }]) {
        const error = await openTestBroker(other, doc(secrets)).then(
          async (b) => {
            await b.close()
            return undefined
          },
          (e: unknown) => e,
        )
        expect(isCalloutError(error, 'CONFIG_INVALID')).toBe(true)
        expect((error as Error).message).toContain('principals.P.secrets.sharedSecret')
        expect((error as Error).message).not.toContain('x'.repeat(31))
      }
    } finally {
      await other.cleanup()
    }
  })
})
