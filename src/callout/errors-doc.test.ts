import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERROR_CATALOGUE, type ErrorCode } from '../errors.ts'

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')

  it.each(Object.keys(ERROR_CATALOGUE) as ErrorCode[])(
    'documents %s with its HTTP status',
    (code) => {
      const row = doc.split('\n').find((line) => line.split('|')[1]?.trim() === `\`${code}\``)
      expect(row, `docs/errors.md has no table row for ${code}`).toBeDefined()
      expect(row?.split('|')[2]?.trim()).toBe(String(ERROR_CATALOGUE[code].status))
    },
  )

  it.each([
    'INVALID_SESSION_ID',
    'SAME_ORG_SSO',
    'redirect_uri_mismatch',
    'invalid_client_id',
    'invalid_grant',
    'refresh_token',
    'lightning.force.com',
  ])('explains the upstream failure %s', (text) => {
    expect(doc).toContain(text)
  })
})
