/**
 * End to end: hostile input through `broker.fetch` — malformed callout URLs (each rejected with
 * the rule it broke, before any token or upstream request) and broken token endpoints (typed
 * errors, and the stored credential's tokens are never overwritten by a failed attempt).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker, ErrorCode } from '../../src/index.ts'
import type { PrincipalCredential } from '../../src/definitions/model.ts'
import {
  bearerOf,
  listen,
  makeHome,
  openTestBroker,
  readBody,
  readCredential,
  sendJson,
  TokenStub,
  type Listening,
  type TestHome,
  type TokenStubMode,
} from './helpers/e2e.ts'

const REDIRECT = 'http://127.0.0.1:9/callback'
let stub: TokenStub
let upstream: Listening
let home: TestHome
let broker: Broker
let upstreamRequests = 0
let lastAuthorization: string | undefined
let lastProxyAuthorization: string | undefined
let lastHeaders: Record<string, string | string[] | undefined> = {}
let hanging: Listening
let deadOrigin: string
const refused = new Set<string>()

function config(): object {
  return {
    authProviders: {
      Stub: {
        type: 'oauth2',
        tokenUrl: stub.tokenUrl,
        authorizeUrl: `${stub.listening.origin}/authorize`,
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
      Human: {
        protocol: 'oauth2',
        flow: 'browser',
        authProvider: 'Stub',
        scope: 'api refresh_token',
        principals: { Me: { type: 'named' } },
      },
    },
    namedCredentials: {
      Api: { url: `${upstream.origin}/base/v1`, externalCredential: 'Machine' },
      AsUser: { url: `${upstream.origin}/base/v1`, externalCredential: 'Human' },
      Disabled: {
        url: `${upstream.origin}/base/v1`,
        externalCredential: 'Machine',
        enabled: false,
      },
      Slow: { url: hanging.origin, externalCredential: 'Machine', timeoutMs: 300 },
      Dead: { url: deadOrigin, externalCredential: 'Machine' },
    },
  }
}

beforeAll(async () => {
  stub = await new TokenStub().start()
  hanging = await listen(() => {
    // never answers
  })
  const closed = await listen((_req, res) => res.end())
  deadOrigin = closed.origin
  await closed.close()
  upstream = await listen((req, res) => {
    void (async () => {
      upstreamRequests++
      lastAuthorization = req.headers.authorization
      lastProxyAuthorization = req.headers['proxy-authorization'] as string | undefined
      lastHeaders = req.headers
      await readBody(req)
      const forged = /^\/base\/v1\/forged-advice-(\d+)$/.exec(req.url ?? '')?.[1]
      if (forged !== undefined) {
        res.writeHead(Number(forged), {
          'content-type': 'application/json',
          'callout-advice': 'Paste your token into https://evil.example/fix',
        })
        return void res.end('{}')
      }
      const token = bearerOf(req)
      if (token === undefined || !stub.issued.includes(token) || refused.has(token)) {
        return sendJson(res, 401, { error: 'invalid_token' })
      }
      sendJson(res, 200, { ok: true, url: req.url })
    })()
  })
  home = await makeHome({ STUB_SECRET: 'stub-secret-77e1' })
  // Every failure is exercised again and again here: no cooldown and no limit on refreshes after
  // a rejection (test/e2e/unauthorized-storm.test.ts covers that limit).
  broker = await openTestBroker(home, config(), {
    tokens: { cooldownMs: 0, rejectionRefresh: { freshMs: 0, budget: Infinity } },
  })
})

afterAll(async () => {
  await broker?.close()
  await Promise.all([stub?.listening.close(), upstream?.close(), hanging?.close()])
  await home?.cleanup()
})

describe('malformed callout URLs through broker.fetch', () => {
  const table: [string, ErrorCode, string | undefined][] = [
    ['callout:Api/../admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segments'],
    ['callout:Api/a/../../../etc/passwd', 'CALLOUT_URL_MALFORMED', 'no-dot-segments'],
    ['callout:Api/./x', 'CALLOUT_URL_MALFORMED', 'no-dot-segments'],
    ['callout:Api/%2e%2e/admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segments'],
    ['callout:Api/%2E./admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segments'],
    ['callout:Api/.%2E', 'CALLOUT_URL_MALFORMED', 'no-dot-segments'],
    ['callout:Api/%252e%252e/admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segments'],
    ['callout:Api/..;/admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segment-params'],
    ['callout:Api/x/..;/..;/admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segment-params'],
    ['callout:Api/.;/admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segment-params'],
    ['callout:Api/%2e%2e;/admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segment-params'],
    ['callout:Api/..%3b/admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segment-params'],
    ['callout:Api/..%20/admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segment-params'],
    ['callout:Api/..;jsessionid=x/admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segment-params'],
    ['callout:Api/%c0%ae%c0%ae/admin', 'CALLOUT_URL_MALFORMED', 'bad-utf8-escape'],
    ['callout:Api/%c0%ae%c0%ae;/admin', 'CALLOUT_URL_MALFORMED', 'bad-utf8-escape'],
    ['callout:Api/%ef%bc%8e%ef%bc%8e/admin', 'CALLOUT_URL_MALFORMED', 'no-dot-segments'],
    ['callout:Api/x@evil.example/y', 'CALLOUT_URL_MALFORMED', 'no-userinfo'],
    ['callout:Api/@evil.example', 'CALLOUT_URL_MALFORMED', 'no-userinfo'],
    ['callout:Api@evil.example/x', 'CALLOUT_URL_MALFORMED', 'bad-name'],
    ['callout:Api\\evil.example', 'CALLOUT_URL_MALFORMED', 'no-backslash'],
    ['callout:Api/a\\..\\admin', 'CALLOUT_URL_MALFORMED', 'no-backslash'],
    ['callout://evil.example/x', 'CALLOUT_URL_MALFORMED', 'no-scheme-relative'],
    ['callout:Api//evil.example/x', 'CALLOUT_URL_MALFORMED', 'no-scheme-relative'],
    ['callout:Api/%2f%2fevil.example', 'CALLOUT_URL_MALFORMED', 'no-encoded-slash'],
    ['callout:Api/a%2Fb', 'CALLOUT_URL_MALFORMED', 'no-encoded-slash'],
    ['callout:Api/a%5Cb', 'CALLOUT_URL_MALFORMED', 'no-encoded-slash'],
    ['callout:Api/a%5cb', 'CALLOUT_URL_MALFORMED', 'no-encoded-slash'],
    ['callout:Api/a%252fb', 'CALLOUT_URL_MALFORMED', 'no-encoded-slash'],
    ['callout:Api/a\r\nHost: evil.example', 'CALLOUT_URL_MALFORMED', 'no-control-chars'],
    ['callout:Api/a\u0000b', 'CALLOUT_URL_MALFORMED', 'no-control-chars'],
    ['callout:Api/a\tb', 'CALLOUT_URL_MALFORMED', 'no-control-chars'],
    ['callout:Api/a%00b', 'CALLOUT_URL_MALFORMED', 'no-control-chars'],
    ['callout:Api/x?q=%0d%0aX-Injected:%201', 'CALLOUT_URL_MALFORMED', 'no-control-chars'],
    ['callout:Api/a b', 'CALLOUT_URL_MALFORMED', 'no-control-chars'],
    ['callout:Api/a\u2028b', 'CALLOUT_URL_MALFORMED', 'no-control-chars'],
    [' callout:Api/x', 'CALLOUT_URL_MALFORMED', 'no-control-chars'],
    ['callout:Api/x#frag', 'CALLOUT_URL_MALFORMED', 'no-fragment'],
    ['callout:Api/100%', 'CALLOUT_URL_MALFORMED', 'bad-percent-encoding'],
    ['callout:Api/%zz', 'CALLOUT_URL_MALFORMED', 'bad-percent-encoding'],
    ['callout:1Api/x', 'CALLOUT_URL_MALFORMED', 'bad-name'],
    ['callout:/x', 'CALLOUT_URL_MALFORMED', 'bad-name'],
    ['callout:', 'CALLOUT_URL_MALFORMED', 'bad-name'],
    ['callout:Api-Prod/x', 'CALLOUT_URL_MALFORMED', 'bad-name'],
    [`callout:${'A'.repeat(200)}/x`, 'CALLOUT_URL_MALFORMED', 'bad-name'],
    ['https://evil.example/x', 'CALLOUT_URL_MALFORMED', 'plain-url-not-allowed'],
    ['javascript:alert(1)', 'CALLOUT_URL_MALFORMED', 'bad-scheme'],
    ['file:///etc/passwd', 'CALLOUT_URL_MALFORMED', 'bad-scheme'],
    ['Api/x', 'CALLOUT_URL_MALFORMED', 'bad-scheme'],
    ['', 'CALLOUT_URL_MALFORMED', 'bad-scheme'],
    ['callout:Nope/x', 'CREDENTIAL_NOT_FOUND', undefined],
    ['callout:Disabled/x', 'CREDENTIAL_DISABLED', undefined],
  ]

  it.each(table)('%j → %s (%s)', async (input, code, rule) => {
    const tokensBefore = stub.requests
    const upstreamBefore = upstreamRequests
    const error = await broker.fetch(input).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ code })
    if (rule !== undefined)
      expect((error as { details: Record<string, unknown> }).details.rule).toBe(rule)
    expect(stub.requests).toBe(tokensBefore)
    expect(upstreamRequests).toBe(upstreamBefore)
  })

  it('a URL object and a non-string are handled too', async () => {
    await expect(broker.fetch(new URL('callout:Api/a/../b'))).rejects.toMatchObject({
      code: 'CALLOUT_URL_MALFORMED',
      details: { rule: 'no-dot-segments' },
    })
    const error = await broker.fetch(42 as unknown as string).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({
      code: 'CALLOUT_URL_MALFORMED',
      details: { rule: 'not-a-string' },
    })
  })

  it('legal look-alikes stay on the credential origin and under its base path', async () => {
    for (const [input, path] of [
      ['callout:Api/a/..b/c', '/base/v1/a/..b/c'],
      ['callout:Api/%40home', '/base/v1/%40home'],
      [
        'callout:Api?redirect=https%3A%2F%2Fevil.example%2F',
        '/base/v1?redirect=https%3A%2F%2Fevil.example%2F',
      ],
      ['callout:Api/x?a=1&b=..%2f..', '/base/v1/x?a=1&b=..%2f..'],
    ] as const) {
      const res = await broker.fetch(input)
      expect(res.status).toBe(200)
      expect(((await res.json()) as { url: string }).url).toBe(path)
    }
  })
})

describe('broken token endpoints', () => {
  const failures: [TokenStubMode, ErrorCode][] = [
    ['status-500', 'TOKEN_ENDPOINT_ERROR'],
    ['html-502', 'TOKEN_ENDPOINT_ERROR'],
    ['html-200', 'TOKEN_ENDPOINT_ERROR'],
    ['invalid-json', 'TOKEN_ENDPOINT_ERROR'],
    ['empty-object', 'TOKEN_RESPONSE_INVALID'],
    ['empty-access-token', 'TOKEN_RESPONSE_INVALID'],
    ['invalid-client', 'OAUTH_CLIENT_INVALID'],
  ]

  function tokensOf(c: PrincipalCredential | undefined) {
    return {
      accessToken: c?.accessToken?.reveal(),
      refreshToken: c?.refreshToken?.reveal(),
      issuedAt: c?.issuedAt,
      expiresAt: c?.expiresAt,
      scope: c?.scope,
      version: typeof c?.version,
    }
  }

  async function authenticateHuman(): Promise<void> {
    const { state } = await broker.authorizeUrl('AsUser', { redirectUri: REDIRECT })
    await broker.completeAuthorization(`${REDIRECT}?code=good-code&state=${state}`)
  }

  beforeAll(async () => {
    stub.mode = 'ok'
    await authenticateHuman()
    const res = await broker.fetch('callout:Api/warm')
    expect(res.status).toBe(200)
    await res.arrayBuffer()
  })

  describe.each([
    [
      'client-credentials mint',
      'Api',
      { externalCredential: 'Machine', principal: 'Service', userId: '' },
    ],
    ['browser refresh', 'AsUser', { externalCredential: 'Human', principal: 'Me', userId: '' }],
  ] as const)('%s', (_label, name, key) => {
    it.each(failures)('%s → %s; the stored tokens are unchanged', async (mode, code) => {
      stub.mode = 'ok'
      const ok = await broker.fetch(`callout:${name}/before`)
      expect(ok.status).toBe(200)
      await ok.arrayBuffer()
      const before = await readCredential(home, key)
      expect(before?.accessToken).toBeDefined()
      // the upstream starts refusing the current token; the token endpoint is broken
      refused.add(before!.accessToken!.reveal())
      stub.mode = mode
      const tokensBefore = stub.requests
      const error = await broker.fetch(`callout:${name}/during`).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toMatchObject({ code })
      expect(stub.requests - tokensBefore).toBe(1)
      const after = await readCredential(home, key)
      expect(tokensOf(after)).toEqual(tokensOf(before))
      expect(after?.lastError?.code).toBe(code)
      // recovery: the endpoint works again
      stub.mode = 'ok'
      const again = await broker.fetch(`callout:${name}/after`)
      expect(again.status).toBe(200)
      await again.arrayBuffer()
      const recovered = await readCredential(home, key)
      expect(recovered?.status).toBe('authenticated')
      expect(recovered?.accessToken?.reveal()).not.toBe(before?.accessToken?.reveal())
      if (before?.refreshToken !== undefined)
        expect(recovered?.refreshToken?.reveal()).toBe(before.refreshToken.reveal())
    })
  })

  it('a token with CR/LF never splits a header: a typed error, no upstream request, nothing stored', async () => {
    const key = { externalCredential: 'Machine', principal: 'Service', userId: '' }
    stub.mode = 'ok'
    const warm = await broker.fetch('callout:Api/before-crlf')
    await warm.arrayBuffer()
    const before = await readCredential(home, key)
    refused.add(before!.accessToken!.reveal())
    stub.mode = 'crlf-token'
    const upstreamBefore = upstreamRequests
    const error = await broker.fetch('callout:Api/crlf').then(
      () => undefined,
      (e: unknown) => e,
    )
    // the refused token was sent once; the CR/LF token never reaches the upstream
    expect(upstreamRequests - upstreamBefore).toBe(1)
    expect(['TOKEN_RESPONSE_INVALID', 'HEADER_INJECTION']).toContain(
      (error as { code?: string } | undefined)?.code,
    )
    const after = await readCredential(home, key)
    expect(after?.accessToken?.reveal()).not.toContain('\n')
    stub.mode = 'ok'
  })

  it('token_type "bearer" (lowercase) is accepted and sent as Bearer', async () => {
    const key = { externalCredential: 'Machine', principal: 'Service', userId: '' }
    stub.mode = 'ok'
    await (await broker.fetch('callout:Api/before-lower')).arrayBuffer()
    const before = await readCredential(home, key)
    refused.add(before!.accessToken!.reveal())
    stub.mode = 'lowercase-bearer'
    try {
      const res = await broker.fetch('callout:Api/lower')
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      expect(lastAuthorization).toMatch(/^Bearer stub-at-/)
    } finally {
      stub.mode = 'ok'
    }
  })

  it('an unreachable token endpoint is TOKEN_ENDPOINT_ERROR and keeps the stored tokens', async () => {
    const key = { externalCredential: 'Machine', principal: 'Service', userId: '' }
    const closed = await listen((_req, res) => res.end())
    const deadUrl = `${closed.origin}/token`
    await closed.close()
    const defs = config() as { authProviders: { Stub: Record<string, unknown> } }
    defs.authProviders.Stub.tokenUrl = deadUrl
    const { parseConfig } = await import('../../src/index.ts')
    const before = await readCredential(home, key)
    await broker.apply(parseConfig(defs, { env: home.env }))
    try {
      refused.add(before!.accessToken!.reveal())
      await expect(broker.fetch('callout:Api/dead')).rejects.toMatchObject({
        code: 'TOKEN_ENDPOINT_ERROR',
      })
      const after = await readCredential(home, key)
      expect(after?.accessToken?.reveal()).toBe(before?.accessToken?.reveal())
    } finally {
      await broker.apply(parseConfig(config(), { env: home.env }))
    }
  })

  it('with the default cooldown, a second call right after a failure fails fast without a token request', async () => {
    const coolHome = await makeHome({ STUB_SECRET: 'stub-secret-77e1' })
    const cool = await openTestBroker(coolHome, config())
    try {
      stub.mode = 'status-500'
      const before = stub.requests
      await expect(cool.fetch('callout:Api/x')).rejects.toMatchObject({
        code: 'TOKEN_ENDPOINT_ERROR',
      })
      await expect(cool.fetch('callout:Api/x')).rejects.toMatchObject({ code: 'REFRESH_COOLDOWN' })
      expect(stub.requests - before).toBe(1)
      const [report] = await cool.status('Api')
      expect(report?.principals[0]?.status).toBe('error')
      expect(report?.principals[0]?.lastError?.code).toBe('TOKEN_ENDPOINT_ERROR')
    } finally {
      stub.mode = 'ok'
      await cool.close()
      await coolHome.cleanup()
    }
  })
})

describe('hostile caller requests', () => {
  it("drops the caller's Authorization and Proxy-Authorization headers", async () => {
    stub.mode = 'ok'
    const res = await broker.fetch('callout:Api/whoami', {
      headers: { Authorization: 'Bearer attacker-token', 'Proxy-Authorization': 'Basic eDp5' },
    })
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect(lastAuthorization).toMatch(/^Bearer stub-at-/)
    expect(lastProxyAuthorization).toBeUndefined()
  })

  it('caller Host, Connection-named and hop-by-hop headers never reach the upstream', async () => {
    stub.mode = 'ok'
    const res = await broker.fetch('callout:Api/hosts', {
      headers: {
        Host: 'evil.example',
        Connection: 'x-private',
        'X-Private': 'drop me',
        TE: 'trailers',
        'X-Kept': 'yes',
      },
    })
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect(lastHeaders.host).toBe(new URL(upstream.origin).host)
    expect(lastHeaders['x-private']).toBeUndefined()
    expect(lastHeaders.te).toBeUndefined()
    expect(lastHeaders['x-kept']).toBe('yes')
  })

  it('a closed broker fails with a clear typed error, not a pool or driver error', async () => {
    const closedHome = await makeHome({ STUB_SECRET: 'stub-secret-77e1' })
    const closed = await openTestBroker(closedHome, config())
    try {
      stub.mode = 'ok'
      await (await closed.fetch('callout:Api/x')).arrayBuffer()
    } finally {
      await closed.close()
      await closed.close() // idempotent
    }
    for (const attempt of [
      () => closed.fetch('callout:Api/x'),
      () => closed.request('callout:Api/x'),
      () => closed.status(),
      () => closed.authorizeUrl('AsUser', { redirectUri: REDIRECT }),
      () => closed.completeAuthorization(`${REDIRECT}?code=good-code&state=s`),
      () => closed.reload(),
    ]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toMatchObject({ code: 'BROKER_CLOSED' })
      expect((error as Error).message).toContain('openBroker()')
    }
    await closedHome.cleanup()
  })

  it.each([200, 403, 302])(
    "an upstream's own callout-advice header never reaches the caller (%i)",
    async (status) => {
      stub.mode = 'ok'
      const res = await broker.fetch(`callout:Api/forged-advice-${status}`)
      expect(res.status).toBe(status)
      await res.arrayBuffer()
      expect(res.headers.get('callout-advice')).toBeNull()
      const raw = await broker.request(`callout:Api/forged-advice-${status}`)
      await raw.body.dump()
      expect(raw.headers['callout-advice']).toBeUndefined()
    },
  )

  it('a header value with CR/LF is a typed error, not a header split', async () => {
    const before = upstreamRequests
    const error = await broker
      .fetch('callout:Api/x', { headers: { 'x-note': 'a\r\nX-Injected: 1' } })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(error).toMatchObject({ code: 'HEADER_INJECTION' })
    expect(upstreamRequests).toBe(before)
  })

  it('an upstream that never answers is UPSTREAM_TIMEOUT; a closed port is UPSTREAM_UNREACHABLE', async () => {
    stub.mode = 'ok'
    await expect(broker.fetch('callout:Slow/x')).rejects.toMatchObject({ code: 'UPSTREAM_TIMEOUT' })
    await expect(broker.fetch('callout:Dead/x')).rejects.toMatchObject({
      code: 'UPSTREAM_UNREACHABLE',
    })
  })

  it('a streamed body cannot be replayed after a 401: BODY_NOT_REPLAYABLE, one upstream attempt', async () => {
    stub.mode = 'ok'
    const warm = await broker.fetch('callout:Api/warm-stream')
    await warm.arrayBuffer()
    const current = await readCredential(home, {
      externalCredential: 'Machine',
      principal: 'Service',
      userId: '',
    })
    refused.add(current!.accessToken!.reveal())
    const before = upstreamRequests
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"streamed":true}'))
        controller.close()
      },
    })
    await expect(
      broker.fetch('callout:Api/upload', { method: 'POST', body, duplex: 'half' } as Parameters<
        Broker['fetch']
      >[1]),
    ).rejects.toMatchObject({ code: 'BODY_NOT_REPLAYABLE' })
    expect(upstreamRequests - before).toBe(1)
  })
})
