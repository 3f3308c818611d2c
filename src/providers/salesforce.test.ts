import { describe, expect, it } from 'vitest'
import {
  adviceFor,
  apiOriginFor,
  apiOriginReason,
  isInvalidSessionBody,
  isLightningHost,
  isLoginHost,
  isSessionNotValidForApi,
  scopeLacksRefreshToken,
} from './salesforce.ts'

describe('hosts', () => {
  it.each([
    ['https://login.salesforce.com', true],
    ['https://test.salesforce.com/services/oauth2/token', true],
    ['https://LOGIN.salesforce.com', true],
    ['https://acme.my.salesforce.com', false],
    ['https://login.salesforce.com.evil.test', false],
    ['not a url', false],
  ])('isLoginHost(%s) = %s', (url, expected) => expect(isLoginHost(url)).toBe(expected))

  it.each([
    ['https://acme.lightning.force.com', true],
    ['https://acme--c.visual.force.com', true],
    ['https://acme--c.vf.force.com', true],
    ['https://acme.my.site.com/shop', true],
    ['https://lightning.force.com', false],
    ['https://acme.my.salesforce.com', false],
    ['https://acme.lightning.force.com.evil.test', false],
    ['::', false],
  ])('isLightningHost(%s) = %s', (url, expected) => expect(isLightningHost(url)).toBe(expected))
})

describe('apiOriginFor', () => {
  const inst = 'https://acme.my.salesforce.com'
  it('uses instance_url for login and Lightning hosts', () => {
    expect(apiOriginFor('https://login.salesforce.com', inst)).toBe(inst)
    expect(apiOriginFor('https://acme.lightning.force.com/x', inst)).toBe(inst)
    expect(apiOriginReason('https://acme.lightning.force.com', inst)).toContain('Lightning')
  })
  it('keeps a My Domain or other URL, and the configured origin without instance_url', () => {
    expect(
      apiOriginFor('https://acme.my.salesforce.com/services', 'https://other.my.salesforce.com'),
    ).toBe(inst)
    expect(apiOriginFor('https://login.salesforce.com', undefined)).toBe(
      'https://login.salesforce.com',
    )
    expect(apiOriginFor('https://login.salesforce.com', 'garbage')).toBe(
      'https://login.salesforce.com',
    )
    expect(apiOriginReason('https://acme.my.salesforce.com', inst)).toBeUndefined()
  })
})

describe('REST error bodies', () => {
  const expired = '[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]'
  const scope =
    '[{"message":"This session is not valid for use with the REST API","errorCode":"INVALID_SESSION_ID"}]'
  const scope2 =
    '[{"message":"This session is not valid for use with the specified REST API endpoint. One of the following scopes is required: Manage user data via APIs, Full access","errorCode":"INVALID_SESSION_ID"}]'
  it('recognises an expired session in text, bytes and parsed form', () => {
    expect(isInvalidSessionBody(expired)).toBe(true)
    expect(isInvalidSessionBody(Buffer.from(expired))).toBe(true)
    expect(isInvalidSessionBody(JSON.parse(expired))).toBe(true)
    expect(isSessionNotValidForApi(expired)).toBe(false)
  })
  it('does not treat "not valid for use with the REST API" as expiry', () => {
    for (const b of [scope, scope2]) {
      expect(isInvalidSessionBody(b)).toBe(false)
      expect(isSessionNotValidForApi(b)).toBe(true)
    }
  })
  it.each([
    ['{"errorCode":"INVALID_SESSION_ID"}'],
    ['[{"errorCode":"NOT_FOUND","message":"x"}]'],
    ['not json'],
    ['[null,1,"x"]'],
    [''],
    [`[${'{"a":1},'.repeat(20000)}{}]`],
  ])('ignores %s', (b) => {
    expect(isInvalidSessionBody(b)).toBe(false)
    expect(isSessionNotValidForApi(b)).toBe(false)
  })
})

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
