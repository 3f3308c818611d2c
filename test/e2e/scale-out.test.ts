/**
 * Scale-out evidence with real processes: four `callout serve` instances on one PostgreSQL (an
 * isolated schema of the shared server, named in the store URL), the Salesforce emulator with
 * refresh-token rotation on, 1,000 concurrent requests spread across the instances through the
 * proxy on an expired session:
 *
 * 1. exactly one token request, no failed request, no `invalid_grant`, and the newest refresh
 *    token stored (a second expiry refreshes once more with it — a rotated-out token would be a
 *    replay, which revokes the family);
 * 2. the same with the token endpoint delayed 3 s;
 * 3. a definition applied through the store is served by every instance within 1 s (measured and
 *    printed). The instances poll the definitions only once a minute here: what brings it is the
 *    LISTEN/NOTIFY channel.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Agent, request } from 'undici'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { openBroker, parseConfig, type Broker } from '../../src/index.ts'
import { newClientKey } from '../../src/server/client-key.ts'
import type { KyselyStore } from '../../src/store/kysely-store.ts'
import { openStore } from '../../src/store/open-store.ts'
import {
  dropTestSchemas,
  requirePostgres,
  testPostgresUrl,
  testSchemaName,
} from '../helpers/postgres.ts'
import { makeHome, salesforceAuthorize, type TestHome } from './helpers/e2e.ts'
import { freePort } from '../cli/helpers.ts'
import { ServeInstance, stopAll } from './helpers/serve-instance.ts'

const NGINX_EXAMPLE = fileURLToPath(new URL('../../examples/scaling/nginx.conf', import.meta.url))

async function hasNginx(): Promise<boolean> {
  try {
    await promisify(execFile)('sh', ['-c', 'command -v nginx'])
    return true
  } catch {
    return false
  }
}
const nginxPresent = await hasNginx()

const REDIRECT = 'http://127.0.0.1:9/callback'
const PASSWORD = 'Sc4le-0ut!'
const USER = 'admin@scale.example'
const INSTANCES = 4
const STORM = 1_000
const KEY = { externalCredential: 'Rotate', principal: 'Admin', userId: '' }

let emulator: Emulator
let org: EmulatedOrg
let home: TestHome
let store: KyselyStore
let parent: Broker
let clientKey = ''
let servers: ServeInstance[] = []
const schema = testSchemaName('e2e_scale')
/** Enough connections for the whole storm at once. */
const agent = new Agent({ connections: STORM, pipelining: 0 })

function config(extra: Record<string, object> = {}): object {
  return {
    authProviders: {
      Sf: {
        type: 'salesforce',
        loginUrl: org.loginUrl,
        consumerKey: org.connectedApp('Web').consumerKey,
        consumerSecret: '${env:SF_SECRET}',
      },
    },
    externalCredentials: {
      Rotate: {
        protocol: 'oauth2',
        flow: 'browser',
        authProvider: 'Sf',
        scope: 'api refresh_token',
        principals: { Admin: { type: 'named' } },
      },
    },
    namedCredentials: { Rotate: { url: org.instanceUrl, externalCredential: 'Rotate' }, ...extra },
  }
}

async function call(
  server: ServeInstance,
  name: string,
  i: number,
): Promise<{ status: number; code?: string }> {
  const res = await request(`${server.origin}/callout/${name}/services/data/v61.0/limits?i=${i}`, {
    dispatcher: agent,
    headers: { 'proxy-authorization': `Bearer ${clientKey}` },
  })
  const text = await res.body.text()
  if (res.statusCode === 200) return { status: 200 }
  const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code
  if (res.statusCode >= 500) firstFailure ??= text.slice(0, 500)
  return { status: res.statusCode, ...(code === undefined ? {} : { code }) }
}

/** The body of the first 5xx answer, printed when a storm fails. */
let firstFailure: string | undefined

/** Concurrent requests, round-robin over the instances; outcomes counted. */
async function storm(count: number): Promise<Record<string, number>> {
  const outcomes = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      call(servers[i % servers.length]!, 'Rotate', i).catch((e: unknown) => ({
        status: 0,
        code: String((e as Error).message),
      })),
    ),
  )
  const tally: Record<string, number> = {}
  for (const o of outcomes) {
    const label = o.status === 200 ? '200' : `${o.status} ${o.code ?? ''}`
    tally[label] = (tally[label] ?? 0) + 1
  }
  if (firstFailure !== undefined) console.log(`first failure: ${firstFailure}`)
  firstFailure = undefined
  return tally
}

const tokenRequests = () => emulator.requestLog.tokenRequests(undefined, 'scale')
const invalidGrants = () =>
  emulator.requestLog
    .entries({ org: 'scale', path: '/services/oauth2/token' })
    .filter((e) => e.status === 400).length

beforeAll(async () => {
  await requirePostgres()
  emulator = await startEmulator({
    orgs: [
      {
        name: 'scale',
        users: [{ username: USER, password: PASSWORD }],
        connectedApps: [
          { name: 'Web', callbackUrls: [REDIRECT], scopes: ['api', 'refresh_token'] },
        ],
      },
    ],
  })
  org = emulator.org('scale')
  org.faults.setRotation(true)
  home = await makeHome({ SF_SECRET: org.connectedApp('Web').consumerSecret })
  store = await openStore({ url: testPostgresUrl(), schema, home: home.dir, env: home.env })
  parent = await openBroker({ home: home.dir, env: home.env, store })
  await parent.apply(parseConfig(config(), { env: home.env, onWarning: () => {} }))
  const { url } = await parent.authorizeUrl('Rotate', { redirectUri: REDIRECT })
  await parent.completeAuthorization(
    await salesforceAuthorize(url, { username: USER, password: PASSWORD }),
  )
  const generated = newClientKey({
    name: 'scale-test',
    rules: ['Rotate', 'Later'],
    anyUser: false,
    now: Date.now(),
  })
  await store.clientKeys.createClientKey(generated.record)
  clientKey = generated.key
  // The schema travels in the store URL, as a deployment would put it.
  const storeUrl = new URL(testPostgresUrl())
  storeUrl.searchParams.set('options', `-c search_path=${schema}`)
  const env = {
    PATH: process.env.PATH,
    CALLOUT_HOME: home.dir,
    CALLOUT_MASTER_KEY: home.env.CALLOUT_MASTER_KEY,
    CALLOUT_STORE: storeUrl.href,
  }
  servers = await Promise.all(
    Array.from({ length: INSTANCES }, () =>
      ServeInstance.start(['--reload-interval-ms', '60000', '--key-cache-ms', '60000'], env),
    ),
  )
  // Each instance reads the stored token once (no token request).
  for (const server of servers) expect(await call(server, 'Rotate', -1)).toEqual({ status: 200 })
}, 120_000)

afterAll(async () => {
  await stopAll()
  await agent.close()
  await parent?.close()
  await store?.close()
  await dropTestSchemas([schema])
  await emulator?.close()
  await home?.cleanup()
})

describe(`${INSTANCES} callout serve instances on one PostgreSQL`, { timeout: 90_000 }, () => {
  it(`${STORM} concurrent requests on an expired session, rotation on → 1 token request, 0 failures, 0 invalid_grant, the newest refresh token stored`, async () => {
    const before = await store.getCredential(KEY)
    emulator.requestLog.clear()
    org.faults.expireSessions()
    const started = performance.now()
    expect(await storm(STORM)).toEqual({ '200': STORM })
    const drainMs = performance.now() - started
    expect(tokenRequests()).toBe(1)
    expect(emulator.requestLog.tokenRequests('refresh_token', 'scale')).toBe(1)
    expect(invalidGrants()).toBe(0)
    const after = await store.getCredential(KEY)
    expect(after?.status).toBe('authenticated')
    expect(after?.refreshToken?.reveal()).not.toBe(before?.refreshToken?.reveal())
    // The stored refresh token is the one the emulator issued last: refreshing with it works.
    emulator.requestLog.clear()
    org.faults.expireSessions()
    expect(await storm(100)).toEqual({ '200': 100 })
    expect(tokenRequests()).toBe(1)
    expect(invalidGrants()).toBe(0)
    console.log(
      `${INSTANCES} instances, ${STORM} requests through the proxy on an expired session: drained in ${Math.round(drainMs)} ms, 1 token request`,
    )
  })

  it('the same with the token endpoint delayed 3 s → still exactly 1 token request and no failure', async () => {
    emulator.requestLog.clear()
    org.faults.expireSessions()
    org.faults.setLatency({ tokenMs: 3_000 })
    try {
      const started = performance.now()
      expect(await storm(STORM)).toEqual({ '200': STORM })
      const drainMs = performance.now() - started
      expect(tokenRequests()).toBe(1)
      expect(invalidGrants()).toBe(0)
      expect(drainMs).toBeGreaterThan(3_000)
      console.log(
        `${INSTANCES} instances, ${STORM} requests, token endpoint delayed 3 s: drained in ${Math.round(drainMs)} ms, 1 token request`,
      )
    } finally {
      org.faults.setLatency({ tokenMs: 0 })
    }
  })

  it('a definition applied through the store is served by every instance within 1 s (LISTEN/NOTIFY; the poll is 60 s)', async () => {
    for (const server of servers) expect((await call(server, 'Later', 0)).status).toBe(404)
    const applied = performance.now()
    await parent.apply(
      parseConfig(config({ Later: { url: org.instanceUrl, externalCredential: 'Rotate' } }), {
        env: home.env,
        onWarning: () => {},
      }),
    )
    const appliedAt = performance.now()
    const servedAfterMs = await Promise.all(
      servers.map(async (server) => {
        for (;;) {
          if ((await call(server, 'Later', 0)).status === 200) return performance.now() - appliedAt
          if (performance.now() - appliedAt > 5_000) return Infinity
          await new Promise((r) => setTimeout(r, 10))
        }
      }),
    )
    console.log(
      `definition applied in ${Math.round(appliedAt - applied)} ms; served by instances 1–${INSTANCES} after ${servedAfterMs.map((ms) => `${Math.round(ms)} ms`).join(', ')}`,
    )
    for (const ms of servedAfterMs) expect(ms).toBeLessThan(1_000)
  })

  it.runIf(nginxPresent)(
    'examples/scaling/nginx.conf balances requests over the instances (its server lines pointed at them)',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'callout-nginx-'))
      const port = await freePort()
      const example = await readFile(NGINX_EXAMPLE, 'utf8')
      const upstreams = servers.map(
        (server) => `    server ${new URL(server.origin).host} max_fails=1 fail_timeout=5s;`,
      )
      const site = example
        .replace(/^ {4}server callout-\d:7070.*\n/gm, '')
        .replace('upstream callout {\n', `upstream callout {\n${upstreams.join('\n')}\n`)
        .replace('listen 8080;', `listen 127.0.0.1:${port};`)
      expect(site).not.toContain('callout-1')
      await writeFile(
        join(dir, 'nginx.conf'),
        `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
${site}
}\n`,
      )
      const nginx = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' })
      try {
        const origin = `http://127.0.0.1:${port}`
        for (let i = 0; ; i++) {
          const up = await request(`${origin}/readyz`, { dispatcher: agent }).then(
            async (r) => (await r.body.text(), r.statusCode === 200),
            () => false,
          )
          if (up) break
          if (i > 100) throw new Error('nginx did not start')
          await new Promise((r) => setTimeout(r, 50))
        }
        const before = servers.map((server) => server.stdout.split('\n').length)
        const outcomes = await Promise.all(
          Array.from({ length: 40 }, async (_, i) => {
            const res = await request(
              `${origin}/callout/Rotate/services/data/v61.0/limits?n=${i}`,
              {
                dispatcher: agent,
                headers: { 'proxy-authorization': `Bearer ${clientKey}` },
              },
            )
            await res.body.text()
            return res.statusCode
          }),
        )
        expect(outcomes.every((status) => status === 200)).toBe(true)
        // Every instance answered some of them.
        await new Promise((r) => setTimeout(r, 300))
        const served = servers.map((server, i) => server.stdout.split('\n').length - before[i]!)
        for (const n of served) expect(n).toBeGreaterThan(0)
      } finally {
        nginx.kill('SIGTERM')
        await rm(dir, { recursive: true, force: true })
      }
    },
  )
})
