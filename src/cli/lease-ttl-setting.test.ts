import { describe, expect, it } from 'vitest'
import { parseServeConfig } from '../definitions/serve-config.ts'
import { isCalloutError } from '../errors.ts'
import { serveSettings } from './serve-settings.ts'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return isCalloutError(error) ? error.code : 'not a CalloutError'
  }
  return undefined
}

describe('--lease-ttl-ms / serve.leaseTtlMs', () => {
  it('defaults to the token manager lease TTL, and the flag wins over the file', () => {
    expect(serveSettings({}, undefined).leaseTtlMs).toBe(15_000)
    const file = parseServeConfig({ serve: { leaseTtlMs: 5_000 } })
    expect(serveSettings({}, file).leaseTtlMs).toBe(5_000)
    expect(serveSettings({ leaseTtlMs: '2500' }, file).leaseTtlMs).toBe(2_500)
  })

  it('refuses values that are not whole milliseconds from 1 s to 1 h, naming the flag', () => {
    for (const bad of ['999', '0', '-1', '1.5', 'abc', '', '3600001', '1e4']) {
      expect(codeOf(() => serveSettings({ leaseTtlMs: bad }, undefined))).toBe('INVALID_ARGUMENT')
    }
    let message = ''
    try {
      serveSettings({ leaseTtlMs: '10' }, undefined)
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toContain('--lease-ttl-ms')
    for (const bad of [10, -5, 1.5, '5000', null]) {
      expect(codeOf(() => parseServeConfig({ serve: { leaseTtlMs: bad } }))).toBe('CONFIG_INVALID')
    }
  })
})
