/**
 * The hostile-input suite over the wire: every bad key, name, path, method, header and upstream
 * gets a clear HTTP error with a Callout code and advice, no secret in the body or the log, and
 * the server keeps serving everyone else.
 */
import { Readable } from 'node:stream'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listen, type Listening } from '../helpers/callout-servers.ts'
import { CLIENT_SECRET, rawRequest, startRig, type ProxyRig } from './helpers.ts'

let rig: ProxyRig
let key: string
let narrow: string
let revoked: string
let expired: string
let noUsers: string
let thief: Listening
let stolen = 0

beforeAll(async () => {
  rig = await startRig({
    maxBodyBytes: 64 * 1024,
    replayableBodyBytes: 1024,
    maxHeaderBytes: 4096,
    headersTimeoutMs: 1_000,
    clientTimeoutMs: 2_000,
  })
  key = await rig.key(['Api'])
  narrow = await rig.key(['Api:GET|HEAD:/reports/*'])
  noUsers = await rig.key(['Users'])
  revoked = await rig.key(['Api'])
  expired = await rig.key(['Api'], { expiresAt: Date.now() - 1_000 })
  await rig.store.clientKeys.revokeClientKey(revoked.slice(3, 15))
  thief = await listen((_req, res) => {
    stolen++
    res.end('stolen')
  })
})
afterAll(async () => {
  await thief?.close()
  await rig?.close()
})

interface ErrorBody {
  error: { code: string; message: string; advice: string }
}

async function call(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; body: ErrorBody; text: string }> {
  const res = await request(`${rig.origin}${path}`, {
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: init.body }),
  })
  const text = await res.body.text()
  let body = {} as ErrorBody
  try {
    body = JSON.parse(text) as ErrorBody
  } catch {
    // not JSON: the assertion on code will say so
  }
  return { status: res.statusCode, body, text }
}

const auth = (k: string) => ({ 'proxy-authorization': `Bearer ${k}` })

function expectClean(text: string): void {
  for (const secret of [key, rig.tokens.current, CLIENT_SECRET, rig.env.CALLOUT_MASTER_KEY!]) {
    expect(text).not.toContain(secret)
  }
}

describe('keys', () => {
  it.each([
    ['missing key', {}, 401, 'CLIENT_KEY_MISSING'],
    ['malformed key', { 'proxy-authorization': 'Bearer ck_nope' }, 401, 'CLIENT_KEY_INVALID'],
    [
      'a bearer that is not a key',
      { 'proxy-authorization': 'Basic dTpw' },
      401,
      'CLIENT_KEY_INVALID',
    ],
  ])('%s', async (_name, headers, status, code) => {
    const res = await call('/callout/Api/x', { headers })
    expect(res.status).toBe(status)
    expect(res.body.error.code).toBe(code)
    expect(res.body.error.advice).toContain('callout keys create')
  })

  it('a well-formed key with the wrong secret → 401 CLIENT_KEY_INVALID', async () => {
    const forged = `${key.slice(0, 16)}${'0'.repeat(64)}`
    const res = await call('/callout/Api/x', { headers: auth(forged) })
    expect([res.status, res.body.error.code]).toEqual([401, 'CLIENT_KEY_INVALID'])
  })

  it('expired and revoked keys → 401 with their own codes', async () => {
    const e = await call('/callout/Api/x', { headers: auth(expired) })
    expect([e.status, e.body.error.code]).toEqual([401, 'CLIENT_KEY_EXPIRED'])
    const r = await call('/callout/Api/x', { headers: auth(revoked) })
    expect([r.status, r.body.error.code]).toEqual([401, 'CLIENT_KEY_REVOKED'])
  })

  it('a key for another credential → 403 ACCESS_DENIED', async () => {
    const res = await call('/callout/Other/x', { headers: auth(key) })
    expect([res.status, res.body.error.code]).toEqual([403, 'ACCESS_DENIED'])
    expect(res.body.error.message).toContain('--allow Other')
  })

  it('method and path outside the rule → 403; inside → 200', async () => {
    const post = await call('/callout/Api/reports/1', {
      method: 'POST',
      headers: auth(narrow),
      body: 'x',
    })
    expect([post.status, post.body.error.code]).toEqual([403, 'ACCESS_DENIED'])
    const other = await call('/callout/Api/admin', { headers: auth(narrow) })
    expect([other.status, other.body.error.code]).toEqual([403, 'ACCESS_DENIED'])
    const ok = await call('/callout/Api/reports/1', { headers: auth(narrow) })
    expect(ok.status).toBe(200)
  })

  it('Callout-User from a key without --any-user → 403; a per-user credential without it → 400', async () => {
    const res = await call('/callout/Users/me', {
      headers: { ...auth(noUsers), 'callout-user': 'mallory' },
    })
    expect([res.status, res.body.error.code]).toEqual([403, 'ACCESS_DENIED'])
    const none = await call('/callout/Users/me', { headers: auth(noUsers) })
    expect([none.status, none.body.error.code]).toEqual([400, 'USER_REQUIRED'])
  })
})

describe('names and paths', () => {
  it('unknown credential → 404 CREDENTIAL_NOT_FOUND', async () => {
    const res = await call('/callout/Nope/x', { headers: auth(key) })
    expect([res.status, res.body.error.code]).toEqual([404, 'CREDENTIAL_NOT_FOUND'])
  })

  it.each([
    ['/callout/Api/a%2fb', 'no-encoded-slash'],
    ['/callout/Api/a%252Fb', 'no-encoded-slash'],
    ['/callout/Api/a/%2e%2e/admin', 'no-dot-segments'],
    ['/callout/Api/a/..;/admin', 'no-dot-segment-params'],
    ['/callout/Api/a/%2e%2e;x/admin', 'no-dot-segment-params'],
    ['/callout/Api/a%0d%0aX-Evil:%201', 'no-control-chars'],
    ['/callout/Api//evil.example/x', 'no-scheme-relative'],
    ['/callout/Api/a@evil.example', 'no-userinfo'],
    ['/callout/Api/a%zz', 'bad-percent-encoding'],
  ])('%s → 400 CALLOUT_URL_MALFORMED (%s)', async (path, rule) => {
    const before = rig.upstream.seen.length
    const res = await rawRequest(
      rig.origin,
      `GET ${path} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer ${key}\r\nConnection: close\r\n\r\n`,
    )
    expect(res.status).toBe(400)
    const body = JSON.parse(res.body) as ErrorBody & { error: { details: { rule: string } } }
    expect(body.error.code).toBe('CALLOUT_URL_MALFORMED')
    expect(body.error.details.rule).toBe(rule)
    expect(rig.upstream.seen.length).toBe(before)
  })

  it('dot segments written plainly are refused (not resolved away by the client)', async () => {
    const res = await rawRequest(
      rig.origin,
      `GET /callout/Api/a/../../admin HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer ${key}\r\nConnection: close\r\n\r\n`,
    )
    expect(res.status).toBe(400)
    expect(res.body).toContain('CALLOUT_URL_MALFORMED')
  })

  it('an absolute-form target → 400, never fetched', async () => {
    const res = await rawRequest(
      rig.origin,
      `GET ${thief.origin}/x HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer ${key}\r\nConnection: close\r\n\r\n`,
    )
    expect(res.status).toBe(400)
    expect(res.body).toContain('CALLOUT_URL_MALFORMED')
    expect(stolen).toBe(0)
  })

  it('CONNECT → 405 METHOD_NOT_ALLOWED', async () => {
    const res = await rawRequest(
      rig.origin,
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    )
    expect(res.status).toBe(405)
    expect(res.body).toContain('METHOD_NOT_ALLOWED')
  })

  it('TRACE → 405; an unknown route → 404 ROUTE_NOT_FOUND', async () => {
    const trace = await call('/callout/Api/x', { method: 'TRACE', headers: auth(key) })
    expect([trace.status, trace.body.error.code]).toEqual([405, 'METHOD_NOT_ALLOWED'])
    const nf = await call('/admin', { headers: auth(key) })
    expect([nf.status, nf.body.error.code]).toEqual([404, 'ROUTE_NOT_FOUND'])
  })

  it('a raw CR in the request line is refused by the parser with a JSON 400', async () => {
    const res = await rawRequest(rig.origin, `GET /callout/Api/a\rb HTTP/1.1\r\nHost: x\r\n\r\n`)
    expect(res.status).toBe(400)
    expect(res.body).toContain('INVALID_ARGUMENT')
  })

  it('a Via naming this proxy → 508 PROXY_LOOP', async () => {
    const res = await call('/callout/Api/x', {
      headers: { ...auth(key), via: `1.1 edge, 1.1 ${rig.server.pseudonym}` },
    })
    expect([res.status, res.body.error.code]).toEqual([508, 'PROXY_LOOP'])
  })
})

describe('sizes and time', () => {
  it('oversized headers → 431 REQUEST_HEADERS_TOO_LARGE', async () => {
    const res = await rawRequest(
      rig.origin,
      `GET /callout/Api/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`,
    )
    expect(res.status).toBe(431)
    expect(res.body).toContain('REQUEST_HEADERS_TOO_LARGE')
  })

  it('an oversized declared body → 413; an oversized chunked body fails too', async () => {
    const big = await call('/callout/Api/upload', {
      method: 'POST',
      headers: auth(key),
      body: Buffer.alloc(100_000),
    })
    expect([big.status, big.body.error.code]).toEqual([413, 'REQUEST_TOO_LARGE'])
    const chunked = await request(`${rig.origin}/callout/Api/upload`, {
      method: 'POST',
      headers: auth(key),
      body: Readable.from(
        (function* () {
          for (let i = 0; i < 10; i++) yield Buffer.alloc(16 * 1024)
        })(),
      ),
    }).then(
      async (r) => ({ status: r.statusCode, text: await r.body.text() }),
      (e: Error) => ({ status: 0, text: e.message }),
    )
    expect(chunked.status === 413 || chunked.status === 0).toBe(true)
    if (chunked.status === 413) expect(chunked.text).toContain('REQUEST_TOO_LARGE')
  })

  it('an upstream that hangs → 504 UPSTREAM_TIMEOUT', async () => {
    const res = await call('/callout/Api/hang', { headers: auth(key) })
    expect([res.status, res.body.error.code]).toEqual([504, 'UPSTREAM_TIMEOUT'])
  })

  it('an upstream that stalls after its headers, before the first body byte → a JSON error answer, not a dropped connection', async () => {
    const res = await call('/callout/Api/stall-body', { headers: auth(key) })
    expect([res.status, res.body.error.code]).toEqual([504, 'UPSTREAM_TIMEOUT'])
    expect(res.body.error.message).toContain('timeout')
    expectClean(res.text)
  })

  it('an upstream that resets → 502 UPSTREAM_UNREACHABLE', async () => {
    const res = await call('/callout/Api/reset', { headers: auth(key) })
    expect([res.status, res.body.error.code]).toEqual([502, 'UPSTREAM_UNREACHABLE'])
  })

  it('an upstream that answers garbage → 502', async () => {
    const res = await call('/callout/Api/garbage', { headers: auth(key) })
    expect(res.status).toBe(502)
    expect(res.body.error.code).toBe('UPSTREAM_UNREACHABLE')
  })

  it('an upstream redirecting off-origin: the redirect is returned, never followed with credentials', async () => {
    const res = await request(
      `${rig.origin}/callout/Api/redirect-off?to=${encodeURIComponent(thief.origin)}`,
      {
        headers: auth(key),
      },
    )
    await res.body.dump()
    expect(res.statusCode).toBe(302)
    expect(stolen).toBe(0)
  })

  it('a slow client (headers never finished) gets 408 REQUEST_TIMEOUT while others are served', async () => {
    const started = Date.now()
    const slow = rawRequest(rig.origin, 'GET /callout/Api/x HTTP/1.1\r\nHost: x\r\n', 10_000)
    const ok = await call('/callout/Api/fine', { headers: auth(key) })
    expect(ok.status).toBe(200)
    const res = await slow
    expect(res.status).toBe(408)
    expect(res.body).toContain('REQUEST_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(8_000)
  })
})

describe('a slow body', () => {
  it('a body that drips and never ends gets 408 REQUEST_TIMEOUT within the client timeout; others are served', async () => {
    const started = Date.now()
    const { port } = new URL(rig.origin)
    const net = await import('node:net')
    const socket = net.connect(Number(port), '127.0.0.1')
    let received = ''
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')))
    socket.on('error', () => undefined)
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    socket.write(
      `POST /callout/Api/upload HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer ${key}\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\n`,
    )
    const drip = setInterval(() => socket.writable && socket.write('x'), 200)
    try {
      const ok = await call('/callout/Api/fine', { headers: auth(key) })
      expect(ok.status).toBe(200)
      await closed
    } finally {
      clearInterval(drip)
      socket.destroy()
    }
    expect(received).toMatch(/^HTTP\/1\.1 408 /)
    expect(received).toContain('REQUEST_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(6_000)
  })
})

describe('afterwards', () => {
  it('keeps serving, and nothing secret reached the log or any error body', async () => {
    const ok = await call('/callout/Api/still-here', { headers: auth(key) })
    expect(ok.status).toBe(200)
    expectClean(rig.log.lines.join('\n'))
    const metrics = await (await request(`${rig.origin}/metrics`)).body.text()
    expect(metrics).toMatch(
      /callout_client_key_denials_total\{key="none",code="CLIENT_KEY_MISSING"\} [1-9]/,
    )
    expect(metrics).toMatch(
      /callout_client_key_denials_total\{key="[0-9a-f]{12}",code="ACCESS_DENIED"\} [1-9]/,
    )
  })
})
