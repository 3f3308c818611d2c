import { describe, expect, it } from 'vitest'
import { deadlineError, requestSignal, startDeadline } from './deadline.ts'

describe('startDeadline', () => {
  it('is undefined without a deadline', () => {
    expect(startDeadline(undefined, undefined)).toBeUndefined()
  })
  it.each([
    [1_000, undefined, 1_000, 'definition'],
    [undefined, 500, 500, 'option'],
    [1_000, 500, 500, 'option'],
    [1_000, 5_000, 1_000, 'definition'],
  ] as const)('definition %s, option %s → %s ms from the %s', (def, opt, ms, source) => {
    const deadline = startDeadline(def, opt)
    expect(deadline).toMatchObject({ ms, source })
    expect(deadline?.signal.aborted).toBe(false)
  })
  it.each([0, -5, 2.5, Number.NaN, '100'])('refuses the option %j', (value) => {
    expect(() => startDeadline(undefined, value)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
  it('fires its signal at the deadline', async () => {
    const deadline = startDeadline(undefined, 20)!
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(deadline.signal.aborted).toBe(true)
  })
})

describe('requestSignal', () => {
  it("combines the caller's signal with the deadline", () => {
    const caller = new AbortController()
    const deadline = startDeadline(10_000, undefined)!
    expect(requestSignal(caller.signal, undefined)).toBe(caller.signal)
    expect(requestSignal(undefined, deadline)).toBe(deadline.signal)
    const both = requestSignal(caller.signal, deadline)!
    caller.abort()
    expect(both.aborted).toBe(true)
  })
})

describe('deadlineError', () => {
  it('names the deadline and where it came from', () => {
    const error = deadlineError(
      startDeadline(1_500, undefined)!,
      { target: 'Api', origin: 'https://api.example.com' },
      new Error('aborted'),
    )
    expect(error).toMatchObject({
      code: 'UPSTREAM_TIMEOUT',
      details: { timeout: 'deadline', deadlineMs: 1_500, deadlineSource: 'definition' },
    })
    expect(error.message).toContain('deadlineMs on the Named Credential')
  })
})
