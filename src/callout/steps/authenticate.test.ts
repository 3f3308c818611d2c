import { describe, expect, it } from 'vitest'
import {
  authProvider,
  externalCredential,
  namedCredential,
  principal,
} from '../../../test/helpers/callout-fixtures.ts'
import { CalloutError } from '../../errors.ts'
import { Secret } from '../../secrets/secret.ts'
import { createAuthenticators } from '../auth-helpers.ts'
import type { CredentialTarget, OutboundRequest } from '../types.ts'
import { authenticate, authenticateNow } from './authenticate.ts'

const helpers = createAuthenticators()
const credential = {
  externalCredential: 'Api',
  principal: 'Default',
  userId: '',
  status: 'authenticated' as const,
  accessToken: new Secret('tok'),
  version: 1,
}
function target(over: { ec?: object; nc?: object; p?: object } = {}): CredentialTarget {
  return {
    kind: 'credential',
    namedCredential: namedCredential(over.nc),
    externalCredential: externalCredential(over.ec),
    principal: principal({
      parameters: { key: 'k', crlf: 'a\r\nb' },
      secrets: { password: new Secret('pw') },
      ...over.p,
    }),
    provider: authProvider(),
    userId: '',
    url: new URL('https://api.example.com/v1/x'),
  }
}
const req = (headers: Record<string, string> = {}, body?: string): OutboundRequest => ({
  method: 'POST',
  url: new URL('https://api.example.com/v1/x'),
  headers,
  body,
})

async function code(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (e as CalloutError).code,
  )
}

describe('authenticate', () => {
  it('adds a Bearer token for oauth2', async () => {
    expect((await authenticate(target(), req(), credential, helpers)).headers.authorization).toBe(
      'Bearer tok',
    )
  })
  it('skips Authorization when generateAuthorizationHeader is false but still sends formula headers', async () => {
    const t = target({
      nc: {
        generateAuthorizationHeader: false,
        headers: [{ name: 'X-Key', formula: '$Credential.Api.key', sequence: 1 }],
      },
    })
    const h = (await authenticate(t, req(), credential, helpers)).headers
    expect(h.authorization).toBeUndefined()
    expect(h['x-key']).toBe('k')
  })
  it('orders ExternalCredential then Named Credential headers by sequence (later wins)', async () => {
    const t = target({
      ec: {
        authHeaders: [
          { name: 'X-A', formula: "'ec2'", sequence: 2 },
          { name: 'X-A', formula: "'ec1'", sequence: 1 },
        ],
      },
      nc: { headers: [{ name: 'X-A', formula: "'nc'", sequence: 1 }] },
    })
    expect((await authenticate(t, req(), credential, helpers)).headers['x-a']).toBe('nc')
  })
  it('rejects CR/LF from a formula header as HEADER_INJECTION', async () => {
    const t = target({
      nc: { headers: [{ name: 'X-Bad', formula: '$Credential.Api.crlf', sequence: 1 }] },
    })
    expect(await code(authenticate(t, req(), credential, helpers))).toBe('HEADER_INJECTION')
  })
  it('evaluates caller merge fields in headers and body only when allowed', async () => {
    const off = await authenticate(
      target(),
      req({ 'x-k': '{!$Credential.Api.key}' }, 'b={!$Credential.Api.key}'),
      credential,
      helpers,
    )
    expect(off.headers['x-k']).toBe('{!$Credential.Api.key}')
    expect(off.body).toBe('b={!$Credential.Api.key}')
    const on = await authenticate(
      target({ nc: { allowMergeFieldsInHeader: true, allowMergeFieldsInBody: true } }),
      req({ 'x-k': '{!$Credential.Api.key}' }, 'b={!$Credential.Api.key}'),
      credential,
      helpers,
    )
    expect(on.headers['x-k']).toBe('k')
    expect(on.body).toBe('b=k')
  })
  it('rejects a merged caller header with CR/LF', async () => {
    const t = target({ nc: { allowMergeFieldsInHeader: true } })
    expect(
      await code(authenticate(t, req({ 'x-k': '{!$Credential.Api.crlf}' }), credential, helpers)),
    ).toBe('HEADER_INJECTION')
  })
  it('builds Basic from username + password and explains what is missing', async () => {
    const t = target({ ec: { protocol: 'basic' }, p: { parameters: { username: 'u' } } })
    expect((await authenticate(t, req(), undefined, helpers)).headers.authorization).toBe(
      `Basic ${Buffer.from('u:pw').toString('base64')}`,
    )
    const missing = target({ ec: { protocol: 'basic' } })
    expect(await code(authenticate(missing, req(), undefined, helpers))).toBe('CONFIG_INVALID')
  })
  it('signs AWS SigV4 over the final request', async () => {
    const t = target({
      ec: { protocol: 'aws-sigv4', sigv4: { region: 'eu-west-1', service: 'execute-api' } },
      p: {
        parameters: {},
        secrets: { accessKeyId: new Secret('AKIDEXAMPLE'), secretAccessKey: new Secret('secret') },
      },
    })
    const h = (await authenticate(t, req({}, 'payload'), undefined, helpers)).headers
    expect(h.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request/,
    )
  })
  it('never echoes a secret in an error', async () => {
    const t = target({
      nc: { headers: [{ name: 'X-Bad', formula: '$Credential.Api.password & BLOB', sequence: 1 }] },
    })
    const e = await authenticate(t, req(), credential, helpers).catch((x: unknown) => x as Error)
    expect(String((e as Error).message)).not.toContain('pw')
  })
})

describe('authenticateNow', () => {
  it('builds the same request as authenticate for protocols with credentials at hand', async () => {
    const cases = [
      target(),
      target({ ec: { protocol: 'basic' }, p: { parameters: { username: 'u' } } }),
      target({ ec: { protocol: 'none' } }),
      target({ nc: { generateAuthorizationHeader: false } }),
      target({
        nc: {
          allowMergeFieldsInHeader: true,
          headers: [{ name: 'X-B', formula: '"b"', sequence: 2 }],
        },
        ec: { authHeaders: [{ name: 'X-A', formula: '$Credential.Api.key', sequence: 1 }] },
      }),
    ]
    for (const t of cases) {
      const request = req({ 'x-m': '{!$Credential.Api.key}' }, 'body')
      const now = authenticateNow(t, request, credential, helpers)
      expect(now).toBeDefined()
      expect(now).toEqual(await authenticate(t, request, credential, helpers))
      expect(request.headers).toEqual({ 'x-m': '{!$Credential.Api.key}' }) // not mutated
    }
  })

  it('defers to authenticate for jwt and aws-sigv4, and throws what authenticate rejects with', () => {
    for (const protocol of ['jwt', 'aws-sigv4'] as const) {
      expect(
        authenticateNow(target({ ec: { protocol } }), req(), undefined, helpers),
      ).toBeUndefined()
    }
    const missing = target({ ec: { protocol: 'basic' }, p: { parameters: {} } })
    expect(() => authenticateNow(missing, req(), undefined, helpers)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    )
  })
})
