import { describe, expect, it } from 'vitest'
import type { StoreEvent, StoreNotifications } from '../store/notifications.ts'
import { followStore } from './follow-store.ts'

function channel(state: StoreNotifications['state'] = 'live') {
  const listeners = new Set<(e: StoreEvent) => void>()
  const notifications: StoreNotifications = {
    state,
    lastError: undefined,
    subscribe: (l) => {
      listeners.add(l)
      return () => listeners.delete(l)
    },
    close: async () => undefined,
  }
  return { notifications, emit: (e: StoreEvent) => listeners.forEach((l) => l(e)), listeners }
}

const tick = () => new Promise((r) => setTimeout(r, 10))

describe('followStore', () => {
  it('reloads on a definitions notification and after a reconnect, forgets a revoked key, and never overlaps reloads', async () => {
    const { notifications, emit, listeners } = channel()
    const reasons: string[] = []
    const forgotten: (string | undefined)[] = []
    let release!: () => void
    let active = 0
    let maxActive = 0
    const target = {
      reload: async () => {
        active++
        maxActive = Math.max(maxActive, active)
        await new Promise<void>((r) => (release = r))
        active--
      },
      forgetClientKey: (id?: string) => void forgotten.push(id),
    }
    const following = followStore(
      target,
      { notifications, definitionsStamp: async () => 'same' },
      { reloadIntervalMs: 0, onReload: (why) => reasons.push(why) },
    )
    await tick()
    emit({ kind: 'definitions' })
    await tick()
    // Two more changes during the running reload: one more reload after it, not two.
    emit({ kind: 'definitions' })
    emit({ kind: 'definitions' })
    release()
    await tick()
    release()
    await tick()
    expect(reasons).toEqual(['definitions changed (notified)', 'definitions changed (notified)'])
    expect(maxActive).toBe(1)
    emit({ kind: 'client-key', id: 'abc123' })
    expect(forgotten).toEqual(['abc123'])
    emit({ kind: 'resync' })
    await tick()
    release()
    await tick()
    expect(reasons.at(-1)).toBe('store channel reconnected')
    // Credential and lease events are the token manager's business.
    emit({
      kind: 'credential',
      key: { externalCredential: 'A', principal: 'P', userId: '' },
      version: 2,
      status: 'authenticated',
    })
    emit({ kind: 'lease-released', name: 'token:A/P/' })
    await tick()
    expect(reasons).toHaveLength(3)
    following.stop()
    expect(listeners.size).toBe(0)
  })

  it('on the channel’s first connection, reloads only if the definitions changed since they were read; after that, on every reconnect', async () => {
    for (const changed of [false, true]) {
      const { notifications, emit } = channel('connecting')
      let stamp = 'v1'
      const reasons: string[] = []
      const following = followStore(
        { reload: async () => undefined, forgetClientKey: () => undefined },
        { notifications, definitionsStamp: async () => stamp },
        { reloadIntervalMs: 0, onReload: (why) => reasons.push(why) },
      )
      await tick()
      if (changed) stamp = 'v2'
      emit({ kind: 'resync' })
      await tick()
      expect(reasons).toEqual(changed ? ['definitions changed (store channel connected)'] : [])
      emit({ kind: 'resync' })
      await tick()
      expect(reasons.at(-1)).toBe('store channel reconnected')
      following.stop()
    }
  })

  it('falls back to polling the definitions stamp (SQLite: no channel)', async () => {
    let stamp = 'v1'
    const reasons: string[] = []
    const following = followStore(
      { reload: async () => undefined, forgetClientKey: () => undefined },
      { definitionsStamp: async () => stamp },
      { reloadIntervalMs: 20, onReload: (why) => reasons.push(why) },
    )
    await new Promise((r) => setTimeout(r, 60))
    expect(reasons).toEqual([])
    stamp = 'v2'
    await new Promise((r) => setTimeout(r, 80))
    expect(reasons).toEqual(['definitions changed'])
    following.stop()
  })
})
