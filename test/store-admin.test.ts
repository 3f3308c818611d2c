/**
 * The admin repository on both dialects (SQLite and PostgreSQL): users, lockout counting,
 * sessions with expiry, admin API tokens and the audit log; two stores on one database see the
 * same sessions (several `callout serve` instances share logins).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { twoStores as makeTwoStores } from './helpers/two-stores.ts'

const stores = makeTwoStores('callout_admin')
afterAll(async () => stores.cleanup())

/** Two stores on one new database of `dialect`. */
const twoStores = (dialect: 'sqlite' | 'postgres') => stores.open(dialect)

describe.each(['sqlite', 'postgres'] as const)('admin store on %s', (dialect) => {
  it('keeps users unique, counts failures atomically and locks at the threshold', async () => {
    const [a, b] = await twoStores(dialect)
    try {
      const now = 1_700_000_000_000
      await a.admin.createAdminUser({
        id: 'adm_1',
        username: 'alice',
        passwordHash: 'scrypt$x',
        createdAt: now,
        updatedAt: now,
      })
      await expect(
        b.admin.createAdminUser({
          id: 'adm_2',
          username: 'alice',
          passwordHash: 'scrypt$y',
          createdAt: now,
          updatedAt: now,
        }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
      expect(await b.admin.countAdminUsers()).toBe(1)
      const policy = { maxFailures: 5, lockMs: 60_000 }
      const results = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          (i % 2 === 0 ? a : b).admin.recordLoginFailure('adm_1', now, policy),
        ),
      )
      expect(results.map((r) => r.failedLogins).sort()).toEqual([1, 2, 3, 4])
      expect(results.every((r) => r.lockedUntil === undefined)).toBe(true)
      const fifth = await a.admin.recordLoginFailure('adm_1', now, policy)
      expect(fifth).toEqual({ failedLogins: 5, lockedUntil: now + 60_000 })
      expect(await b.admin.getAdminUser('alice')).toMatchObject({
        failedLogins: 0,
        lockedUntil: now + 60_000,
      })
      // A successful login opens a session and clears the counter and the lock.
      await b.admin.openSession({
        idHash: 'h0',
        userId: 'adm_1',
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + 1000,
      })
      const cleared = await a.admin.getAdminUser('alice')
      expect(cleared?.lockedUntil).toBeUndefined()
      expect(cleared?.failedLogins).toBe(0)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('shares sessions across stores, honours expiry, and ends them with a new password', async () => {
    const [a, b] = await twoStores(dialect)
    try {
      const now = 1_700_000_000_000
      await a.admin.createAdminUser({
        id: 'adm_1',
        username: 'alice',
        passwordHash: 'scrypt$x',
        createdAt: now,
        updatedAt: now,
      })
      await a.admin.openSession({
        idHash: 'h1',
        userId: 'adm_1',
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + 1000,
      })
      expect(await b.admin.getSession('h1', now + 999)).toMatchObject({
        username: 'alice',
        expiresAt: now + 1000,
      })
      expect(await b.admin.getSession('h1', now + 1000)).toBeUndefined()
      await b.admin.touchSession('h1', now + 500, now + 5000)
      expect(await a.admin.getSession('h1', now + 4000)).toMatchObject({ lastSeenAt: now + 500 })
      expect(await b.admin.setAdminPassword('alice', 'scrypt$z', now)).toBe(true)
      expect(await a.admin.getSession('h1', now)).toBeUndefined()
      await a.admin.openSession({
        idHash: 'h2',
        userId: 'adm_1',
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + 10,
      })
      expect(await b.admin.deleteExpiredSessions(now + 10)).toBe(1)
      expect(await b.admin.setAdminPassword('nobody', 'scrypt$z', now)).toBe(false)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('stores admin tokens and audit entries, newest first', async () => {
    const [a, b] = await twoStores(dialect)
    try {
      await a.admin.createAdminToken({
        id: 'aaaaaaaaaaaa',
        name: 'bot',
        tokenHash: 'f'.repeat(64),
        createdBy: 'cli',
        createdAt: 1,
      })
      expect(await b.admin.getAdminToken('aaaaaaaaaaaa')).toEqual({
        id: 'aaaaaaaaaaaa',
        name: 'bot',
        tokenHash: 'f'.repeat(64),
        createdBy: 'cli',
        createdAt: 1,
      })
      expect(await b.admin.revokeAdminToken('aaaaaaaaaaaa', 5)).toBe(true)
      expect(await a.admin.revokeAdminToken('aaaaaaaaaaaa', 6)).toBe(false)
      expect((await a.admin.listAdminTokens())[0]?.revokedAt).toBe(5)
      for (let at = 1; at <= 3; at++) {
        await (at % 2 === 0 ? a : b).admin.appendAudit({
          at,
          actor: 'cli',
          action: `x.${at}`,
          target: 'T/x',
          details: { n: at, names: ['a', 'b'] },
        })
      }
      const entries = await a.admin.listAudit()
      expect(entries.map((e) => e.action)).toEqual(['x.3', 'x.2', 'x.1'])
      expect(entries[0]).toMatchObject({ details: { n: 3, names: ['a', 'b'] } })
      expect((await a.admin.listAudit({ before: 3, limit: 1 })).map((e) => e.action)).toEqual([
        'x.2',
      ])
    } finally {
      await a.close()
      await b.close()
    }
  })
})
