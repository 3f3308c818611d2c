import { describe, expect, it } from 'vitest'
import {
  adviceFor,
  loginOrUiHostRedirectAdvice,
  salesforceAdvice,
  scopeLacksRefreshToken,
  sessionNotValidForApiAdvice,
} from './salesforce-advice.ts'

describe('adviceFor', () => {
  it.each([
    ['INVALID_SESSION_ID', /My Domain/],
    ['SAME_ORG_SSO', /own org/],
    ['redirect_uri_mismatch', /Callback URL/],
    ['invalid_client_id', /2–10 minutes/],
    ['invalid_grant', /rotated out/],
    ['expired access/refresh token', /callout auth/],
    ['missing_refresh_token', /refresh_token/],
    ['lightning_redirect', /my\.salesforce\.com/],
    ['OAUTH_APP_ACCESS_DENIED', /Permitted Users/],
    [
      'error=redirect_uri_mismatch&error_description=redirect_uri%20must%20match%20configuration',
      /Callback URL/,
    ],
  ])('%s', (code, pattern) => expect(adviceFor(code)).toMatch(pattern))
  it('returns undefined for unknown input', () => {
    expect(adviceFor('something else')).toBeUndefined()
    expect(adviceFor('toString')).toBeUndefined()
  })
  it('scopeLacksRefreshToken', () => {
    expect(scopeLacksRefreshToken('api full')).toBe(true)
    expect(scopeLacksRefreshToken('refresh_token api')).toBe(false)
    expect(scopeLacksRefreshToken('offline_access')).toBe(false)
    expect(scopeLacksRefreshToken(undefined)).toBe(true)
  })
})

describe('advice texts', () => {
  it('one text per situation, naming only what exists', () => {
    expect(salesforceAdvice('SAME_ORG_SSO')).toBe(adviceFor('SAME_ORG_SSO'))
    expect(sessionNotValidForApiAdvice('SfBrowser', 'Target')).toMatch(
      /ExternalCredential SfBrowser.*callout auth Target/,
    )
    expect(loginOrUiHostRedirectAdvice('Target')).toMatch(/Named Credential Target .*My Domain/)
    for (const situation of ['invalid_grant', 'redirect_uri_mismatch'] as const)
      expect(salesforceAdvice(situation)).not.toMatch(/console/)
  })
})
