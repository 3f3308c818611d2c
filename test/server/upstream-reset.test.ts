/**
 * An upstream that closes reused keep-alive connections before answering (the race of an idle
 * timeout): idempotent requests are sent once more on a fresh connection, through the proxy and
 * through `broker.fetch` alike (one implementation, in the pipeline's `send` step); POST, PATCH
 * and streamed bodies are not sent twice and get `UPSTREAM_CONNECTION_RESET`.
 */
import { Readable } from 'node:stream'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Dispatchers } from '../../src/callout/dispatchers.ts'
import { send } from '../../src/callout/steps/send.ts'
import { isCalloutError } from '../../src/errors.ts'
import { startRig, type ProxyRig } from './helpers.ts'

let rig: ProxyRig
let key: string

/** The full path (each key verified again on every request), then the fast path (keys cached). */
const PATHS = [
  ['the full path', 0],
  ['the fast path', 60_000],
] as const

beforeAll(async () => {
  rig = await startRig()
  key = await rig.key(['Api'])
})
afterAll(async () => rig?.close())

/** The upstream's record of the requests to `path` since `from`: method and place on its connection. */
function attempts(path: string, from: number): string[] {
  return rig.upstream.seen
    .slice(from)
    .filter((s) => s.url.startsWith(path))
    .map((s) => `${s.method} #${s.nthOnConnection}`)
}

/**
 * Answered requests first, three at once and then one, so that the proxy's pool holds several
 * idle upstream connections that have each carried an answer: a retry through the pool would
 * meet another stale one, so it must open a connection of its own.
 */
async function warmProxy(): Promise<void> {
  const echo = async (): Promise<void> => {
    const res = await request(`${rig.origin}/callout/Api/echo`, {
      headers: { 'proxy-authorization': `Bearer ${key}` },
    })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
  }
  await Promise.all([echo(), echo(), echo()])
  await echo()
}

async function proxy(
  method: string,
  path: string,
  body?: string | Readable,
): Promise<{
  status: number
  json: { error?: { code: string; advice: string; details: unknown } }
}> {
  const res = await request(`${rig.origin}/callout/Api${path}`, {
    method: method as 'GET',
    headers: { 'proxy-authorization': `Bearer ${key}` },
    ...(body === undefined ? {} : { body }),
  })
  return { status: res.statusCode, json: (await res.body.json()) as never }
}

describe.each(PATHS)(
  'a reset of a reused upstream connection, through the proxy on %s',
  (_path, keyCacheMs) => {
    let full: ProxyRig
    beforeAll(async () => {
      full = rig
      rig = await startRig({ keyCacheMs })
      key = await rig.key(['Api'])
    })
    afterAll(async () => {
      await rig.close()
      rig = full
      key = await rig.key(['Api'])
    })

    it.each(['', '?rst'])(
      'GET%s: sent once more on a fresh connection, answered 200',
      async (query) => {
        await warmProxy()
        const from = rig.upstream.seen.length
        const res = await proxy('GET', `/stale${query}`)
        expect(res.status).toBe(200)
        // The first attempt went out on a reused connection and was cut; the second on a new one.
        expect(attempts('/api/stale', from)).toEqual([
          expect.stringMatching(/^GET #[2-9]/),
          'GET #1',
        ])
      },
    )

    it.each(['PUT', 'DELETE', 'OPTIONS'])('%s with a small body: retried too', async (method) => {
      await warmProxy()
      const from = rig.upstream.seen.length
      const res = await proxy(method, '/stale', 'same twice')
      expect(res.status).toBe(200)
      expect(attempts('/api/stale', from)).toEqual([
        expect.stringMatching(new RegExp(`^${method} #[2-9]`)),
        `${method} #1`,
      ])
    })

    it.each(['POST', 'PATCH'])(
      '%s: not sent twice; 502 UPSTREAM_CONNECTION_RESET with advice',
      async (method) => {
        await warmProxy()
        const from = rig.upstream.seen.length
        const res = await proxy(method, '/stale', '{"create":"once"}')
        expect(res.status).toBe(502)
        expect(res.json.error).toMatchObject({
          code: 'UPSTREAM_CONNECTION_RESET',
          details: { method, reason: 'method' },
          advice: expect.stringContaining('check before sending it again'),
        })
        expect(attempts('/api/stale', from)).toEqual([expect.stringMatching(/ #[2-9]$/)])
      },
    )

    it('PUT with a streamed body (chunked) already sent: not sent twice', async () => {
      await warmProxy()
      const from = rig.upstream.seen.length
      const res = await proxy('PUT', '/stale', Readable.from([Buffer.from('streamed, not kept')]))
      expect(res.status).toBe(502)
      expect(res.json.error).toMatchObject({
        code: 'UPSTREAM_CONNECTION_RESET',
        details: { method: 'PUT', reason: 'streamed-body' },
      })
      expect(attempts('/api/stale', from)).toEqual([expect.stringMatching(/^PUT #[2-9]$/)])
    })

    it('a second reset (on the fresh connection) is not retried again: 502 UPSTREAM_UNREACHABLE', async () => {
      await warmProxy()
      const from = rig.upstream.seen.length
      const res = await proxy('GET', '/reset')
      expect(res.status).toBe(502)
      expect(res.json.error?.code).toBe('UPSTREAM_UNREACHABLE')
      expect(attempts('/api/reset', from)).toEqual([
        expect.stringMatching(/^GET #[2-9]$/),
        'GET #1',
      ])
    })
  },
)

describe('the same through broker.fetch', () => {
  async function warmBroker(): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const res = await rig.broker.fetch('callout:Api/echo')
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }
  }

  it('GET: retried once on a fresh connection', async () => {
    await warmBroker()
    const from = rig.upstream.seen.length
    const res = await rig.broker.fetch('callout:Api/stale?rst')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ method: 'GET' })
    expect(attempts('/api/stale', from)).toEqual([expect.stringMatching(/^GET #[2-9]$/), 'GET #1'])
  })

  it('POST: rejects with UPSTREAM_CONNECTION_RESET, sent once', async () => {
    await warmBroker()
    const from = rig.upstream.seen.length
    const error = await rig.broker
      .fetch('callout:Api/stale', { method: 'POST', body: '{"create":"once"}' })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(isCalloutError(error, 'UPSTREAM_CONNECTION_RESET')).toBe(true)
    expect(attempts('/api/stale', from)).toEqual([expect.stringMatching(/^POST #[2-9]$/)])
  })
})

describe('a reset on a fresh connection', () => {
  it('is not retried (the upstream is failing, not a stale connection)', async () => {
    const dispatchers = new Dispatchers()
    try {
      const from = rig.upstream.seen.length
      const error = await send(
        dispatchers.for(undefined),
        {
          method: 'GET',
          url: new URL(`${rig.upstream.origin}/api/reset`),
          headers: {},
          body: undefined,
        },
        { timeoutMs: 2_000, target: 'Plain' },
      ).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isCalloutError(error, 'UPSTREAM_UNREACHABLE')).toBe(true)
      expect(attempts('/api/reset', from)).toEqual(['GET #1'])
    } finally {
      await dispatchers.close()
    }
  })
})
