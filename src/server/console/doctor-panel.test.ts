import { describe, expect, it } from 'vitest'
import { doctorVoice } from './doctor-panel.ts'

const LIBRARY_REAUTH =
  "The refresh token for principal Each of ExternalCredential E for user alice was rejected (invalid_grant: expired, revoked or rotated away); the principal must re-authenticate. Send user alice a connect link (broker.authorizeUrl('Team', { user: 'alice', … }))."

describe('doctorVoice', () => {
  it('names the console page\u2019s buttons for each flow and principal', () => {
    const browser = doctorVoice('console', 'browser')
    expect(browser.reauth('Target')).toBe('press Authenticate on this page')
    expect(browser.reauth('Team', { type: 'per-user', userId: 'alice' })).toBe(
      'send user alice a new connect link (Create connect link on this page) to authenticate again',
    )
    expect(doctorVoice('console', 'jwt-bearer').reauth('Server')).toBe(
      'press Run online checks on this page (it requests a token now)',
    )
    expect(
      doctorVoice('console', 'jwt-bearer').reauth('Each', { type: 'per-user', userId: 'bob' }),
    ).toBe('fix the cause; the next callout for user bob requests a new token')
  })

  it('rewrites the library\u2019s `callout auth` and broker.authorizeUrl advice', () => {
    const console = doctorVoice('console', 'browser')
    expect(console.advice('Re-authenticate: run `callout auth <Name>`.', 'Target')).toBe(
      'Re-authenticate: press Authenticate on this page.',
    )
    expect(console.advice('Not authenticated: run callout auth Target', 'Target')).toBe(
      'Not authenticated: press Authenticate on this page',
    )
    expect(console.advice('Run `callout auth Team --user bob`.', 'Team')).toBe(
      'Send user bob a new connect link (Create connect link on this page) to authenticate again.',
    )
    const perUser = console.advice(LIBRARY_REAUTH, 'Team')
    expect(perUser).toContain(
      'Send user alice a new connect link (Create connect link on this page) to authenticate again.',
    )
    expect(perUser).not.toContain('broker.')
    const api = doctorVoice('api', 'browser').advice(LIBRARY_REAUTH, 'Team')
    expect(api).toContain('POST /admin/api/namedCredentials/Team/connectLinks')
  })

  it('names the Edit page in the console for enabled and checkPath, the operation in the API', () => {
    const console = doctorVoice('console', 'browser')
    for (const todo of [console.enable('Target'), console.checkPath]) {
      expect(todo).toContain('Edit page (Edit on this page)')
      expect(todo).not.toContain('config file')
      expect(todo).not.toContain('/admin/api')
    }
    expect(doctorVoice('api', 'browser').enable('Target')).toContain(
      'PUT /admin/api/namedCredentials/Target',
    )
  })
})
