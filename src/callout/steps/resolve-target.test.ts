import { describe, expect, it } from 'vitest'
import {
  authProvider,
  definitions,
  externalCredential,
  namedCredential,
  principal,
} from '../../../test/helpers/callout-fixtures.ts'
import { allowAll, checkAccess, checkAccessNow } from './check-access.ts'
import { ResolvedTargets, resolveTarget } from './resolve-target.ts'
import type { CalloutTarget } from '../types.ts'

const defs = definitions({
  authProviders: [authProvider()],
  externalCredentials: [
    externalCredential({
      principals: [
        principal({ name: 'Shared', sequence: 2 }),
        principal({ name: 'Mine', type: 'per-user', sequence: 1 }),
      ],
    }),
    externalCredential({
      name: 'OnlyUsers',
      principals: [principal({ name: 'U', type: 'per-user' })],
    }),
    externalCredential({ name: 'NoProvider', authProvider: 'Missing' }),
  ],
  namedCredentials: [
    namedCredential(),
    namedCredential({ name: 'Users', externalCredential: 'OnlyUsers' }),
    namedCredential({ name: 'Broken', externalCredential: 'Nope' }),
    namedCredential({ name: 'NoProv', externalCredential: 'NoProvider' }),
  ],
})

describe('resolveTarget', () => {
  it('picks the named principal without a user and the per-user one with a user', () => {
    const shared = resolveTarget(defs, 'callout:Api/x')
    expect(shared.kind === 'credential' && [shared.principal.name, shared.userId]).toEqual([
      'Shared',
      '',
    ])
    const mine = resolveTarget(defs, 'callout:Api/x', { user: 'alice' })
    expect(mine.kind === 'credential' && [mine.principal.name, mine.userId]).toEqual([
      'Mine',
      'alice',
    ])
  })
  it.each([
    ['callout:Users/x', {}, 'USER_REQUIRED'],
    ['callout:Api/x', { principal: 'Nope' }, 'INVALID_ARGUMENT'],
    ['callout:Api/x', { principal: 'Mine' }, 'USER_REQUIRED'],
    ['callout:Broken/x', {}, 'CONFIG_INVALID'],
    ['callout:NoProv/x', {}, 'CONFIG_INVALID'],
  ])('%s %j → %s', (url, options, code) => {
    expect(() => resolveTarget(defs, url, options)).toThrow(expect.objectContaining({ code }))
  })
})

describe('checkAccess', () => {
  it('allows by default and denies with ACCESS_DENIED when the policy says no', async () => {
    const target = resolveTarget(defs, 'callout:Api/x')
    await expect(checkAccess(target, allowAll)).resolves.toBeUndefined()
    await expect(
      checkAccess(target, ({ client }) => client === 'ck_good', 'ck_bad'),
    ).rejects.toMatchObject({ code: 'ACCESS_DENIED' })
    await expect(
      checkAccess(target, ({ client }) => client === 'ck_good', 'ck_good'),
    ).resolves.toBeUndefined()
  })
})

describe('checkAccessNow', () => {
  const target = resolveTarget(defs, 'callout:Api/x')
  it('decides at once for allowAll and synchronous policies', () => {
    expect(checkAccessNow(target, allowAll)).toBeUndefined()
    expect(checkAccessNow(target, () => true, 'ck_a')).toBeUndefined()
    expect(() => checkAccessNow(target, () => false, 'ck_a')).toThrow(
      expect.objectContaining({
        code: 'ACCESS_DENIED',
        details: { target: 'Api', client: 'ck_a' },
      }),
    )
  })
  it('returns a promise only for an asynchronous policy, with the same verdicts', async () => {
    await expect(checkAccessNow(target, async () => true)).resolves.toBeUndefined()
    await expect(checkAccessNow(target, async () => false)).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    })
  })
})

describe('ResolvedTargets', () => {
  const resolved = () => new ResolvedTargets((t: CalloutTarget) => t)
  const url = (t: CalloutTarget) => t.url.href
  const user = (t: CalloutTarget) => (t.kind === 'credential' ? [t.principal.name, t.userId] : [])

  it('returns the same target for the same input and options on the same snapshot', () => {
    const targets = resolved()
    const a = targets.get(defs, 'callout:Api/x?q=1')
    expect(targets.get(defs, 'callout:Api/x?q=1')).toBe(a)
    expect(targets.get(defs, new URL('callout:Api/x?q=1'))).toBe(a)
    expect(a).toEqual(resolveTarget(defs, 'callout:Api/x?q=1'))
    expect(url(targets.get(defs, 'callout:Api/x?q=2'))).toBe('https://api.example.com/v1/x?q=2')
  })

  it('resolves again for a new definitions snapshot (apply/reload replaces the object)', () => {
    const targets = resolved()
    expect(url(targets.get(defs, 'callout:Api/x'))).toBe('https://api.example.com/v1/x')
    const reloaded = definitions({
      authProviders: [authProvider()],
      externalCredentials: [externalCredential()],
      namedCredentials: [namedCredential({ url: 'https://moved.example.com/v2' })],
    })
    expect(url(targets.get(reloaded, 'callout:Api/x'))).toBe('https://moved.example.com/v2/x')
    const disabled = definitions({
      externalCredentials: [externalCredential()],
      namedCredentials: [namedCredential({ enabled: false })],
    })
    expect(() => targets.get(disabled, 'callout:Api/x')).toThrow(
      expect.objectContaining({ code: 'CREDENTIAL_DISABLED' }),
    )
  })

  it('keys on user and principal: never serves one user the target of another', () => {
    const targets = resolved()
    expect(user(targets.get(defs, 'callout:Api/x'))).toEqual(['Shared', ''])
    expect(user(targets.get(defs, 'callout:Api/x', { user: 'alice' }))).toEqual(['Mine', 'alice'])
    expect(user(targets.get(defs, 'callout:Api/x', { user: 'bob' }))).toEqual(['Mine', 'bob'])
    expect(user(targets.get(defs, 'callout:Api/x', { user: 'alice' }))).toEqual(['Mine', 'alice'])
    expect(user(targets.get(defs, 'callout:Api/x', { user: '' }))).toEqual(['Shared', ''])
    expect(
      user(targets.get(defs, 'callout:Api/x', { user: 'alice', principal: 'Shared' })),
    ).toEqual(['Shared', ''])
    // A user name that looks like a composite key does not collide with one.
    const tricky = targets.get(defs, 'callout:Api/x', { user: '","Shared' })
    expect(user(tricky)).toEqual(['Mine', '","Shared'])
    expect(() => targets.get(defs, 'callout:Api/x', { principal: '' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => targets.get(defs, 'callout:Users/x')).toThrow(
      expect.objectContaining({ code: 'USER_REQUIRED' }),
    )
  })

  it('keys on allowPlainUrl and never caches a failure', () => {
    const targets = resolved()
    const plain = targets.get(defs, 'https://example.com/a', { allowPlainUrl: true })
    expect(plain.kind).toBe('plain')
    for (let i = 0; i < 2; i++) {
      expect(() => targets.get(defs, 'https://example.com/a')).toThrow(
        expect.objectContaining({ code: 'CALLOUT_URL_MALFORMED' }),
      )
      expect(() => targets.get(defs, 'callout:Nope/x')).toThrow(
        expect.objectContaining({ code: 'CREDENTIAL_NOT_FOUND' }),
      )
    }
  })

  it('stays bounded and correct when full, and bypasses the cache for odd inputs', () => {
    const targets = new ResolvedTargets((t: CalloutTarget) => t, {
      maxEntries: 2,
      maxInputLength: 30,
    })
    for (const n of [1, 2, 3, 1, 2, 3]) {
      expect(url(targets.get(defs, `callout:Api/${n}`))).toBe(`https://api.example.com/v1/${n}`)
    }
    const long = `callout:Api/${'a'.repeat(40)}`
    expect(targets.get(defs, long)).not.toBe(targets.get(defs, long))
    const odd = { user: 42 as unknown as string }
    expect(targets.get(defs, 'callout:Api/x', odd)).not.toBe(
      targets.get(defs, 'callout:Api/x', odd),
    )
    expect(() => targets.get(defs, 42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'CALLOUT_URL_MALFORMED' }),
    )
  })
})
