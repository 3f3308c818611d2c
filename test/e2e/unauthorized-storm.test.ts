/**
 * End to end: a path that always answers 401 cannot drive a credential into the authorization
 * server's rate limits. 200 sequential callouts to it make a bounded, exact number of token
 * requests against a real token endpoint; the 401s come back with `callout-advice`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADVICE_HEADER, type Broker } from '../../src/index.ts'
import {
  bearerOf,
  listen,
  makeHome,
  openTestBroker,
  readBody,
  sendJson,
  TokenStub,
  type Listening,
  type TestHome,
} from './helpers/e2e.ts'

const FRESH_MS = 10_000
const BUDGET = 5

let stub: TokenStub
let upstream: Listening
let home: TestHome
let broker: Broker
let clockOffsetMs = 0
const clock = { now: () => Date.now() + clockOffsetMs }

beforeAll(async () => {
  stub = await new TokenStub().start()
  upstream = await listen((req, res) => {
    void (async () => {
      await readBody(req)
      const token = bearerOf(req)
      if (req.url?.startsWith('/api/denied') === true || token === undefined) {
        return sendJson(res, 401, { error: 'invalid_token' })
      }
      sendJson(res, 200, { ok: true })
    })()
  })
  home = await makeHome({ STUB_SECRET: 'stub-secret' })
  broker = await openTestBroker(
    home,
    {
      authProviders: {
        Stub: {
          type: 'oauth2',
          tokenUrl: stub.tokenUrl,
          consumerKey: 'stub-client',
          consumerSecret: '${env:STUB_SECRET}',
        },
      },
      externalCredentials: {
        Machine: {
          protocol: 'oauth2',
          flow: 'client-credentials',
          authProvider: 'Stub',
          principals: { Service: { type: 'named' } },
        },
      },
      namedCredentials: { Api: { url: `${upstream.origin}/api`, externalCredential: 'Machine' } },
    },
    { clock, tokens: { rejectionRefresh: { freshMs: FRESH_MS, budget: BUDGET } } },
  )
})

afterAll(async () => {
  await broker?.close()
  await Promise.all([stub?.listening.close(), upstream?.close()])
  await home?.cleanup()
})

async function denied(): Promise<Response> {
  const res = await broker.fetch('callout:Api/denied')
  await res.arrayBuffer()
  expect(res.status).toBe(401)
  return res
}

describe('a path that always answers 401', () => {
  it('200 sequential callouts make 2 token requests: the first token and one refresh', async () => {
    const advised: (string | null)[] = []
    for (let i = 0; i < 200; i++) advised.push((await denied()).headers.get(ADVICE_HEADER))
    expect(stub.requests).toBe(2)
    // The first callout refreshed once and retried; every later one got the 401 with advice.
    expect(advised[0]).toBeNull()
    expect(advised.slice(1).every((a) => a !== null && /did not ask for one/.test(a))).toBe(true)
    // Other paths keep working on the current token, without a token request.
    const ok = await broker.fetch('callout:Api/ok')
    expect(ok.status).toBe(200)
    await ok.arrayBuffer()
    expect(stub.requests).toBe(2)
  })

  it('a slow caller gets at most the budget of refreshes in the window, then advice', async () => {
    const before = stub.requests
    for (let i = 0; i < BUDGET * 3; i++) {
      clockOffsetMs += FRESH_MS + 1
      await denied()
    }
    // One refresh was already spent in the window by the first test.
    expect(stub.requests - before).toBe(BUDGET - 1)
    const last = await denied()
    expect(last.headers.get(ADVICE_HEADER)).toMatch(/asks for no more until/)
  })
})
