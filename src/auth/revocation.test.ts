import { describe, expect, it } from 'vitest'
import { parseRevocationResponse } from './revocation.ts'

const FORM = 'application/x-www-form-urlencoded;charset=UTF-8'

describe('parseRevocationResponse', () => {
  it('200 is revoked', () => {
    expect(parseRevocationResponse({ status: 200, contentType: '', body: '' }, 'Sf')).toBe(
      'revoked',
    )
  })

  it("400 invalid_token (Salesforce's form-encoded answer for an unknown token) is already-invalid", () => {
    const body = 'error=invalid_token&error_description=invalid+token'
    expect(parseRevocationResponse({ status: 400, contentType: FORM, body }, 'Sf')).toBe(
      'already-invalid',
    )
  })

  it.each([
    [503, 'text/html', '<h1>down</h1>', 'HTTP 503'],
    [
      400,
      'application/json',
      '{"error":"unsupported_token_type","error_description":"no"}',
      'unsupported_token_type: no',
    ],
    [401, 'application/json', '{"error":"invalid_client"}', 'invalid_client'],
    [302, '', '', 'HTTP 302'],
  ])('%i %s is REVOCATION_FAILED naming the answer', (status, contentType, body, named) => {
    let error: unknown
    try {
      parseRevocationResponse({ status, contentType, body }, 'Sf')
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({ code: 'REVOCATION_FAILED', details: { status } })
    expect((error as Error).message).toContain(`(${named})`)
    expect((error as Error).message).toContain('AuthProvider "Sf"')
  })
})
