import { describe, expect, it } from 'vitest'
import type { TokenSet } from '../auth/types.ts'
import type { CredentialIdentity } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import type { KyselyStore } from '../store/kysely-store.ts'
import { openMemoryStore, storedCredential } from '../../test/helpers/sqlite-memory-store.ts'
import { externalCredential, ManualClock, principal } from '../../test/helpers/callout-fixtures.ts'
import { TokenManager } from './token-manager.ts'
import type { GrantContext, TokenEvents, TokenGrants } from './types.ts'

class FakeGrants implements TokenGrants {
  mints = 0
  refreshes = 0
  refreshTokensSeen: string[] = []
  failWith: CalloutError | undefined
  rotate = false
  expiresInMs: number | undefined
  gate: Promise<void> | undefined
  identity: CredentialIdentity | undefined
  constructor(private readonly clock: ManualClock) {}

  #tokenSet(n: number): TokenSet {
    const issuedAt = this.clock.now()
    return {
      accessToken: new Secret(`access-${n}`),
      tokenType: 'Bearer',
      issuedAt,
      ...(this.expiresInMs === undefined ? {} : { expiresAt: issuedAt + this.expiresInMs }),
      ...(this.rotate ? { refreshToken: new Secret(`refresh-${n}`) } : {}),
      instanceUrl: 'https://instance.example.com',
      ...(this.identity === undefined ? {} : { identity: this.identity }),
    }
  }

  async mint(): Promise<TokenSet> {
    this.mints++
    if (this.gate) await this.gate
    if (this.failWith) throw this.failWith
    return this.#tokenSet(this.mints + this.refreshes)
  }

  async refresh(_ctx: GrantContext, refreshToken: Secret): Promise<TokenSet> {
    this.refreshes++
    this.refreshTokensSeen.push(refreshToken.reveal())
    if (this.gate) await this.gate
    if (this.failWith) throw this.failWith
    return this.#tokenSet(this.mints + this.refreshes)
  }

  authorizationRequest(): Promise<never> {
    return Promise.reject(new Error('the fake grants have no browser flow'))
  }

  exchangeCode(): Promise<never> {
    return Promise.reject(new Error('the fake grants have no browser flow'))
  }

  revoked: string[] = []
  revokeOutcome: 'revoked' | 'already-invalid' | 'no-endpoint' = 'revoked'
  revokeFailure: CalloutError | undefined

  async revoke(
    _ctx: GrantContext,
    token: Secret,
    tokenType: string,
  ): Promise<'revoked' | 'already-invalid' | 'no-endpoint'> {
    if (this.revokeFailure) throw this.revokeFailure
    if (this.revokeOutcome !== 'no-endpoint') this.revoked.push(`${tokenType}:${token.reveal()}`)
    return this.revokeOutcome
  }
}

async function setup(
  flow: 'client-credentials' | 'browser' = 'client-credentials',
  sessionTimeoutSeconds?: number,
) {
  const clock = new ManualClock()
  const store = await openMemoryStore({ clock })
  const grants = new FakeGrants(clock)
  const ec = externalCredential({
    flow,
    ...(sessionTimeoutSeconds === undefined ? {} : { sessionTimeoutSeconds }),
  })
  const ctx: GrantContext = { ec, principal: ec.principals[0]!, userId: '', namedCredential: 'Api' }
  const tokens = new TokenManager({ store, grants, clock, holderId: 'test-holder' })
  const key = { externalCredential: 'Api', principal: 'Default', userId: '' }
  return { clock, store, grants, ec, ctx, tokens, key }
}

async function seedBrowser(store: KyselyStore, clock: ManualClock, extra: object = {}) {
  await store.compareAndSetCredential(
    {
      externalCredential: 'Api',
      principal: 'Default',
      userId: '',
      status: 'authenticated',
      accessToken: new Secret('access-old'),
      refreshToken: new Secret('refresh-old'),
      tokenType: 'Bearer',
      issuedAt: clock.now(),
      ...extra,
    },
    0,
  )
}

describe('TokenManager.getToken', () => {
  it('mints lazily on first use for client-credentials and caches the token', async () => {
    const { tokens, ctx, grants, store } = await setup()
    const a = await tokens.getToken(ctx)
    const b = await tokens.getToken(ctx)
    expect(a.accessToken.reveal()).toBe('access-1')
    expect(b.accessToken.reveal()).toBe('access-1')
    expect(grants.mints).toBe(1)
    expect(a.version).toBe(1)
    expect((await storedCredential(store)).status).toBe('authenticated')
  })

  it('mints once for many concurrent first callers', async () => {
    const { tokens, ctx, grants } = await setup()
    const results = await Promise.all(Array.from({ length: 200 }, () => tokens.getToken(ctx)))
    expect(new Set(results.map((r) => r.accessToken.reveal()))).toEqual(new Set(['access-1']))
    expect(grants.mints).toBe(1)
  })

  it('says NOT_AUTHENTICATED with the `callout auth` advice for a browser principal without a token', async () => {
    const { tokens, ctx, grants } = await setup('browser')
    const error = await tokens.getToken(ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CalloutError)
    expect((error as CalloutError).code).toBe('NOT_AUTHENTICATED')
    expect((error as CalloutError).message).toContain('callout auth Api')
    expect(grants.refreshes + grants.mints).toBe(0)
  })

  it('requires a user for per-user principals and keys credentials by user', async () => {
    const { store, grants, clock } = await setup()
    const ec = externalCredential({ principals: [principal({ type: 'per-user' })] })
    const tokens = new TokenManager({ store, grants, clock })
    const base = { ec, principal: ec.principals[0]! }
    await expect(tokens.getToken({ ...base, userId: '' })).rejects.toMatchObject({
      code: 'USER_REQUIRED',
    })
    const alice = await tokens.getToken({ ...base, userId: 'alice' })
    const bob = await tokens.getToken({ ...base, userId: 'bob' })
    expect(alice.userId).toBe('alice')
    expect(bob.userId).toBe('bob')
    expect(alice.accessToken.reveal()).not.toBe(bob.accessToken.reveal())
    expect((await store.listCredentials()).map((c) => c.userId).sort()).toEqual(['alice', 'bob'])
  })

  it('refreshes proactively before a known expiry (injected clock)', async () => {
    const { tokens, ctx, grants, clock } = await setup()
    grants.expiresInMs = 3_600_000
    const first = await tokens.getToken(ctx)
    clock.advance(3_600_000 - 61_000)
    expect((await tokens.getToken(ctx)).accessToken.reveal()).toBe(first.accessToken.reveal())
    expect(grants.mints).toBe(1)
    clock.advance(2_000) // now 59 s before expiry: inside the 60 s margin
    expect((await tokens.getToken(ctx)).accessToken.reveal()).toBe('access-2')
    expect(grants.mints).toBe(2)
  })

  it('refreshes a Salesforce-style token (no expires_in) after sessionTimeoutSeconds', async () => {
    const { tokens, ctx, grants, clock, store } = await setup('browser', 7_200)
    await seedBrowser(store, clock)
    expect((await tokens.getToken(ctx)).accessToken.reveal()).toBe('access-old')
    clock.advance(7_200_000 - 30_000)
    const fresh = await tokens.getToken(ctx)
    expect(fresh.accessToken.reveal()).toBe('access-1')
    expect(grants.refreshes).toBe(1)
    expect(grants.refreshTokensSeen).toEqual(['refresh-old'])
  })

  it('keeps using a not-yet-expired token when the proactive refresh fails', async () => {
    const { tokens, ctx, grants, clock } = await setup()
    grants.expiresInMs = 3_600_000
    await tokens.getToken(ctx)
    clock.advance(3_600_000 - 10_000)
    grants.failWith = new CalloutError('TOKEN_ENDPOINT_ERROR', 'down')
    expect((await tokens.getToken(ctx)).accessToken.reveal()).toBe('access-1')
    clock.advance(20_000) // expired now, still cooling down
    await expect(tokens.getToken(ctx)).rejects.toMatchObject({ code: 'REFRESH_COOLDOWN' })
  })
})

describe('TokenManager.invalidate', () => {
  it('refreshes once for 1,000 concurrent callers holding the rejected token', async () => {
    const { tokens, ctx, grants, store, clock } = await setup('browser')
    await seedBrowser(store, clock)
    const old = (await tokens.getToken(ctx)).accessToken
    const results = await Promise.all(
      Array.from({ length: 1_000 }, () => tokens.invalidate(ctx, old)),
    )
    expect(grants.refreshes).toBe(1)
    expect(new Set(results.map((r) => r.accessToken.reveal()))).toEqual(new Set(['access-1']))
    // A late caller with the old token gets the new one without another refresh.
    expect((await tokens.invalidate(ctx, old)).accessToken.reveal()).toBe('access-1')
    expect(grants.refreshes).toBe(1)
  })

  it('re-mints for client-credentials instead of refreshing', async () => {
    const { tokens, ctx, grants } = await setup()
    const first = await tokens.getToken(ctx)
    const second = await tokens.invalidate(ctx, first.accessToken)
    expect(second.accessToken.reveal()).toBe('access-2')
    expect(grants.mints).toBe(2)
    expect(grants.refreshes).toBe(0)
  })

  it('stores a rotated refresh token with the access token, and keeps the old one otherwise', async () => {
    const { tokens, ctx, grants, store, clock } = await setup('browser')
    await seedBrowser(store, clock)
    const first = await tokens.invalidate(ctx, new Secret('access-old'))
    expect(first.refreshToken?.reveal()).toBe('refresh-old')
    grants.rotate = true
    const second = await tokens.invalidate(ctx, first.accessToken)
    const stored = await storedCredential(store)
    expect(stored.accessToken?.reveal()).toBe('access-2')
    expect(stored.refreshToken?.reveal()).toBe('refresh-2')
    expect(stored.version).toBe(3)
    expect(second.refreshToken?.reveal()).toBe('refresh-2')
    grants.rotate = false
    await tokens.invalidate(ctx, second.accessToken)
    expect(grants.refreshTokensSeen).toEqual(['refresh-old', 'refresh-old', 'refresh-2'])
    expect((await storedCredential(store)).refreshToken?.reveal()).toBe('refresh-2')
    expect((await storedCredential(store)).instanceUrl).toBe('https://instance.example.com')
  })

  it('keeps the stored username when a refresh names the same identity URL, and replaces it for another', async () => {
    const { tokens, ctx, grants, store, clock } = await setup('browser')
    const idUrl = 'https://login.example.com/id/00D/005A'
    await seedBrowser(store, clock, { identity: { idUrl, username: 'ada@example.com' } })
    grants.identity = { idUrl }
    const first = await tokens.invalidate(ctx, new Secret('access-old'))
    expect((await storedCredential(store)).identity).toEqual({ idUrl, username: 'ada@example.com' })
    grants.identity = { idUrl: 'https://login.example.com/id/00D/005B' }
    await tokens.invalidate(ctx, first.accessToken)
    expect((await storedCredential(store)).identity).toEqual(grants.identity)
  })

  it('uses a token another process stored instead of calling the token endpoint (re-read)', async () => {
    const { tokens, ctx, grants, store, clock } = await setup('browser')
    await seedBrowser(store, clock)
    const old = (await tokens.getToken(ctx)).accessToken
    // Another process refreshed: the store holds a newer token than our cache.
    const current = await storedCredential(store)
    await store.compareAndSetCredential(
      { ...current, accessToken: new Secret('from-elsewhere') },
      1,
    )
    const fresh = await tokens.invalidate(ctx, old)
    expect(fresh.accessToken.reveal()).toBe('from-elsewhere')
    expect(grants.refreshes).toBe(0)
  })

  it('refreshes exactly once across two managers sharing a store (lease + re-read)', async () => {
    const { ctx, grants, store, clock } = await setup('browser')
    await seedBrowser(store, clock)
    let release!: () => void
    grants.gate = new Promise<void>((r) => (release = r))
    const a = new TokenManager({ store, grants, clock, holderId: 'a' })
    const b = new TokenManager({ store, grants, clock, holderId: 'b', lease: { initialPollMs: 1 } })
    const old = new Secret('access-old')
    const pa = a.invalidate(ctx, old)
    const pb = b.invalidate(ctx, old)
    await new Promise((r) => setTimeout(r, 20))
    release()
    const [ra, rb] = await Promise.all([pa, pb])
    expect(grants.refreshes).toBe(1)
    expect(ra.accessToken.reveal()).toBe('access-1')
    expect(rb.accessToken.reveal()).toBe('access-1')
    // Released: a third holder takes the lease at once.
    expect(await store.acquireLease('token:Api/Default/', 'probe', 1_000)).toBe(true)
  })

  it('marks needs-reauth on invalid_grant, emits the event, and then fails fast without a token request', async () => {
    const { tokens, ctx, grants, store, clock } = await setup('browser')
    await seedBrowser(store, clock)
    const events: TokenEvents['needs-reauth'][] = []
    tokens.on('needs-reauth', (e) => events.push(e))
    grants.failWith = new CalloutError(
      'NEEDS_REAUTH',
      'invalid_grant: expired access/refresh token',
    )
    const error = await tokens.invalidate(ctx, new Secret('access-old')).catch((e: unknown) => e)
    expect((error as CalloutError).code).toBe('NEEDS_REAUTH')
    expect((error as CalloutError).message).toContain('callout auth Api')
    expect((await storedCredential(store)).status).toBe('needs-reauth')
    expect((await storedCredential(store)).lastError?.code).toBe('NEEDS_REAUTH')
    expect(events).toHaveLength(1)
    expect(events[0]?.key).toEqual({ externalCredential: 'Api', principal: 'Default', userId: '' })
    expect(events[0]?.namedCredential).toBe('Api')
    expect(JSON.stringify(events)).not.toContain('refresh-old')
    expect(grants.refreshes).toBe(1)
    // Next call: fails fast, no token request — also from a fresh manager (another process).
    clock.advance(3_600_000)
    await expect(tokens.getToken(ctx)).rejects.toMatchObject({ code: 'NEEDS_REAUTH' })
    const other = new TokenManager({ store, grants, clock })
    await expect(other.getToken(ctx)).rejects.toMatchObject({ code: 'NEEDS_REAUTH' })
    expect(grants.refreshes).toBe(1)
  })

  it('records a transient failure, cools down (no token request), then tries again', async () => {
    const { tokens, ctx, grants, store, clock } = await setup()
    const events: TokenEvents['refresh-failed'][] = []
    tokens.on('refresh-failed', (e) => events.push(e))
    grants.failWith = new CalloutError('TOKEN_ENDPOINT_ERROR', 'token endpoint answered 503')
    await expect(tokens.getToken(ctx)).rejects.toMatchObject({ code: 'TOKEN_ENDPOINT_ERROR' })
    expect((await storedCredential(store)).status).toBe('error')
    expect((await storedCredential(store)).lastError?.code).toBe('TOKEN_ENDPOINT_ERROR')
    expect(events.map((e) => e.code)).toEqual(['TOKEN_ENDPOINT_ERROR'])
    await expect(tokens.getToken(ctx)).rejects.toMatchObject({ code: 'REFRESH_COOLDOWN' })
    const other = new TokenManager({ store, grants, clock })
    await expect(other.getToken(ctx)).rejects.toMatchObject({ code: 'REFRESH_COOLDOWN' })
    expect(grants.mints).toBe(1)
    clock.advance(30_001)
    grants.failWith = undefined
    expect((await tokens.getToken(ctx)).status).toBe('authenticated')
    expect(grants.mints).toBe(2)
    expect((await storedCredential(store)).lastError).toBeUndefined()
  })

  it('wraps an unexpected grant failure as TOKEN_ENDPOINT_ERROR with a cause', async () => {
    const { tokens, ctx, grants } = await setup()
    grants.failWith = new TypeError('fetch failed') as unknown as CalloutError
    const error = (await tokens.getToken(ctx).catch((e: unknown) => e)) as CalloutError
    expect(error.code).toBe('TOKEN_ENDPOINT_ERROR')
    expect(error.cause).toBeInstanceOf(TypeError)
  })

  it('explains a missing refresh token (scope lacks refresh_token)', async () => {
    const { tokens, ctx, grants, store, clock } = await setup('browser')
    await store.compareAndSetCredential(
      {
        externalCredential: 'Api',
        principal: 'Default',
        userId: '',
        status: 'authenticated',
        accessToken: new Secret('access-old'),
        issuedAt: clock.now(),
      },
      0,
    )
    const error = (await tokens
      .invalidate(ctx, new Secret('access-old'))
      .catch((e: unknown) => e)) as CalloutError
    expect(error.code).toBe('NEEDS_REAUTH')
    expect(error.details.reason).toBe('missing-refresh-token')
    expect(error.message).toContain('refresh_token')
    expect(grants.refreshes).toBe(0)
  })
})

describe('TokenManager.peekToken (the cache hit without a promise)', () => {
  it('returns what getToken would return at once, and nothing once the token is due (injected clock)', async () => {
    const { ctx, grants, clock, store } = await setup()
    // A cache lifetime beyond the refresh time: this test is about the refresh time alone.
    const tokens = new TokenManager({ store, grants, clock, cacheTtlMs: 1_000_000 })
    grants.expiresInMs = 100_000 // refresh due 10 s (10%) before expiry
    expect(tokens.peekToken(ctx)).toBeUndefined() // nothing obtained yet: never obtains
    expect(grants.mints).toBe(0)
    const first = await tokens.getToken(ctx)
    expect(tokens.peekToken(ctx)).toBe(first)
    clock.advance(89_999)
    expect(tokens.peekToken(ctx)).toBe(first)
    clock.advance(1) // exactly the refresh time
    expect(tokens.peekToken(ctx)).toBeUndefined()
    clock.advance(50_000) // past expiry
    expect(tokens.peekToken(ctx)).toBeUndefined()
    const second = await tokens.getToken(ctx)
    expect(second.accessToken.reveal()).toBe('access-2')
    expect(tokens.peekToken(ctx)).toBe(second)
    expect(grants.mints).toBe(2)
  })

  it('re-reads a cached credential from the store after cacheTtlMs: another writer wins without a token request; an unreachable store keeps the cached token', async () => {
    const { ctx, grants, clock, store } = await setup()
    const tokens = new TokenManager({ store, grants, clock, cacheTtlMs: 5_000 })
    grants.expiresInMs = 3_600_000
    const first = await tokens.getToken(ctx)
    // Another instance refreshes; this one missed the notification (none on SQLite).
    const theirs = await store.compareAndSetCredential(
      { ...first, accessToken: new Secret('theirs') },
      first.version,
    )
    clock.advance(4_999)
    expect(tokens.peekToken(ctx)).toBe(first)
    clock.advance(1)
    expect(tokens.peekToken(ctx)).toBeUndefined()
    const read = await tokens.getToken(ctx)
    expect(read.accessToken.reveal()).toBe('theirs')
    expect(read.version).toBe(theirs?.version)
    expect(grants.mints).toBe(1)
    clock.advance(5_000)
    await store.close()
    const kept = await tokens.getToken(ctx)
    expect(kept.accessToken.reveal()).toBe('theirs')
    expect(tokens.peekToken(ctx)).toBe(kept)
    expect(grants.mints).toBe(1)
  })

  it('applies the session timeout of tokens without expires_in', async () => {
    const { tokens, ctx, clock, store } = await setup('browser', 7_200)
    await seedBrowser(store, clock)
    const old = await tokens.getToken(ctx)
    expect(tokens.peekToken(ctx)).toBe(old)
    clock.advance(7_200_000 - 30_000) // inside the 60 s margin before the session ends
    expect(tokens.peekToken(ctx)).toBeUndefined()
  })

  it('serves nothing after forget, a rejected token or a failed refresh', async () => {
    const { tokens, ctx, grants } = await setup()
    const first = await tokens.getToken(ctx)
    tokens.forget()
    expect(tokens.peekToken(ctx)).toBeUndefined()
    expect((await tokens.getToken(ctx)).accessToken.reveal()).toBe('access-1') // re-read
    expect(tokens.peekToken(ctx)?.accessToken.reveal()).toBe('access-1')
    grants.failWith = new CalloutError('TOKEN_ENDPOINT_ERROR', 'down')
    await expect(tokens.invalidate(ctx, first.accessToken)).rejects.toMatchObject({
      code: 'TOKEN_ENDPOINT_ERROR',
    })
    expect(tokens.peekToken(ctx)).toBeUndefined()
    await expect(tokens.getToken(ctx)).rejects.toMatchObject({ code: 'REFRESH_COOLDOWN' })
  })

  it('keys by user, requires one for per-user principals, and re-keys a changed context', async () => {
    const { store, grants, clock } = await setup()
    const ec = externalCredential({ principals: [principal({ type: 'per-user' })] })
    const tokens = new TokenManager({ store, grants, clock })
    const base = { ec, principal: ec.principals[0]! }
    expect(() => tokens.peekToken({ ...base, userId: '' })).toThrow(
      expect.objectContaining({ code: 'USER_REQUIRED' }),
    )
    const alice = await tokens.getToken({ ...base, userId: 'alice' })
    expect(tokens.peekToken({ ...base, userId: 'alice' })).toBe(alice)
    expect(tokens.peekToken({ ...base, userId: 'bob' })).toBeUndefined()
    // One context object reused, then changed (a caller's mutable object): never alice's token for bob.
    const ctx = { ...base, userId: 'alice' }
    expect(tokens.peekToken(ctx)).toBe(alice)
    ctx.userId = 'bob'
    expect(tokens.peekToken(ctx)).toBeUndefined()
    const bob = await tokens.getToken(ctx)
    expect(bob.userId).toBe('bob')
    expect(tokens.peekToken(ctx)).toBe(bob)
    ctx.userId = ''
    expect(() => tokens.peekToken(ctx)).toThrow(expect.objectContaining({ code: 'USER_REQUIRED' }))
  })
})

describe('TokenManager.revoke', () => {
  it('revokes the refresh token, removes the stored tokens and leaves the principal needs-reauth', async () => {
    const { tokens, ctx, grants, store, clock } = await setup('browser')
    await seedBrowser(store, clock, { identity: { username: 'ann@example.com' } })
    expect((await tokens.getToken(ctx)).accessToken.reveal()).toBe('access-old')
    const outcome = await tokens.revoke(ctx)
    expect(outcome).toMatchObject({
      provider: 'revoked',
      tokenType: 'refresh_token',
      removedLocally: true,
    })
    expect(grants.revoked).toEqual(['refresh_token:refresh-old'])
    const stored = await storedCredential(store)
    expect(stored.status).toBe('needs-reauth')
    expect(stored.accessToken).toBeUndefined()
    expect(stored.refreshToken).toBeUndefined()
    expect(stored.identity?.username).toBe('ann@example.com')
    // the cached token is gone too: the next call fails fast with the advice, no token request
    const error = await tokens.getToken(ctx).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'NEEDS_REAUTH' })
    expect((error as CalloutError).message).toContain('were revoked')
    expect((error as CalloutError).message).toContain('callout auth Api')
    expect(grants.refreshes).toBe(0)
    // nothing left to revoke
    expect(await tokens.revoke(ctx)).toMatchObject({
      provider: 'nothing-stored',
      removedLocally: false,
    })
    expect(grants.revoked).toHaveLength(1)
  })

  it('revokes the access token when no refresh token is stored', async () => {
    const { tokens, ctx, grants, store, clock } = await setup('browser')
    await seedBrowser(store, clock, { refreshToken: undefined })
    expect(await tokens.revoke(ctx)).toMatchObject({ tokenType: 'access_token' })
    expect(grants.revoked).toEqual(['access_token:access-old'])
  })

  it('without a revocation endpoint removes the tokens locally and says so', async () => {
    const { tokens, ctx, grants, store, clock } = await setup('browser')
    await seedBrowser(store, clock)
    grants.revokeOutcome = 'no-endpoint'
    const outcome = await tokens.revoke(ctx)
    expect(outcome).toMatchObject({ provider: 'no-endpoint', removedLocally: true })
    expect(outcome.message).toContain('no revocation endpoint')
    expect((await storedCredential(store)).accessToken).toBeUndefined()
  })

  it('keeps the tokens when the revocation request fails, and removes them with force', async () => {
    const { tokens, ctx, grants, store, clock } = await setup('browser')
    await seedBrowser(store, clock)
    grants.revokeFailure = new CalloutError('TOKEN_ENDPOINT_ERROR', 'unreachable')
    const error = await tokens.revoke(ctx).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'REVOCATION_FAILED' })
    expect((error as CalloutError).message).toContain('were kept')
    const kept = await storedCredential(store)
    expect(kept.status).toBe('authenticated')
    expect(kept.refreshToken?.reveal()).toBe('refresh-old')
    expect((await tokens.getToken(ctx)).accessToken.reveal()).toBe('access-old')
    const forced = await tokens.revoke(ctx, { force: true })
    expect(forced).toMatchObject({
      provider: 'failed',
      removedLocally: true,
      failure: { code: 'TOKEN_ENDPOINT_ERROR' },
    })
    expect((await storedCredential(store)).refreshToken).toBeUndefined()
    await expect(tokens.getToken(ctx)).rejects.toMatchObject({ code: 'NEEDS_REAUTH' })
  })

  it('a minting flow obtains a new token after its token is revoked', async () => {
    const { tokens, ctx, grants, store } = await setup()
    expect((await tokens.getToken(ctx)).accessToken.reveal()).toBe('access-1')
    expect(await tokens.revoke(ctx)).toMatchObject({ tokenType: 'access_token' })
    expect(grants.revoked).toEqual(['access_token:access-1'])
    expect((await storedCredential(store)).status).toBe('not-configured')
    expect((await tokens.getToken(ctx)).accessToken.reveal()).toBe('access-2')
  })
})
