import { describe, expect, it } from 'vitest'
import { openMemoryStore } from '../../test/helpers/sqlite-memory-store.ts'
import { ClientAuthenticator } from './client-auth.ts'
import { newClientKey } from './client-key.ts'

async function rig(): Promise<{ auth: ClientAuthenticator; key: string }> {
  const store = await openMemoryStore()
  const { key, record } = newClientKey({
    name: 'ci',
    rules: ['Api'],
    anyUser: false,
    now: Date.now(),
  })
  await store.clientKeys.createClientKey(record)
  const auth = new ClientAuthenticator({ keys: store.clientKeys, clock: { now: () => Date.now() } })
  return { auth, key }
}

describe('ClientAuthenticator', () => {
  it('refuses a forged secret for a cached key id, through authenticate and peek', async () => {
    const { auth, key } = await rig()
    const forged = `${key.slice(0, 16)}${key.charAt(16) === '0' ? '1' : '0'}${key.slice(17)}`
    expect(auth.peek(key)).toBeUndefined() // nothing verified yet: the store must be read
    expect((await auth.authenticate(key)).name).toBe('ci')
    expect(auth.peek(key)?.name).toBe('ci')
    for (const attempt of [() => auth.authenticate(forged), async () => auth.peek(forged)]) {
      await expect(attempt()).rejects.toMatchObject({ code: 'CLIENT_KEY_INVALID' })
    }
  })

  it('peek leaves a missing or malformed key to authenticate, which names the problem', async () => {
    const { auth } = await rig()
    expect(auth.peek(undefined)).toBeUndefined()
    expect(auth.peek('ck_nope')).toBeUndefined()
    await expect(auth.authenticate(undefined)).rejects.toMatchObject({
      code: 'CLIENT_KEY_MISSING',
    })
    await expect(auth.authenticate('ck_nope')).rejects.toMatchObject({
      code: 'CLIENT_KEY_INVALID',
    })
  })
})
