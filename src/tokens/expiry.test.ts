import { describe, expect, it } from 'vitest'
import { effectiveExpiresAt, refreshDueAt, sessionTimeoutFor } from './expiry.ts'

describe('effectiveExpiresAt', () => {
  it('prefers the stored expiresAt', () => {
    expect(effectiveExpiresAt({ expiresAt: 5, issuedAt: 1 }, { sessionTimeoutSeconds: 100 })).toBe(
      5,
    )
  })
  it('derives Salesforce expiry from issuedAt + sessionTimeoutSeconds', () => {
    expect(effectiveExpiresAt({ issuedAt: 1_000 }, { sessionTimeoutSeconds: 7_200 })).toBe(
      7_201_000,
    )
  })
  it('is unknown without expires_in or a session timeout', () => {
    expect(effectiveExpiresAt({ issuedAt: 1_000 }, {})).toBeUndefined()
    expect(effectiveExpiresAt({}, { sessionTimeoutSeconds: 60 })).toBeUndefined()
  })
})

describe('refreshDueAt', () => {
  it('refreshes 60 s before a long-lived token expires', () => {
    expect(refreshDueAt({ issuedAt: 0, expiresAt: 3_600_000 }, {})).toBe(3_540_000)
  })
  it('refreshes at 90% of a short lifetime', () => {
    expect(refreshDueAt({ issuedAt: 0, expiresAt: 100_000 }, {})).toBe(90_000)
  })
  it('uses the full margin when the lifetime is unknown', () => {
    expect(refreshDueAt({ expiresAt: 100_000 }, {})).toBe(40_000)
  })
  it('honours custom margins', () => {
    expect(
      refreshDueAt({ issuedAt: 0, expiresAt: 1_000_000 }, {}, { refreshMarginMs: 5_000 }),
    ).toBe(995_000)
  })
  it('is undefined when the expiry is unknown', () => {
    expect(refreshDueAt({ issuedAt: 0 }, {})).toBeUndefined()
  })
})

describe('sessionTimeoutFor', () => {
  it('keeps a configured sessionTimeoutSeconds', () => {
    expect(sessionTimeoutFor({ sessionTimeoutSeconds: 900 }, { type: 'salesforce' })).toEqual({
      sessionTimeoutSeconds: 900,
    })
  })
  it("assumes Salesforce's 2-hour default for Salesforce providers only", () => {
    expect(sessionTimeoutFor({}, { type: 'salesforce' })).toEqual({ sessionTimeoutSeconds: 7200 })
    expect(sessionTimeoutFor({}, { type: 'oidc' })).toEqual({})
    expect(sessionTimeoutFor({}, undefined)).toEqual({})
    expect(
      effectiveExpiresAt({ issuedAt: 1_000 }, sessionTimeoutFor({}, { type: 'salesforce' })),
    ).toBe(7_201_000)
  })
})
