import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBroker, type Broker } from '../src/index.ts'
import { Secret } from '../src/secrets/secret.ts'
import {
  authProvider,
  definitions,
  externalCredential,
  namedCredential,
} from './helpers/callout-fixtures.ts'
import { TokenServer, Upstream } from './helpers/callout-servers.ts'

let tokens: TokenServer
let upstream: Upstream
let home: string
const env = { CALLOUT_MASTER_KEY: randomBytes(32).toString('base64') }

beforeAll(async () => {
  tokens = await new TokenServer().start()
  upstream = await new Upstream(tokens).start()
  home = await mkdtemp(join(tmpdir(), 'callout-e2e-'))
})
afterAll(async () => {
  await Promise.all([tokens.listening.close(), upstream.listening.close()])
  await rm(home, { recursive: true, force: true })
})

function defs(flow: 'client-credentials' | 'browser') {
  return definitions({
    authProviders: [
      authProvider({
        tokenUrl: tokens.tokenUrl,
        authorizeUrl: `${tokens.listening.origin}/authorize`,
        consumerSecret: new Secret('canary-client-secret'),
      }),
    ],
    externalCredentials: [externalCredential({ name: 'Api', flow, scope: 'api refresh_token' })],
    namedCredentials: [namedCredential({ name: 'Api', url: `${upstream.origin}/api` })],
  })
}

describe('openBroker end to end over SQLite', () => {
  it('applies definitions, mints, calls, and shares one refresh across two brokers on one database', async () => {
    const store = `sqlite:${join(home, 'shared.db')}`
    const a = await openBroker({ home, env, store })
    const b = await openBroker({ home, env, store, tokens: { lease: { initialPollMs: 2 } } })
    try {
      await a.apply(defs('client-credentials'))
      await b.reload()
      const res = await a.fetch('callout:Api/hello')
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      expect(tokens.requests).toBe(1)
      // b reads a's token from the store: no token request
      await (await b.fetch('callout:Api/hello')).arrayBuffer()
      expect(tokens.requests).toBe(1)
      // the upstream starts rejecting the token: both brokers see 401s at once
      tokens.current = 'rotated-elsewhere'
      const statuses = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const r = await (i % 2 === 0 ? a : b).fetch('callout:Api/hello')
          await r.arrayBuffer()
          return r.status
        }),
      )
      expect(statuses.every((s) => s === 200)).toBe(true)
      expect(tokens.requests).toBe(2)
      const [report] = await a.status('Api')
      expect(report?.principals[0]?.status).toBe('authenticated')
      expect(JSON.stringify(report)).not.toContain(tokens.current)
      expect(JSON.stringify(report)).not.toContain('canary-client-secret')
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('completes the browser flow (state + PKCE, single use) and then calls', async () => {
    const broker: Broker = await openBroker({
      home,
      env,
      store: `sqlite:${join(home, 'browser.db')}`,
    })
    try {
      await broker.apply(defs('browser'))
      await expect(broker.fetch('callout:Api/x')).rejects.toMatchObject({
        code: 'NOT_AUTHENTICATED',
      })
      const { url, state } = await broker.authorizeUrl('Api', {
        redirectUri: 'http://127.0.0.1:9/callback',
      })
      const authorize = new URL(url)
      expect(authorize.searchParams.get('state')).toBe(state)
      expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
      expect(authorize.searchParams.get('scope')).toBe('api refresh_token')
      const callback = `http://127.0.0.1:9/callback?code=good-code&state=${state}`
      const report = await broker.completeAuthorization(callback)
      expect(report.principals[0]?.status).toBe('authenticated')
      expect(tokens.codeVerifiers.at(-1)?.length).toBeGreaterThanOrEqual(43)
      await expect(broker.completeAuthorization(callback)).rejects.toMatchObject({
        code: 'AUTHORIZATION_FAILED',
      })
      const res = await broker.fetch('callout:Api/x')
      expect(res.status).toBe(200)
    } finally {
      await broker.close()
    }
  })

  it('refuses to open without a master key', async () => {
    await expect(openBroker({ home: join(home, 'nokey'), env: {} })).rejects.toMatchObject({
      code: 'MASTER_KEY_MISSING',
    })
  })
})
