/**
 * API mode over real sockets: undici and curl through `/callout/<Name>/<path>` to a plain
 * upstream with an OAuth token the proxy obtains, refreshes once and injects.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLIENT_SECRET, rawRequest, startRig, type ProxyRig } from './helpers.ts'

const run = promisify(execFile)
let rig: ProxyRig
let key: string

/** Every test on the full path (each key verified again), then on the fast path (keys cached). */
describe.each([
  ['the full path', 0],
  ['the fast path', 60_000],
] as const)('API mode, %s', (_path, keyCacheMs) => {
  beforeAll(async () => {
    rig = await startRig({ keyCacheMs })
    key = await rig.key(['Api', 'Users'], { anyUser: true })
  })
  afterAll(async () => rig?.close())

  it('forwards GET with the query, injects the token and strips the client key', async () => {
    const res = await request(`${rig.origin}/callout/Api/items?limit=10&q=a%20b`, {
      headers: { 'proxy-authorization': `Bearer ${key}`, accept: 'application/json' },
    })
    expect(res.statusCode).toBe(200)
    const body = (await res.body.json()) as { url: string; headers: Record<string, string> }
    expect(body.url).toBe('/api/items?limit=10&q=a%20b')
    expect(body.headers.authorization).toBe(`Bearer ${rig.tokens.current}`)
    expect(body.headers['proxy-authorization']).toBeUndefined()
    expect(body.headers.via).toBe(`1.1 ${rig.server.pseudonym}`)
    expect(JSON.stringify(body)).not.toContain(key)
    expect(res.headers.via).toBe(`1.1 ${rig.server.pseudonym}`)
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2'])
  })

  it('accepts the key as Authorization: Bearer ck_… and replaces it with the real token', async () => {
    const res = await request(`${rig.origin}/callout/Api/x`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"a":1}',
    })
    const body = (await res.body.json()) as {
      method: string
      body: string
      headers: Record<string, string>
    }
    expect(res.statusCode).toBe(200)
    expect(body.method).toBe('POST')
    expect(body.body).toBe('{"a":1}')
    expect(body.headers.authorization).toBe(`Bearer ${rig.tokens.current}`)
  })

  it('refreshes once and retries once on a 401, replaying a small body', async () => {
    const before = rig.tokens.requests
    rig.tokens.current = 'rotated-by-the-server'
    const res = await request(`${rig.origin}/callout/Api/x`, {
      method: 'PUT',
      headers: { 'proxy-authorization': `Bearer ${key}` },
      body: 'replay me',
    })
    const body = (await res.body.json()) as { body: string }
    expect(res.statusCode).toBe(200)
    expect(body.body).toBe('replay me')
    expect(rig.tokens.requests).toBe(before + 1)
  })

  it('removes hop-by-hop headers both ways, including those Connection names', async () => {
    const res = await rawRequest(
      rig.origin,
      'GET /callout/Api/echo HTTP/1.1\r\nHost: x\r\n' +
        `Proxy-Authorization: Bearer ${key}\r\n` +
        'Connection: close, x-client-hop\r\nX-Client-Hop: must-not-pass\r\nTE: trailers\r\n' +
        'Upgrade: h2c\r\nX-Kept: yes\r\n\r\n',
    )
    expect(res.status).toBe(200)
    const json = res.body.slice(res.body.indexOf('{'), res.body.lastIndexOf('}') + 1)
    const body = JSON.parse(json) as { headers: Record<string, string> }
    expect(body.headers['x-client-hop']).toBeUndefined()
    expect(body.headers.te).toBeUndefined()
    expect(body.headers.upgrade).toBeUndefined()
    expect(body.headers['x-kept']).toBe('yes')

    const hop = await request(`${rig.origin}/callout/Api/hop`, {
      headers: { 'proxy-authorization': `Bearer ${key}` },
    })
    await hop.body.dump()
    expect(hop.headers['x-upstream-hop']).toBeUndefined()
    expect(hop.headers['proxy-authenticate']).toBeUndefined()
    expect(hop.headers['x-kept']).toBe('yes')
  })

  it('takes the end user from Callout-User for a key allowed to act for users', async () => {
    const res = await request(`${rig.origin}/callout/Users/me`, {
      headers: { 'proxy-authorization': `Bearer ${key}`, 'callout-user': 'alice' },
    })
    const body = (await res.body.json()) as { headers: Record<string, string> }
    expect(res.statusCode).toBe(200)
    expect(body.headers['callout-user']).toBeUndefined()
    const stored = await rig.store.getCredential({
      externalCredential: 'PerUser',
      principal: 'EachUser',
      userId: 'alice',
    })
    expect(stored?.status).toBe('authenticated')
  })

  it('works with curl', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '-H',
      `Proxy-Authorization: Bearer ${key}`,
      '-X',
      'PATCH',
      '--data-binary',
      'from curl',
      `${rig.origin}/callout/Api/curl?x=1`,
    ])
    const body = JSON.parse(stdout) as { method: string; url: string; body: string }
    expect(body).toMatchObject({ method: 'PATCH', url: '/api/curl?x=1', body: 'from curl' })
  })

  it('works from Python (urllib), as any language would', async () => {
    const script = [
      'import json, sys, urllib.request',
      'req = urllib.request.Request(sys.argv[1] + "/callout/Api/py?lang=python", data=b"from python", method="POST")',
      'req.add_header("Proxy-Authorization", "Bearer " + sys.argv[2])',
      'req.add_header("Content-Type", "text/plain")',
      'with urllib.request.urlopen(req) as res:',
      '    body = json.load(res)',
      'print(json.dumps({"status": res.status, "method": body["method"], "url": body["url"], "body": body["body"]}))',
      'try:',
      '    urllib.request.urlopen(sys.argv[1] + "/callout/Nope/x")',
      'except urllib.error.HTTPError as e:',
      '    print(json.dumps({"status": e.code, "code": json.load(e)["error"]["code"]}))',
    ].join('\n')
    const { stdout } = await run('python3', ['-c', script, rig.origin, key])
    const [ok, denied] = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(ok).toEqual({
      status: 200,
      method: 'POST',
      url: '/api/py?lang=python',
      body: 'from python',
    })
    expect(denied).toEqual({ status: 401, code: 'CLIENT_KEY_MISSING' })
  })

  it('a refresh storm: 1,000 concurrent requests on a rejected token make exactly 1 token request', async () => {
    const pool = new Agent({ connections: 1_000 })
    try {
      await request(`${rig.origin}/callout/Api/warm`, {
        headers: { 'proxy-authorization': `Bearer ${key}` },
      }).then((r) => r.body.dump())
      const before = rig.tokens.requests
      rig.tokens.current = 'rotated-for-the-storm'
      const statuses = await Promise.all(
        Array.from({ length: 1_000 }, async (_, i) => {
          const res = await request(`${rig.origin}/callout/Api/storm/${i}`, {
            headers: { 'proxy-authorization': `Bearer ${key}` },
            dispatcher: pool,
          })
          await res.body.dump()
          return res.statusCode
        }),
      )
      expect(statuses.filter((s) => s !== 200)).toEqual([])
      expect(rig.tokens.requests - before).toBe(1)
    } finally {
      await pool.close()
    }
  }, 120_000)

  it('serves /healthz, /readyz and /metrics, and logs without secrets', async () => {
    expect((await request(`${rig.origin}/healthz`)).statusCode).toBe(200)
    const ready = await request(`${rig.origin}/readyz`)
    expect(ready.statusCode).toBe(200)
    await ready.body.dump()
    const metrics = await (await request(`${rig.origin}/metrics`)).body.text()
    expect(metrics).toMatch(
      /callout_proxy_requests_total\{credential="Api",status_class="2xx"\} \d+/,
    )
    expect(metrics).toMatch(/callout_token_refreshes_total\{credential="Api"\} [1-9]/)
    expect(metrics).toMatch(/callout_client_key_requests_total\{key="[0-9a-f]{12}"\} \d+/)
    const log = rig.log.lines.join('\n')
    expect(log).toContain('"credential":"Api"')
    for (const secret of [key, rig.tokens.current, CLIENT_SECRET]) expect(log).not.toContain(secret)
  })
})
