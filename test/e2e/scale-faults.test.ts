/**
 * Faults of a scaled-out deployment, each with real `callout serve` processes on a PostgreSQL
 * cluster of this test's own (started in a temp directory, so that it can be stopped and
 * restarted without touching the shared one), against the Salesforce emulator:
 *
 * 1. the database unreachable at start: the instance listens, `/readyz` says why (503), and it
 *    serves once the database is back;
 * 2. the database unreachable during operation: callouts on the cached valid token keep working;
 *    a refresh fails with a clear 503 STORE_UNREACHABLE; after the database returns, one refresh and 200s;
 * 3. PostgreSQL restarted, and 4. stopped for 3 s, while the lease holder's refresh (rotation on)
 *    is in flight: exactly one token request, no `invalid_grant`, the rotated refresh token is
 *    stored when the database answers again (the next refresh uses it successfully);
 * 5. the lease holder killed with SIGKILL mid-refresh (jwt-bearer: a killed holder's rotated
 *    refresh token would be lost with it, see docs/scaling.md): another instance takes over once
 *    the lease expires; exactly one token request is answered in time;
 * 6. a token endpoint slower than the lease TTL: the holder renews its lease; one token request.
 */
import { generateKeyPairSync } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import type { IncomingMessage } from 'node:http'
import pg from 'pg'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { openBroker, parseConfig, type Broker } from '../../src/index.ts'
import { newClientKey } from '../../src/server/client-key.ts'
import type { KyselyStore } from '../../src/store/kysely-store.ts'
import { openStore } from '../../src/store/open-store.ts'
import {
  privatePostgresUnavailable,
  startPrivatePostgres,
  type PrivatePostgres,
} from '../helpers/private-postgres.ts'
import { makeHome, salesforceAuthorize, type TestHome } from './helpers/e2e.ts'
import { ServeInstance, stopAll } from './helpers/serve-instance.ts'

const REDIRECT = 'http://127.0.0.1:9/callback'
const PASSWORD = 'F4ult-T0lerant!'
const WEB_USER = 'admin@faults.example'
const JWT_USER = 'integration@faults.example'
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const unavailable = privatePostgresUnavailable()

let emulator: Emulator
let org: EmulatedOrg
let cluster: PrivatePostgres
let home: TestHome
let store: KyselyStore
let parent: Broker
let clientKey = ''
let env: Record<string, string | undefined> = {}
const agent = new Agent({ connections: 200 })

const tokenRequests = () => emulator.requestLog.tokenRequests(undefined, 'faults')
const invalidGrants = () =>
  emulator.requestLog
    .entries({ org: 'faults', path: '/services/oauth2/token' })
    .filter((e) => e.status === 400).length

async function call(server: ServeInstance, name: string, i = 0): Promise<string> {
  try {
    const res = await request(
      `${server.origin}/callout/${name}/services/data/v61.0/limits?i=${i}`,
      {
        dispatcher: agent,
        headers: { 'proxy-authorization': `Bearer ${clientKey}` },
      },
    )
    const text = await res.body.text()
    if (res.statusCode === 200) return '200'
    return `${res.statusCode} ${(JSON.parse(text) as { error?: { code?: string } }).error?.code ?? text.slice(0, 80)}`
  } catch (error) {
    return `no answer (${(error as { code?: string }).code ?? String(error)})`
  }
}

async function readyz(server: ServeInstance): Promise<{ status: number; body: string }> {
  const res = await request(`${server.origin}/readyz`, { dispatcher: agent })
  return { status: res.statusCode, body: await res.body.text() }
}

/** `count` concurrent callouts spread over `servers`, tallied by outcome. */
async function burst(servers: readonly ServeInstance[], name: string, count: number) {
  const outcomes = await Promise.all(
    Array.from({ length: count }, (_, i) => call(servers[i % servers.length]!, name, i)),
  )
  const tally: Record<string, number> = {}
  for (const o of outcomes) tally[o] = (tally[o] ?? 0) + 1
  return tally
}

/** Each instance's last warnings and errors from its log, to say why an assertion failed. */
function warnings(servers: readonly ServeInstance[]): string {
  return servers
    .map((s, i) => {
      const lines = s.stdout.split('\n').filter((l) => /"level":(40|50)/.test(l))
      return `instance ${i}:\n${lines.slice(-5).join('\n')}`
    })
    .join('\n')
}

/** Resolves when the next token request reaches the emulator (see multi-process.test.ts). */
function tokenRequestArrival(): Promise<void> {
  const host = new URL(org.loginUrl).host
  return new Promise((resolve) => {
    const onStart = (message: unknown) => {
      const { request: req } = message as { request: IncomingMessage }
      if (
        req.method === 'POST' &&
        req.headers.host === host &&
        req.url?.startsWith('/services/oauth2/token') === true
      ) {
        diagnostics.unsubscribe('http.server.request.start', onStart)
        setImmediate(resolve)
      }
    }
    diagnostics.subscribe('http.server.request.start', onStart)
  })
}

async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const started = Date.now()
  for (;;) {
    if (await check()) return Date.now() - started
    if (Date.now() - started > timeoutMs) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const serve = (...args: string[]) =>
  ServeInstance.start(['--reload-interval-ms', '60000', '--key-cache-ms', '1000', ...args], env)

describe.skipIf(unavailable !== undefined)(
  'faults of several callout serve instances on one PostgreSQL',
  { timeout: 90_000 },
  () => {
    beforeAll(async () => {
      emulator = await startEmulator({
        orgs: [
          {
            name: 'faults',
            users: [{ username: WEB_USER, password: PASSWORD }, { username: JWT_USER }],
            connectedApps: [
              { name: 'Web', callbackUrls: [REDIRECT], scopes: ['api', 'refresh_token'] },
              {
                name: 'Jwt',
                callbackUrls: [REDIRECT],
                scopes: ['api'],
                certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
              },
            ],
          },
        ],
      })
      org = emulator.org('faults')
      org.faults.setRotation(true)
      cluster = await startPrivatePostgres()
      home = await makeHome({
        SF_SECRET: org.connectedApp('Web').consumerSecret,
        SF_JWT_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      })
      store = await openStore({ url: cluster.url, home: home.dir, env: home.env })
      parent = await openBroker({ home: home.dir, env: home.env, store })
      const provider = (app: string, secret?: string) => ({
        type: 'salesforce',
        loginUrl: org.loginUrl,
        consumerKey: org.connectedApp(app).consumerKey,
        ...(secret === undefined ? {} : { consumerSecret: secret }),
      })
      await parent.apply(
        parseConfig(
          {
            authProviders: { Web: provider('Web', '${env:SF_SECRET}'), Jwt: provider('Jwt') },
            externalCredentials: {
              Rotate: {
                protocol: 'oauth2',
                flow: 'browser',
                authProvider: 'Web',
                scope: 'api refresh_token',
                principals: { Admin: { type: 'named' } },
              },
              Mint: {
                protocol: 'oauth2',
                flow: 'jwt-bearer',
                authProvider: 'Jwt',
                principals: {
                  Integration: {
                    type: 'named',
                    parameters: { username: JWT_USER },
                    secrets: { privateKey: '${env:SF_JWT_KEY}' },
                  },
                },
              },
            },
            namedCredentials: {
              Rotate: { url: org.instanceUrl, externalCredential: 'Rotate' },
              Mint: { url: org.instanceUrl, externalCredential: 'Mint' },
            },
          },
          { env: home.env, onWarning: () => {} },
        ),
      )
      const { url } = await parent.authorizeUrl('Rotate', { redirectUri: REDIRECT })
      await parent.completeAuthorization(
        await salesforceAuthorize(url, { username: WEB_USER, password: PASSWORD }),
      )
      const generated = newClientKey({
        name: 'faults',
        rules: ['Rotate', 'Mint'],
        anyUser: false,
        now: Date.now(),
      })
      await store.clientKeys.createClientKey(generated.record)
      clientKey = generated.key
      env = {
        PATH: process.env.PATH,
        CALLOUT_HOME: home.dir,
        CALLOUT_MASTER_KEY: home.env.CALLOUT_MASTER_KEY,
        CALLOUT_STORE: cluster.url,
      }
    }, 120_000)

    afterAll(async () => {
      await stopAll()
      await agent.close()
      await parent?.close().catch(() => undefined)
      await store?.close().catch(() => undefined)
      await cluster?.destroy()
      await emulator?.close()
      await home?.cleanup()
    })

    it('the database unreachable at start: the instance listens, /readyz says why, and it serves once the database is back', async () => {
      await cluster.stop()
      const server = await serve()
      try {
        expect(server.stderr).toContain('not ready')
        const ready = await readyz(server)
        expect(ready.status).toBe(503)
        expect(JSON.parse(ready.body)).toMatchObject({
          status: 'not ready',
          error: { code: 'STORE_UNREACHABLE' },
        })
        expect(ready.body).toContain('connection refused')
        expect(ready.body).not.toContain(home.env.CALLOUT_MASTER_KEY!)
        expect(await call(server, 'Rotate')).toBe('503 STORE_UNREACHABLE')
        expect((await request(`${server.origin}/healthz`, { dispatcher: agent })).statusCode).toBe(
          200,
        )
        await cluster.start()
        const recoveredMs = await until(
          async () => (await readyz(server).catch(() => ({ status: 0 }))).status === 200,
          20_000,
          'ready after the database returned',
        )
        expect(await call(server, 'Rotate')).toBe('200')
        console.log(
          `an instance started without its database became ready ${recoveredMs} ms after the database returned`,
        )
      } finally {
        await server.stop()
        if (!(await clusterUp())) await cluster.start()
      }
    })

    describe('three instances (lease TTL 2.5 s)', () => {
      let servers: ServeInstance[] = []
      const KEY = { externalCredential: 'Rotate', principal: 'Admin', userId: '' }

      beforeAll(async () => {
        servers = await Promise.all([1, 2, 3].map(() => serve('--lease-ttl-ms', '2500')))
      }, 90_000)

      afterAll(async () => {
        await Promise.all(servers.map((s) => s.stop()))
      })

      it('the database unreachable during operation: cached tokens keep working; a refresh fails with STORE_UNREACHABLE and recovers once', async () => {
        try {
          expect(await burst(servers, 'Rotate', 12)).toEqual({ '200': 12 })
          await cluster.stop()
          // Past the client-key cache (1 s): keys and tokens verified before keep working.
          await new Promise((r) => setTimeout(r, 1_200))
          expect(await burst(servers, 'Rotate', 30), warnings(servers)).toEqual({ '200': 30 })
          const ready = await readyz(servers[0]!)
          expect(ready.status).toBe(503)
          expect(JSON.parse(ready.body)).toMatchObject({ error: { code: 'STORE_UNREACHABLE' } })
          expect(ready.body).toContain('connection refused')
          emulator.requestLog.clear()
          org.faults.expireSessions()
          expect(await burst(servers, 'Rotate', 30)).toEqual({ '503 STORE_UNREACHABLE': 30 })
          expect(tokenRequests()).toBe(0)
          await cluster.start()
          await until(async () => (await readyz(servers[0]!)).status === 200, 20_000, 'ready')
          expect(await burst(servers, 'Rotate', 60)).toEqual({ '200': 60 })
          expect(tokenRequests()).toBe(1)
          expect(invalidGrants()).toBe(0)
        } finally {
          if (!(await clusterUp())) await cluster.start()
        }
      })

      it.each([
        { label: 'restarted', fault: () => cluster.restart() },
        {
          label: 'stopped for 1.5 s (shorter than the lease TTL)',
          fault: async () => {
            await cluster.stop()
            await new Promise((r) => setTimeout(r, 1_500))
            await cluster.start()
          },
        },
      ])(
        'PostgreSQL $label while the lease holder refreshes (rotation on): one token request, no invalid_grant, the rotated refresh token stored and working',
        async ({ fault }) => {
          try {
            expect(await burst(servers, 'Rotate', 3)).toEqual({ '200': 3 })
            const before = await store.getCredential(KEY)
            emulator.requestLog.clear()
            org.faults.expireSessions()
            org.faults.setLatency({ tokenMs: 1_000 })
            const arrived = tokenRequestArrival()
            const running = burst(servers, 'Rotate', 90)
            await arrived
            await fault()
            const outcomes = await running
            org.faults.setLatency({ tokenMs: 0 })
            console.log(`PostgreSQL interrupted mid-refresh: ${JSON.stringify(outcomes)}`)
            // Callouts waiting for the refresh get its token; a callout that had to read the store
            // while it was down gets a clear STORE_UNREACHABLE; none sees invalid_grant.
            expect(
              Object.keys(outcomes).filter((o) => o !== '200' && o !== '503 STORE_UNREACHABLE'),
            ).toEqual([])
            expect(outcomes['200'] ?? 0).toBeGreaterThan(0)
            expect(tokenRequests()).toBe(1)
            expect(invalidGrants()).toBe(0)
            const after = await store.getCredential(KEY)
            expect(after?.status).toBe('authenticated')
            expect(after?.refreshToken?.reveal()).not.toBe(before?.refreshToken?.reveal())
            // The stored refresh token is the newest: another expiry refreshes once more with it.
            expect(await burst(servers, 'Rotate', 30)).toEqual({ '200': 30 })
            org.faults.expireSessions()
            expect(await burst(servers, 'Rotate', 30)).toEqual({ '200': 30 })
            expect(tokenRequests()).toBe(2)
            expect(invalidGrants()).toBe(0)
          } finally {
            org.faults.setLatency({ tokenMs: 0 })
            if (!(await clusterUp())) await cluster.start()
          }
        },
      )

      it('a token endpoint slower than the lease TTL: the holder renews its lease; exactly one token request', async () => {
        try {
          emulator.requestLog.clear()
          org.faults.expireSessions()
          org.faults.setLatency({ tokenMs: 3_500 })
          expect(await burst(servers, 'Rotate', 60)).toEqual({ '200': 60 })
          expect(tokenRequests()).toBe(1)
          expect(invalidGrants()).toBe(0)
        } finally {
          org.faults.setLatency({ tokenMs: 0 })
        }
      })

      it('the lease holder SIGKILLed mid-refresh: another instance takes over once the lease expires', async () => {
        try {
          expect(await burst(servers, 'Mint', 3)).toEqual({ '200': 3 })
          emulator.requestLog.clear()
          org.faults.expireSessions()
          org.faults.setLatency({ tokenMs: 5_000 })
          const arrived = tokenRequestArrival()
          const first = call(servers[0]!, 'Mint')
          await arrived
          const holder = await leaseHolderPid()
          const killed = servers.find((s) => s.pid === holder)
          expect(killed).toBeDefined()
          const survivors = servers.filter((s) => s !== killed)
          const running = burst(survivors, 'Mint', 60)
          await new Promise((r) => setTimeout(r, 200))
          killed!.proc.kill('SIGKILL')
          org.faults.setLatency({ tokenMs: 0 })
          expect(await killed!.exited).toBe(null)
          const started = Date.now()
          expect(await running).toEqual({ '200': 60 })
          console.log(
            `after the SIGKILL of the lease holder, the survivors finished in ${Date.now() - started} ms (lease TTL 2.5 s)`,
          )
          await first
          // The killed holder's request is answered (into a closed socket) only after its delay.
          const answered = emulator.requestLog
            .entries({ org: 'faults', path: '/services/oauth2/token' })
            .filter((e) => e.durationMs < 5_000)
          expect(answered.map((e) => e.status)).toEqual([200])
          expect(invalidGrants()).toBe(0)
        } finally {
          org.faults.setLatency({ tokenMs: 0 })
        }
      })
    })
  },
)

async function clusterUp(): Promise<boolean> {
  const client = new pg.Client({ connectionString: cluster.url, connectionTimeoutMillis: 1_000 })
  try {
    await client.connect()
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** The pid in the holder id (`<host>:<pid>:<random>`) of the refresh lease now held. */
async function leaseHolderPid(): Promise<number> {
  const client = new pg.Client({ connectionString: cluster.url })
  await client.connect()
  try {
    const rows = await client.query<{ holder: string }>(
      "select holder from leases where name like 'token:%'",
    )
    return Number(rows.rows[0]?.holder.split(':').at(-2))
  } finally {
    await client.end()
  }
}

if (unavailable !== undefined) console.warn(`scale-faults: skipped — ${unavailable}`)
