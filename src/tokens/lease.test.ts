import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../../test/helpers/memory-store.ts'
import { withLease } from './lease.ts'

const fast = { ttlMs: 60, maxWaitMs: 1_000, initialPollMs: 1, maxPollMs: 5 }

describe('withLease', () => {
  it('runs under the lease, renews it while running, and releases it', async () => {
    const store = new MemoryStore()
    const outcome = await withLease(
      store,
      'l',
      'a',
      async () => {
        expect(store.leases.get('l')?.holder).toBe('a')
        await new Promise((r) => setTimeout(r, 150)) // longer than the TTL: renewal keeps it
        expect(await store.acquireLease('l', 'b', 60)).toBe(false)
        return 7
      },
      fast,
    )
    expect(outcome).toEqual({ acquired: true, value: 7 })
    expect(store.leases.size).toBe(0)
  })

  it('waits for another holder and stops early when its work is visible', async () => {
    const store = new MemoryStore()
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
    const store = new MemoryStore()
    await store.acquireLease('l', 'other', 10_000)
    await expect(
      withLease(store, 'l', 'me', async () => 1, { ...fast, maxWaitMs: 30 }),
    ).rejects.toMatchObject({ code: 'STORE_CONFLICT' })
  })

  it('releases the lease when the work throws', async () => {
    const store = new MemoryStore()
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
    expect(store.leases.size).toBe(0)
  })
})
