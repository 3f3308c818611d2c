import { generateKeyPairSync } from 'node:crypto'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import type { ExternalCredential, Principal } from '../definitions/model.ts'
import { isCalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import { signCallJwt } from './jwt-protocol.ts'

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const clock = { now: () => 1_700_000_000_123 }
const base: ExternalCredential = {
  name: 'Jwt',
  protocol: 'jwt',
  additionalRefreshStatusCodes: [],
  authHeaders: [],
  principals: [],
  jwt: {
    issuer: 'callout',
    audience: ['api-a', 'api-b'],
    validitySeconds: 120,
    algorithm: 'RS256',
    keyId: 'k1',
    additionalClaims: { scope: 'read', iss: 'ignored' },
  },
}
const principal = (
  secrets: Record<string, Secret>,
  parameters: Record<string, string> = { subject: 'svc' },
): Principal => ({
  name: 'P',
  type: 'named',
  sequence: 1,
  parameters,
  secrets,
})

describe('signCallJwt', () => {
  it('signs RS256 with PKCS#1 keys and the configured claims (seconds, not ms)', async () => {
    const pem = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    const jwt = await signCallJwt(base, principal({ privateKey: new Secret(pem) }), { clock })
    const { payload, protectedHeader } = await jwtVerify(jwt, rsa.publicKey, {
      currentDate: new Date(clock.now()),
      audience: 'api-a',
    })
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: 'k1' })
    expect(payload).toMatchObject({
      iss: 'callout',
      sub: 'svc',
      aud: ['api-a', 'api-b'],
      iat: 1_700_000_000,
      exp: 1_700_000_120,
      scope: 'read',
    })
    expect(typeof payload.jti).toBe('string')
  })

  it('names the end user of a per-user principal in sub (jwt.subject with $User.Username)', async () => {
    const pem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const ec = { ...base, jwt: { ...base.jwt!, subject: "{!$User.Username & '@acme.test'}" } }
    const each: Principal = { ...principal({ privateKey: new Secret(pem) }, {}), type: 'per-user' }
    const subs = await Promise.all(
      ['alice', 'bob'].map(async (user) => {
        const jwt = await signCallJwt(ec, each, { clock, user })
        return (await jwtVerify(jwt, rsa.publicKey, { currentDate: new Date(clock.now()) })).payload
          .sub
      }),
    )
    expect(subs).toEqual(['alice@acme.test', 'bob@acme.test'])
  })

  it('signs ES256', async () => {
    const pem = ec256.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const ec = { ...base, jwt: { ...base.jwt!, algorithm: 'ES256' as const } }
    const jwt = await signCallJwt(ec, principal({ privateKey: new Secret(pem) }), { clock })
    expect(decodeProtectedHeader(jwt).alg).toBe('ES256')
    await jwtVerify(jwt, ec256.publicKey, { currentDate: new Date(clock.now()) })
  })

  it('signs HS256 with a long enough shared secret only', async () => {
    const ec = { ...base, jwt: { ...base.jwt!, algorithm: 'HS256' as const } }
    const secret = 's'.repeat(32)
    const jwt = await signCallJwt(ec, principal({ sharedSecret: new Secret(secret) }), { clock })
    await jwtVerify(jwt, Buffer.from(secret), { currentDate: new Date(clock.now()) })
    const err = await signCallJwt(ec, principal({ sharedSecret: new Secret('short') }), {
      clock,
    }).catch((e: unknown) => e)
    expect(isCalloutError(err, 'CONFIG_INVALID')).toBe(true)
  })

  it.each([
    ['missing key', {}],
    [
      'garbage key',
      {
        privateKey: new Secret(
          '-----BEGIN PRIVATE KEY-----\nnope-canary\n-----END PRIVATE KEY-----',
        ),
      },
    ],
    [
      'EC key for RS256',
      {
        privateKey: new Secret(
          ec256.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        ),
      },
    ],
  ])('%s → CONFIG_INVALID without key material', async (_n, secrets) => {
    const err = await signCallJwt(base, principal(secrets as Record<string, Secret>), {
      clock,
    }).catch((e: unknown) => e)
    expect(isCalloutError(err, 'CONFIG_INVALID')).toBe(true)
    expect(JSON.stringify((err as Error).message)).not.toContain('canary')
  })
})
