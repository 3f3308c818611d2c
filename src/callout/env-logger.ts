/**
 * The default logger: silent, unless `CALLOUT_LOG_LEVEL` asks for pino's JSON lines on stderr.
 */
import { pino } from 'pino'
import { CalloutError } from '../errors.ts'
import type { Logger } from '../tokens/types.ts'

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const

/**
 * A pino logger on stderr at `CALLOUT_LOG_LEVEL`, or undefined when the variable is unset. Log
 * payloads never carry secrets (they are `Secret`s, which print `[redacted]`); common secret field
 * names are redacted as well, as a second line of defence.
 *
 * @example
 * // CALLOUT_LOG_LEVEL=debug node app.js
 * const logger = loggerFromEnv(process.env)
 */
export function loggerFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Logger | undefined {
  const level = env.CALLOUT_LOG_LEVEL?.trim().toLowerCase()
  if (level === undefined || level === '') return undefined
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `CALLOUT_LOG_LEVEL must be one of ${LEVELS.join(', ')}; it is "${level.slice(0, 20)}".`,
    )
  }
  return pino(
    {
      name: 'callout',
      level,
      redact: {
        paths: [
          '*.accessToken',
          '*.refreshToken',
          '*.access_token',
          '*.refresh_token',
          '*.password',
          '*.clientSecret',
          '*.consumerSecret',
          '*.authorization',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  )
}
