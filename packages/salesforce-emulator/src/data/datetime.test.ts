import { describe, expect, it } from 'vitest'
import { formatDate, formatDateTime, parseDate, parseDateTime } from './datetime.ts'

describe('datetime', () => {
  it('formats Salesforce datetimes with +0000', () => {
    expect(formatDateTime(Date.UTC(2026, 10, 29))).toBe('2026-11-29T00:00:00.000+0000')
    expect(formatDate(Date.UTC(2026, 10, 29, 23))).toBe('2026-11-29')
  })

  it('parses the zone forms Salesforce accepts', () => {
    const ms = Date.UTC(2026, 0, 1, 12, 30, 0, 250)
    expect(parseDateTime('2026-01-01T12:30:00.250Z')).toBe(ms)
    expect(parseDateTime('2026-01-01T12:30:00.250+0000')).toBe(ms)
    expect(parseDateTime('2026-01-01T14:30:00.250+02:00')).toBe(ms)
    expect(parseDateTime('2026-01-01T12:30:00')).toBeUndefined()
    expect(parseDateTime('2026-02-30T00:00:00Z')).toBeUndefined()
  })

  it('rejects impossible dates', () => {
    expect(parseDate('2026-02-29')).toBeUndefined()
    expect(parseDate('2028-02-29')).toBe(Date.UTC(2028, 1, 29))
  })
})
