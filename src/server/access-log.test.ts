import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { accessLogOf, type AccessEntry } from './access-log.ts'

/** A pino logger writing into an array, and its lines. */
function capture(options: pino.LoggerOptions = {}): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = []
  const logger = pino(options, { write: (line: string) => void lines.push(line) })
  return { logger, lines }
}

const withoutTime = (line: string): string => line.replace(/"time":\d+/, '"time":0')

const ENTRIES: AccessEntry[] = [
  {
    method: 'GET',
    path: '/callout/Api/x',
    status: 200,
    ms: 1.2,
    credential: 'Api',
    key: 'a1b2c3d4e5f6',
  },
  { method: 'POST', path: '/callout/Api/y', status: 502, ms: 30000, code: 'UPSTREAM_UNREACHABLE' },
  { method: undefined, path: '', status: 400, ms: 0 },
  // Client-controlled paths: quotes, backslashes, control characters, non-ASCII, lone surrogates.
  { method: 'GET', path: '/callout/Api/"q"\\\u0001\u001f\u007f/é/😀/\ud800', status: 404, ms: 0.1 },
]

describe('accessLogOf', () => {
  it.each([
    ['the service base of callout serve', { base: { service: 'callout' } }],
    ["pino's default base (pid, hostname)", {}],
    ['no base at all', { base: null }],
  ])('writes exactly the line logger.info(entry, "request") writes, with %s', (_name, options) => {
    const ours = capture(options)
    const pinos = capture(options)
    const write = accessLogOf(ours.logger)!
    for (const entry of ENTRIES) {
      write(entry)
      pinos.logger.info({ ...entry }, 'request')
    }
    expect(ours.lines.map(withoutTime)).toEqual(pinos.lines.map(withoutTime))
    expect(ours.lines[0]).toMatch(/^\{"level":30,"time":\d{13},/)
  })

  it("writes a child logger's bindings as pino does", () => {
    const ours = capture({ base: { service: 'callout' } })
    const pinos = capture({ base: { service: 'callout' } })
    accessLogOf(ours.logger.child({ instance: 'a"b' }))!(ENTRIES[0]!)
    pinos.logger.child({ instance: 'a"b' }).info({ ...ENTRIES[0]! }, 'request')
    expect(ours.lines.map(withoutTime)).toEqual(pinos.lines.map(withoutTime))
  })

  it('writes nothing when the level is above info, and again once it is lowered', () => {
    const { logger, lines } = capture({ level: 'warn' })
    const write = accessLogOf(logger)!
    write(ENTRIES[0]!)
    expect(lines).toEqual([])
    logger.level = 'info'
    write(ENTRIES[0]!)
    expect(lines).toHaveLength(1)
  })

  it('hands a logger it cannot reproduce to pino itself (message key, formatters, mixin, time)', () => {
    for (const options of [
      { messageKey: 'message' },
      { formatters: { level: (label: string) => ({ level: label }) } },
      { mixin: () => ({ extra: 1 }) },
      { timestamp: pino.stdTimeFunctions.isoTime },
    ] as pino.LoggerOptions[]) {
      const ours = capture(options)
      const pinos = capture(options)
      accessLogOf(ours.logger)!(ENTRIES[0]!)
      pinos.logger.info({ ...ENTRIES[0]! }, 'request')
      const clean = (l: string): string => withoutTime(l).replace(/"time":"[^"]*"/, '"time":""')
      expect(ours.lines.map(clean)).toEqual(pinos.lines.map(clean))
    }
  })

  it('is undefined without a logger', () => {
    expect(accessLogOf(undefined)).toBeUndefined()
  })
})
