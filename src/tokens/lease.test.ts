import { describe, expect, it } from 'vitest'
import { openMemoryStore } from '../../test/helpers/sqlite-memory-store.ts'
import { withLease } from './lease.ts'

const fast = { ttlMs: 60, maxWaitMs: 1_000, initialPollMs: 1, maxPollMs: 5 }

describe('withLease', () => {
  it('runs under the lease, renews it while running, and releases it', async () => {
    const store = await openMemoryStore()
    const outcome = await withLease(
      store,
      'l',
      'a',
      async () => {
        expect(await store.renewLease('l', 'a', 60)).toBe(true)
        await new Promise((r) => setTimeout(r, 150)) // longer than the TTL: renewal keeps it
        expect(await store.acquireLease('l', 'b', 60)).toBe(false)
        return 7
      },
      fast,
    )
    expect(outcome).toEqual({ acquired: true, value: 7 })
    // Released: another holder takes it at once.
    expect(await store.acquireLease('l', 'probe', 60)).toBe(true)
  })

  it('waits for another holder and stops early when its work is visible', async () => {
    const store = await openMemoryStore()
    await store.acquireLease('l', 'other', 10_000)
    let checks = 0
    const outcome = await withLease(store, 'l', 'me', async () => 1, {
      ...fast,
      otherHolderDone: async () => ++checks >= 3,
    })
    expect(outcome).toEqual({ acquired: false })
    expect(checks).toBe(3)
  })

  it('gives up with STORE_CONFLICT after maxWaitMs', async () => {
    const store = await openMemoryStore()
    await store.acquireLease('l', 'other', 10_000)
    await expect(
      withLease(store, 'l', 'me', async () => 1, { ...fast, maxWaitMs: 30 }),
    ).rejects.toMatchObject({ code: 'STORE_CONFLICT' })
  })

  it('releases the lease when the work throws', async () => {
    const store = await openMemoryStore()
    await expect(
      withLease(
        store,
        'l',
        'me',
        async () => {
          throw new Error('x')
        },
        fast,
      ),
    ).rejects.toThrow('x')
    // Released: another holder takes it at once.
    expect(await store.acquireLease('l', 'probe', 60)).toBe(true)
  })
})
