import { describe, expect, it } from 'vitest'
import {
  authProvider,
  definitions,
  externalCredential,
  namedCredential,
  principal,
} from '../../../test/helpers/callout-fixtures.ts'
import { allowAll, checkAccess } from './check-access.ts'
import { resolveTarget } from './resolve-target.ts'

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
