import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import { parseStoreUrl } from './open-store.ts'
import { redactStoreUrl, redactStoreUrlsIn } from './postgres.ts'

describe('parseStoreUrl', () => {
  it.each([
    [undefined, { dialect: 'sqlite', path: join('/h', 'callout.db') }],
    ['', { dialect: 'sqlite', path: join('/h', 'callout.db') }],
    [':memory:', { dialect: 'sqlite', path: ':memory:' }],
    ['sqlite::memory:', { dialect: 'sqlite', path: ':memory:' }],
    ['sqlite:./data/c.db', { dialect: 'sqlite', path: './data/c.db' }],
    ['sqlite:///var/lib/c.db', { dialect: 'sqlite', path: '/var/lib/c.db' }],
    [
      'postgres://u:p@db:5432/callout',
      { dialect: 'postgres', url: 'postgres://u:p@db:5432/callout' },
    ],
    ['postgresql://db/callout', { dialect: 'postgres', url: 'postgresql://db/callout' }],
  ])('%s', (url, expected) => {
    expect(parseStoreUrl(url, '/h')).toEqual(expected)
  })

  it.each([
    'mysql://db/x',
    'sqlite:',
    'sqlite:a\0b',
    'postgres://u:p@[bad/x',
    '/just/a/path',
    'http://db',
  ])('rejects %j with CONFIG_INVALID without echoing a password', (url) => {
    try {
      parseStoreUrl(url, '/h')
      expect.unreachable()
    } catch (error) {
      expect(isCalloutError(error, 'CONFIG_INVALID')).toBe(true)
      expect((error as Error).message).not.toContain(':p@')
    }
  })
})

describe('redactStoreUrl', () => {
  it('drops the password and query', () => {
    expect(
      redactStoreUrl('postgres://app:hunter2@db:5432/callout?sslmode=require&password=x'),
    ).toBe('postgres://app@db:5432/callout')
    expect(redactStoreUrl('not a url :hunter2')).not.toContain('hunter2')
  })

  it('redacts every URL inside a message, and leaves the rest of the text', () => {
    expect(
      redactStoreUrlsIn(
        'ECONNREFUSED: connect to postgres://app:hunter2@db:5432/callout?password=x and ' +
          "'postgresql://ops:s3cr3t@10.0.0.2/db' failed",
      ),
    ).toBe(
      "ECONNREFUSED: connect to postgres://app@db:5432/callout and 'postgresql://ops@10.0.0.2/db' failed",
    )
    expect(redactStoreUrlsIn('pg://u:p/w@host failed')).not.toContain('p/w')
    expect(redactStoreUrlsIn('no URL here')).toBe('no URL here')
  })
})
