import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { AuthProvider, ExternalCredential } from '../definitions/model.ts'
import { isCalloutError } from '../errors.ts'
import {
  buildAuthorizationUrl,
  createAuthorizationRequest,
  validateCallback,
} from './authorization-code.ts'

const provider: AuthProvider = {
  name: 'SF',
  type: 'salesforce',
  consumerKey: 'ck',
  usePkce: true,
  clientAuth: 'client_secret_post',
  allowInsecureHttp: false,
  defaultScopes: 'api',
}
const ec: ExternalCredential = {
  name: 'SfApi',
  protocol: 'oauth2',
  flow: 'browser',
  scope: 'refresh_token api',
  additionalRefreshStatusCodes: [],
  authHeaders: [],
  principals: [],
}
const endpoints = {
  tokenUrl: 'https://login.salesforce.com/services/oauth2/token',
  authorizeUrl: 'https://login.salesforce.com/services/oauth2/authorize?foo=bar',
}
const STATE = 'a'.repeat(43)

function err(fn: () => unknown): {
  code: string
  message: string
  details: Record<string, unknown>
} {
  try {
    fn()
  } catch (e) {
    if (isCalloutError(e)) return e as never
    throw e
  }
  throw new Error('expected an error')
}

describe('createAuthorizationRequest', () => {
  it('creates ≥128-bit state, S256 PKCE and a nonce for OIDC', async () => {
    const r = await createAuthorizationRequest({ oidc: true })
    expect(Buffer.from(r.state, 'base64url').length).toBeGreaterThanOrEqual(16)
    expect(r.codeChallenge).toBe(createHash('sha256').update(r.codeVerifier).digest('base64url'))
    expect(r.nonce).toBeDefined()
    const r2 = await createAuthorizationRequest()
    expect(r2.nonce).toBeUndefined()
    expect(r2.state).not.toBe(r.state)
  })
})

describe('buildAuthorizationUrl', () => {
  it('builds the Salesforce URL with scope override, PKCE and prompt, keeping existing query', () => {
    const url = buildAuthorizationUrl({
      provider,
      endpoints,
      externalCredential: ec,
      redirectUri: 'https://callout.test/cb',
      state: STATE,
      codeChallenge: 'chal',
      prompt: 'login consent',
    })
    expect(url.origin + url.pathname).toBe('https://login.salesforce.com/services/oauth2/authorize')
    expect(Object.fromEntries(url.searchParams)).toEqual({
      foo: 'bar',
      response_type: 'code',
      client_id: 'ck',
      redirect_uri: 'https://callout.test/cb',
      scope: 'refresh_token api',
      state: STATE,
      code_challenge: 'chal',
      code_challenge_method: 'S256',
      prompt: 'login consent',
    })
  })
  it('requires a code challenge with PKCE, a long state and an authorize URL', () => {
    expect(
      err(() =>
        buildAuthorizationUrl({
          provider,
          endpoints,
          externalCredential: ec,
          redirectUri: 'x',
          state: STATE,
        }),
      ).code,
    ).toBe('INVALID_ARGUMENT')
    expect(
      err(() =>
        buildAuthorizationUrl({
          provider,
          endpoints,
          externalCredential: ec,
          redirectUri: 'x',
          state: 'short',
          codeChallenge: 'c',
        }),
      ).code,
    ).toBe('INVALID_ARGUMENT')
    expect(
      err(() =>
        buildAuthorizationUrl({
          provider,
          endpoints: { tokenUrl: 'https://t' },
          externalCredential: ec,
          redirectUri: 'x',
          state: STATE,
          codeChallenge: 'c',
        }),
      ).code,
    ).toBe('CONFIG_INVALID')
  })
})

describe('validateCallback', () => {
  it('returns the code', () => {
    expect(validateCallback(new URLSearchParams({ code: 'abc', state: STATE }), STATE)).toBe('abc')
    expect(
      validateCallback({ code: 'abc', state: STATE, iss: 'https://i' }, STATE, {
        expectedIssuer: 'https://i',
      }),
    ).toBe('abc')
  })
  it.each([
    ['missing state', { code: 'c' }, 'state_missing'],
    ['wrong state', { code: 'c', state: 'b'.repeat(43) }, 'state_mismatch'],
    ['no code', { state: STATE }, 'code_missing'],
    ['other issuer', { code: 'c', state: STATE, iss: 'https://evil' }, 'issuer_mismatch'],
  ])('%s → AUTHORIZATION_FAILED', (_n, params, reason) => {
    const e = err(() => validateCallback(params, STATE, { expectedIssuer: 'https://i' }))
    expect(e.code).toBe('AUTHORIZATION_FAILED')
    expect(e.details.reason).toBe(reason)
  })
  it('mentions CSRF on a state mismatch', () => {
    expect(err(() => validateCallback({ code: 'c', state: 'x' }, STATE)).message).toMatch(/CSRF/)
  })
  it('rejects duplicated parameters', () => {
    const p = new URLSearchParams([
      ['code', 'a'],
      ['code', 'b'],
      ['state', STATE],
    ])
    expect(err(() => validateCallback(p, STATE)).details.parameter).toBe('code')
  })
  it.each([
    [
      { error: 'access_denied', error_description: 'end-user denied authorization' },
      /denied access/,
    ],
    [
      {
        error: 'redirect_uri_mismatch',
        error_description: 'redirect_uri must match configuration',
      },
      /must equal "https:\/\/callout\.test\/cb" exactly/,
    ],
    [{ error: 'OAUTH_APP_ACCESS_DENIED' }, /Permitted Users/],
    [
      { ErrorCode: 'SAME_ORG_SSO', ErrorDescription: 'Cannot sign on into same org' },
      /points at its own org/,
    ],
    [{ error: 'invalid_client_id' }, /2–10 minutes/],
    [{ error: 'server_error' }, /Check the AuthProvider/],
  ] as [Record<string, string>, RegExp][])(
    'error %j → AUTHORIZATION_FAILED with advice',
    (params, advice) => {
      const e = err(() =>
        validateCallback({ ...params, state: STATE }, STATE, {
          redirectUri: 'https://callout.test/cb',
        }),
      )
      expect(e.code).toBe('AUTHORIZATION_FAILED')
      expect(e.message).toMatch(advice)
      expect(e.details.error).toBe(params.error ?? params.ErrorCode)
    },
  )
  it('an error with a forged state is reported as a state mismatch, and error text is sanitized', () => {
    expect(
      err(() => validateCallback({ error: 'access_denied', state: 'forged' }, STATE)).details
        .reason,
    ).toBe('state_mismatch')
    const e = err(() =>
      validateCallback(
        { error: 'x\r\nSet-Cookie: a', error_description: '<script>'.repeat(100) },
        STATE,
      ),
    )
    expect(e.details.error).toBe('x Set-Cookie: a')
    expect(String(e.details.error_description).length).toBeLessThanOrEqual(301)
  })
})
