import { describe, expect, it } from 'vitest'
import { CalloutError } from '../../errors.ts'
import { translateUpstreamError } from './translate-error.ts'

const ctx = { target: 'Api', origin: 'https://api.example.com', timeoutMs: 100 }
const withCode = (code: string) => Object.assign(new Error(`failed ${code}`), { code })

describe('translateUpstreamError', () => {
  it.each([
    ['UND_ERR_HEADERS_TIMEOUT', 'UPSTREAM_TIMEOUT', 504],
    ['UND_ERR_BODY_TIMEOUT', 'UPSTREAM_TIMEOUT', 504],
    ['UND_ERR_CONNECT_TIMEOUT', 'UPSTREAM_TIMEOUT', 504],
    ['ECONNREFUSED', 'UPSTREAM_UNREACHABLE', 502],
    ['ENOTFOUND', 'UPSTREAM_UNREACHABLE', 502],
    ['ECONNRESET', 'UPSTREAM_UNREACHABLE', 502],
    ['UND_ERR_SOCKET', 'UPSTREAM_UNREACHABLE', 502],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'UPSTREAM_TLS_ERROR', 502],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'UPSTREAM_TLS_ERROR', 502],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UPSTREAM_TLS_ERROR', 502],
    ['UND_ERR_INVALID_ARG', 'INVALID_ARGUMENT', 400],
    ['SOMETHING_NEW', 'UPSTREAM_UNREACHABLE', 502],
  ])('%s → %s (%i) with the cause kept', (raw, code, status) => {
    const original = withCode(raw)
    const e = translateUpstreamError(original, ctx) as CalloutError
    expect(e).toBeInstanceOf(CalloutError)
    expect(e.code).toBe(code)
    expect(e.status).toBe(status)
    expect(e.cause).toBe(original)
  })

  it('a closed https connection names the mutual TLS cause (TLS 1.3 client certificate refusal)', () => {
    for (const raw of ['UND_ERR_SOCKET', 'ECONNRESET']) {
      const tls = translateUpstreamError(withCode(raw), ctx) as CalloutError
      expect(tls.code).toBe('UPSTREAM_UNREACHABLE')
      expect(tls.message).toContain('check the clientCertificate of Api')
      const plain = translateUpstreamError(withCode(raw), {
        ...ctx,
        origin: 'http://127.0.0.1:8080',
      }) as CalloutError
      expect(plain.message).not.toContain('clientCertificate')
    }
    const refused = translateUpstreamError(withCode('ECONNREFUSED'), ctx) as CalloutError
    expect(refused.message).not.toContain('clientCertificate')
  })

  it('finds a code on a nested cause (fetch-style TypeError)', () => {
    const e = translateUpstreamError(
      new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') }),
      ctx,
    ) as CalloutError
    expect(e.code).toBe('UPSTREAM_UNREACHABLE')
    expect(e.details.cause).toBe('ECONNREFUSED')
  })

  it('passes CalloutErrors through and rethrows a caller abort reason', () => {
    const ce = new CalloutError('HEADER_INJECTION', 'x')
    expect(translateUpstreamError(ce, ctx)).toBe(ce)
    const controller = new AbortController()
    const reason = new Error('stop')
    controller.abort(reason)
    expect(
      translateUpstreamError(withCode('UND_ERR_ABORTED'), { ...ctx, signal: controller.signal }),
    ).toBe(reason)
  })
})
