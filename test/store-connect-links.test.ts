/**
 * Connect links in the store, on both dialects (SQLite and PostgreSQL): stored by hash, opened
 * exactly once even when two stores on one database race, expired and unknown links told apart
 * and left unchanged, the opening browser found by its cookie hash, and links expired for more
 * than a day forgotten.
 */
import { createHash } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { twoStores as makeTwoStores } from './helpers/two-stores.ts'

const stores = makeTwoStores('callout_connect')
afterAll(async () => stores.cleanup())

/** Two stores on one new database of `dialect`. */
const twoStores = (dialect: 'sqlite' | 'postgres') => stores.open(dialect)

const sha = (text: string) => createHash('sha256').update(text).digest('hex')
const NOW = 1_700_000_000_000

function link(token: string, overrides: { createdAt?: number; expiresAt?: number } = {}) {
  return {
    idHash: sha(token),
    namedCredential: 'Crm',
    externalCredential: 'Users',
    principal: 'EachUser',
    userId: 'alice',
    createdBy: 'admin:root',
    createdAt: overrides.createdAt ?? NOW,
    expiresAt: overrides.expiresAt ?? NOW + 900_000,
  }
}

describe.each(['sqlite', 'postgres'] as const)('connect links on %s', (dialect) => {
  it('opens a link exactly once across two stores, bound to the opening browser', async () => {
    const [a, b] = await twoStores(dialect)
    try {
      await a.putConnectLink(link('t1'))
      expect(await b.getConnectLink(sha('t1'))).toEqual(link('t1'))
      const uses = await Promise.all([
        a.useConnectLink(sha('t1'), sha('browser-a'), NOW + 1),
        b.useConnectLink(sha('t1'), sha('browser-b'), NOW + 1),
      ])
      expect(uses.filter((u) => u.ok)).toHaveLength(1)
      expect(uses.find((u) => !u.ok)).toEqual({ ok: false, reason: 'used' })
      const winner = uses[0]!.ok ? 'browser-a' : 'browser-b'
      const loser = uses[0]!.ok ? 'browser-b' : 'browser-a'
      expect(await b.connectLinkOfBrowser(sha(winner))).toEqual({ ...link('t1'), usedAt: NOW + 1 })
      expect(await a.connectLinkOfBrowser(sha(loser))).toBeUndefined()
      expect(await a.useConnectLink(sha('t1'), sha('browser-c'), NOW + 2)).toEqual({
        ok: false,
        reason: 'used',
      })
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('tells expired and unknown links apart and changes neither', async () => {
    const [a, b] = await twoStores(dialect)
    try {
      await a.putConnectLink(link('t2'))
      expect(await a.useConnectLink(sha('t2'), sha('x'), NOW + 900_000)).toEqual({
        ok: false,
        reason: 'expired',
      })
      expect((await b.getConnectLink(sha('t2')))?.usedAt).toBeUndefined()
      expect(await b.connectLinkOfBrowser(sha('x'))).toBeUndefined()
      expect(await a.useConnectLink(sha('nope'), sha('x'), NOW)).toEqual({
        ok: false,
        reason: 'unknown',
      })
      expect(await a.useConnectLink('not-a-hash', sha('x'), NOW)).toEqual({
        ok: false,
        reason: 'unknown',
      })
      await expect(a.useConnectLink(sha('t2'), 'cookie', NOW)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
      await expect(a.putConnectLink({ ...link('t3'), idHash: 't3' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
      await expect(a.putConnectLink({ ...link('t3'), userId: '' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
      // A day after a link expired, the next new link forgets it.
      const later = NOW + 900_000 + 24 * 60 * 60 * 1000
      await a.putConnectLink(link('t4', { createdAt: later, expiresAt: later + 60_000 }))
      expect(await b.getConnectLink(sha('t2'))).toBeUndefined()
      expect(await b.getConnectLink(sha('t4'))).toBeDefined()
    } finally {
      await a.close()
      await b.close()
    }
  })
})
