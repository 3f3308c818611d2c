import { describe, expect, it } from 'vitest'
import { CalloutError } from '../errors.ts'
import { cliMessage, withCliAdvice } from './cli-advice.ts'

describe('cliMessage', () => {
  it('USER_REQUIRED: --user instead of { user }', () => {
    const e = new CalloutError(
      'USER_REQUIRED',
      "Principal P of ExternalCredential E is per-user: name the end user, e.g. broker.fetch(url, { user: 'alice' }).",
    )
    expect(cliMessage(e)).toBe(
      'Principal P of ExternalCredential E is per-user: pass the end user with --user <id>.',
    )
  })

  it('a plain URL: --plain instead of allowPlainUrl', () => {
    const e = new CalloutError('CALLOUT_URL_MALFORMED', 'pass { allowPlainUrl: true }', {
      details: { rule: 'plain-url-not-allowed' },
    })
    expect(cliMessage(e)).toContain('pass --plain')
    expect(cliMessage(e)).not.toContain('allowPlainUrl')
    const other = new CalloutError('CALLOUT_URL_MALFORMED', 'no dots', {
      details: { rule: 'no-dot-segments' },
    })
    expect(cliMessage(other)).toBe('no dots')
  })

  it('per-user re-authentication: callout auth <Name> --user <id> instead of broker.authorizeUrl', () => {
    const e = new CalloutError(
      'NOT_AUTHENTICATED',
      "principal P of ExternalCredential E for user bob has not been authenticated yet. Send user bob a connect link (broker.authorizeUrl('Crm', { user: 'bob', … })).",
      { details: { namedCredential: 'Crm', userId: 'bob' } },
    )
    expect(cliMessage(e)).toBe(
      'principal P of ExternalCredential E for user bob has not been authenticated yet. Run `callout auth Crm --user bob`.',
    )
    const named = new CalloutError('NEEDS_REAUTH', 'Rejected. Run `callout auth Crm`.', {
      details: { namedCredential: 'Crm', userId: '' },
    })
    expect(cliMessage(named)).toBe('Rejected. Run `callout auth Crm`.')
  })

  it('keeps code, details and the original as cause', () => {
    const e = new CalloutError('USER_REQUIRED', 'X is per-user: pass { user }.', {
      details: { namedCredential: 'Crm' },
    })
    const out = withCliAdvice(e) as CalloutError
    expect(out.code).toBe('USER_REQUIRED')
    expect(out.details).toEqual({ namedCredential: 'Crm' })
    expect(out.cause).toBe(e)
    const same = new CalloutError('STORE_ERROR', 'x')
    expect(withCliAdvice(same)).toBe(same)
  })
})
