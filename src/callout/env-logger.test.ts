import { describe, expect, it } from 'vitest'
import { loggerFromEnv } from './env-logger.ts'

describe('loggerFromEnv', () => {
  it('is undefined (silent) when CALLOUT_LOG_LEVEL is unset or empty', () => {
    expect(loggerFromEnv({})).toBeUndefined()
    expect(loggerFromEnv({ CALLOUT_LOG_LEVEL: ' ' })).toBeUndefined()
  })

  it('builds a pino logger at the level asked for', () => {
    const logger = loggerFromEnv({ CALLOUT_LOG_LEVEL: 'DEBUG' }) as unknown as { level: string }
    expect(logger.level).toBe('debug')
  })

  it('refuses an unknown level with CONFIG_INVALID listing the valid ones', () => {
    expect(() => loggerFromEnv({ CALLOUT_LOG_LEVEL: 'verbose' })).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('trace, debug, info, warn, error, fatal, silent'),
      }),
    )
  })
})
