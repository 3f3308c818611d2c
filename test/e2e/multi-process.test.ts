/**
 * End to end: the cross-process token guarantees of DESIGN §5 with real OS processes. Each
 * "process" is `node --import tsx test/e2e/helpers/multi-process-child.ts`, opening its own store
 * and broker on one shared store (a SQLite file, then a PostgreSQL schema at
 * `CALLOUT_TEST_POSTGRES_URL`); the Salesforce emulator runs in this process and the children
 * only reach it over HTTP, so its request log counts every token request of every process. Per
 * store, with four processes as DESIGN §11 asks:
 *
 * 1. jwt-bearer re-mint: 4 processes × 100 callouts on an expired token → one token request.
 * 2. Browser flow with refresh-token rotation: 4 × 100 callouts after the session expired → one
 *    refresh; the stored refresh token is the newest (a second round refreshes once again).
 * 3. The lease holder dies (SIGKILL) while its token request hangs → one of the three other
 *    processes takes the lease after it expires and refreshes; nothing deadlocks.
 * 4. A revoked refresh token: 4 processes call → one refresh attempt in total; the others read
 *    `needs-reauth` from the store and fail fast with NEEDS_REAUTH, without a token request.
 * 5. The token endpoint fails once (500): 4 processes call → one token request in total, every
 *    callout fails typed (the others read the recorded failure and cool down).
 * 6. At rest: no issued token, private key or consumer secret in any column of any table
 *    (PostgreSQL, raw SQL) or in the database files (SQLite).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { existsSync, readFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startEmulator,
  type EmulatedOrg,
  type Emulator,
  type OrgSeed,
} from '@callout/salesforce-emulator'
import { openBroker, parseConfig, type Broker } from '../../src/index.ts'
import type { CredentialKey } from '../../src/definitions/model.ts'
import { openStore } from '../../src/store/open-store.ts'
import type { Store } from '../../src/store/types.ts'
import {
  dropTestSchemas,
  requirePostgres,
  testPostgresUrl,
  testSchemaName,
  withPostgres,
} from '../helpers/postgres.ts'
import { makeHome, salesforceAuthorize, type TestHome } from './helpers/e2e.ts'
import type { ChildCommand, ChildMessage, Outcome } from './helpers/multi-process-child.ts'

const CHILD = fileURLToPath(new URL('./helpers/multi-process-child.ts', import.meta.url))
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const REDIRECT = 'http://127.0.0.1:9/callback'
const PASSWORD = 'Mult1-Pr0cess!'
const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
/** The base64 lines of the private key: any one of them at rest is a leak. */
const PEM_LINES = PRIVATE_PEM.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'))
/** How many long-lived processes share the store (DESIGN §11: exactly one token request across 4). */
const PROCESSES = 4
/**
 * The children's lease: a TTL shorter than the default so that a dead holder's lease expires
 * within the test (renewed every TTL/3 while a token call runs; long enough that a busy machine's
 * event-loop stalls do not lose a live holder's lease), fast polling, and a wait long enough to
 * outlive a dead holder.
 */
const CHILD_LEASE = { ttlMs: 5000, maxWaitMs: 20_000, initialPollMs: 5, maxPollMs: 100 }
/**
 * Concurrent callouts per process in the storm cases. Each opens its own connection to the
 * emulator: 4 × 100 stays under its listen backlog (511), so every failure is the broker's.
 */
const STORM = 100
/**
 * How long a child may take to start (tsx compiles the sources on first import; five start at
 * once, on a machine that may be busy).
 */
const START_TIMEOUT_MS = 120_000
const RESULT_TIMEOUT_MS = 45_000
/** Per test and hook: a case waits for several child results in turn. */
const CASE_TIMEOUT_MS = 120_000

/** One emulated org per case, so one case's faults (expiry, revocation) never touch another. */
const ORGS = ['mint', 'rotate', 'crash', 'revoke', 'fail'] as const
type OrgName = (typeof ORGS)[number]

const jwtUser = (org: OrgName) => `integration@${org}.example`
const webUser = (org: OrgName) => `admin@${org}.example`

function orgSeed(name: OrgName): OrgSeed {
  return {
    name,
    users: [{ username: jwtUser(name) }, { username: webUser(name), password: PASSWORD }],
    connectedApps: [
      {
        name: 'Jwt',
        callbackUrls: [REDIRECT],
        scopes: ['api'],
        certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
      { name: 'Web', callbackUrls: [REDIRECT], scopes: ['api', 'refresh_token'] },
    ],
  }
}

let emulator: Emulator
const org = (name: OrgName): EmulatedOrg => emulator.org(name)

/** Token requests the emulator answered for `name` (optionally of one grant type). */
const tokens = (name: OrgName, grant?: string) => emulator.requestLog.tokenRequests(grant, name)

/** The config: per org a jwt-bearer or a browser ExternalCredential and a Named Credential. */
function config(): object {
  const authProviders: Record<string, object> = {}
  const externalCredentials: Record<string, object> = {}
  const namedCredentials: Record<string, object> = {}
  const jwt = (name: OrgName, ec: string) => {
    authProviders[`${ec}Provider`] = {
      type: 'salesforce',
      loginUrl: org(name).loginUrl,
      consumerKey: org(name).connectedApp('Jwt').consumerKey,
    }
    externalCredentials[ec] = {
      protocol: 'oauth2',
      flow: 'jwt-bearer',
      authProvider: `${ec}Provider`,
      principals: {
        Integration: {
          type: 'named',
          parameters: { username: jwtUser(name) },
          secrets: { privateKey: '${env:SF_JWT_KEY}' },
        },
      },
    }
    namedCredentials[ec] = { url: org(name).instanceUrl, externalCredential: ec }
  }
  const browser = (name: OrgName, ec: string) => {
    authProviders[`${ec}Provider`] = {
      type: 'salesforce',
      loginUrl: org(name).loginUrl,
      consumerKey: org(name).connectedApp('Web').consumerKey,
      consumerSecret: `\${env:SF_WEB_SECRET_${name.toUpperCase()}}`,
    }
    externalCredentials[ec] = {
      protocol: 'oauth2',
      flow: 'browser',
      authProvider: `${ec}Provider`,
      scope: 'api refresh_token',
      principals: { Admin: { type: 'named' } },
    }
    namedCredentials[ec] = { url: org(name).instanceUrl, externalCredential: ec }
  }
  jwt('mint', 'Mint')
  browser('rotate', 'Rotate')
  jwt('crash', 'Crash')
  browser('revoke', 'Revoke')
  jwt('fail', 'Fail')
  return { authProviders, externalCredentials, namedCredentials }
}

/** A forked child process running `multi-process-child.ts`, driven over IPC. */
class Child {
  readonly proc: ChildProcess
  /** Token requests this process announced, oldest first. */
  readonly tokenRequests: { grantType: string; at: number }[] = []
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  #nextId = 0
  #failure: string | undefined
  readonly #waiting = new Map<number, (outcomes: readonly Outcome[]) => void>()

  private constructor(env: NodeJS.ProcessEnv) {
    this.proc = fork(CHILD, [], {
      cwd: REPO,
      execArgv: ['--import', 'tsx'],
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => resolve({ code, signal })),
    )
    this.proc.on('message', (message: ChildMessage) => {
      if (message.type === 'token-request') {
        this.tokenRequests.push({ grantType: message.grantType, at: message.at })
      } else if (message.type === 'result') {
        this.#waiting.get(message.id)?.(message.outcomes)
        this.#waiting.delete(message.id)
      } else if (message.type === 'error') {
        this.#failure = message.message
      }
    })
  }

  /** Forks a child and waits for its `ready` (its broker is open on the shared store). */
  static async start(env: NodeJS.ProcessEnv): Promise<Child> {
    const child = new Child(env)
    children.add(child)
    await child.#until('ready', START_TIMEOUT_MS)
    return child
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null
  }

  /** Resolves when the child sends a message of `type`; rejects if it fails or exits first. */
  #until(type: ChildMessage['type'], timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`child ${this.proc.pid} sent no ${type} within ${timeoutMs} ms`))
      }, timeoutMs)
      const onMessage = (message: ChildMessage) => {
        if (message.type === type) {
          cleanup()
          resolve()
        } else if (message.type === 'error') {
          cleanup()
          reject(new Error(`child ${this.proc.pid} failed: ${message.message}`))
        }
      }
      const onExit = (code: number | null, signal: string | null) => {
        cleanup()
        reject(new Error(`child ${this.proc.pid} exited (${code ?? signal}) before ${type}`))
      }
      const cleanup = () => {
        clearTimeout(timer)
        this.proc.off('message', onMessage)
        this.proc.off('exit', onExit)
      }
      this.proc.on('message', onMessage)
      this.proc.once('exit', onExit)
    })
  }

  /** Sends `go`: the child fires `count` concurrent callouts to `name`; resolves with outcomes. */
  run(name: string, count: number): Promise<readonly Outcome[]> {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        reject(new Error(`child ${this.proc.pid} sent no result within ${RESULT_TIMEOUT_MS} ms`))
      }, RESULT_TIMEOUT_MS)
      const onExit = () =>
        reject(new Error(`child ${this.proc.pid} exited during a run (${this.#failure ?? ''})`))
      this.proc.once('exit', onExit)
      this.#waiting.set(id, (outcomes) => {
        clearTimeout(timer)
        this.proc.off('exit', onExit)
        resolve(outcomes)
      })
      this.#send({ type: 'go', id, name, count })
    })
  }

  #send(command: ChildCommand): void {
    this.proc.send(command)
  }

  /** Asks the child to close its broker and store and exit; SIGKILLs it if it does not. */
  async stop(): Promise<void> {
    if (!this.alive) return
    if (this.proc.connected) this.#send({ type: 'exit' })
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), 5000).unref(),
    )
    if ((await Promise.race([this.exited, timeout])) === 'timeout' && this.alive) {
      this.proc.kill('SIGKILL')
      await this.exited
    }
  }
}

/** Every child ever started, so afterAll can stop the ones still alive. */
const children = new Set<Child>()

/** Counts outcomes: `{ 200: 600 }`, `{ NEEDS_REAUTH: 150 }`. */
function tally(outcomes: readonly (readonly Outcome[])[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const outcome of outcomes.flat())
    counts[String(outcome)] = (counts[String(outcome)] ?? 0) + 1
  return counts
}

/** Token requests announced by `processes` since `since` (their `tokenRequests` lengths). */
function announced(processes: readonly Child[], since: readonly number[]): number {
  return processes.reduce((n, c, i) => n + c.tokenRequests.length - (since[i] ?? 0), 0)
}

const marks = (processes: readonly Child[]) => processes.map((c) => c.tokenRequests.length)

/**
 * Resolves when the next token request to `loginUrl`'s host reaches an HTTP server in this
 * process (the emulator), observed on Node's `http.server.request.start` diagnostics channel,
 * which fires just before the server's `request` listener runs (where the emulator reads its
 * latency fault). A child's own announcement is not enough: it precedes the bytes on the wire.
 */
function tokenRequestArrival(loginUrl: string): Promise<void> {
  const host = new URL(loginUrl).host
  return new Promise((resolve) => {
    const onStart = (message: unknown) => {
      const { request } = message as { request: IncomingMessage }
      if (
        request.method === 'POST' &&
        request.headers.host === host &&
        request.url?.startsWith('/services/oauth2/token') === true
      ) {
        diagnostics.unsubscribe('http.server.request.start', onStart)
        // Let the emulator's request listener run first (it reads the latency synchronously).
        setImmediate(resolve)
      }
    }
    diagnostics.subscribe('http.server.request.start', onStart)
  })
}

beforeAll(async () => {
  emulator = await startEmulator({ orgs: ORGS.map(orgSeed) })
})

afterAll(async () => {
  await Promise.all([...children].map((c) => c.stop()))
  await emulator?.close()
})

interface Backend {
  readonly label: string
  /** Opens the shared store; returns its URL and schema for the children. */
  open(home: TestHome): Promise<{ store: Store; url: string; schema?: string }>
  /** Every value at rest in the shared store, as bytes, each labelled with where it lies. */
  atRest(home: TestHome): Promise<{ where: string; bytes: Buffer }[]>
  drop(): Promise<void>
}

const pgSchema = testSchemaName('e2e_mp')
const backends: Backend[] = [
  {
    label: 'SQLite file',
    async open(home) {
      const url = `sqlite:${home.dbPath}`
      return { store: await openStore({ home: home.dir, env: home.env, url }), url }
    },
    async atRest(home) {
      return [home.dbPath, `${home.dbPath}-wal`]
        .filter((file) => existsSync(file))
        .map((file) => ({ where: file, bytes: readFileSync(file) }))
    },
    async drop() {},
  },
  {
    label: 'PostgreSQL schema',
    async open(home) {
      await requirePostgres()
      const url = testPostgresUrl()
      const store = await openStore({ home: home.dir, env: home.env, url, schema: pgSchema })
      return { store, url, schema: pgSchema }
    },
    async atRest() {
      return withPostgres(async (client) => {
        const tables = await client.query<{ table_name: string }>(
          'select table_name from information_schema.tables where table_schema = $1',
          [pgSchema],
        )
        const values: { where: string; bytes: Buffer }[] = []
        for (const { table_name: table } of tables.rows) {
          const rows = await client.query<Record<string, unknown>>(`select * from "${table}"`)
          for (const row of rows.rows) {
            for (const [column, value] of Object.entries(row)) {
              if (value === null) continue
              const bytes = Buffer.isBuffer(value)
                ? value
                : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))
              values.push({ where: `${table}.${column}`, bytes })
            }
          }
        }
        return values
      }, pgSchema)
    },
    async drop() {
      await dropTestSchemas([pgSchema])
    },
  },
]

describe.each(backends)(
  'four OS processes on one store: $label',
  { timeout: CASE_TIMEOUT_MS },
  (backend) => {
    let home: TestHome
    let store: Store
    /** The parent's broker: applies the config and authenticates browser principals. */
    let parent: Broker
    /** The long-lived processes of cases 1, 2, 4 and 5. */
    let group: Child[] = []
    /** A fifth process, the lease holder case 3 kills (three of `group` survive it). */
    let victim: Child
    /** Every access and refresh token the store has held: none may be at rest in plaintext. */
    const issued = new Set<string>()
    const secrets = () => [
      ...PEM_LINES,
      org('rotate').connectedApp('Web').consumerSecret,
      org('revoke').connectedApp('Web').consumerSecret,
    ]

    /** Remembers the tokens the store holds now (rotated-out ones are gone by the next read). */
    async function harvest(): Promise<void> {
      for (const credential of await store.listCredentials()) {
        if (credential.accessToken !== undefined) issued.add(credential.accessToken.reveal())
        if (credential.refreshToken !== undefined) issued.add(credential.refreshToken.reveal())
      }
    }

    /**
     * After a case: no token the store has held (this case's included), no private key line and no
     * consumer secret is at rest in plaintext.
     */
    async function expectNothingInPlaintextAtRest(): Promise<void> {
      await harvest()
      expect(issued.size).toBeGreaterThan(0)
      const values = await backend.atRest(home)
      expect(values.length).toBeGreaterThan(0)
      const leaks: string[] = []
      for (const needle of [...issued, ...secrets()]) {
        for (const { where, bytes } of values) {
          if (bytes.includes(Buffer.from(needle))) leaks.push(`${needle.slice(0, 12)}… in ${where}`)
        }
      }
      expect(leaks).toEqual([])
    }

    beforeAll(async () => {
      home = await makeHome({
        SF_JWT_KEY: PRIVATE_PEM,
        SF_WEB_SECRET_ROTATE: org('rotate').connectedApp('Web').consumerSecret,
        SF_WEB_SECRET_REVOKE: org('revoke').connectedApp('Web').consumerSecret,
      })
      const opened = await backend.open(home)
      store = opened.store
      parent = await openBroker({ home: home.dir, env: home.env, store })
      await parent.apply(parseConfig(config(), { env: home.env, onWarning: () => {} }))
      // Only what a deployment shares: the home, the master key and the store location. The
      // ExternalCredential secrets live (encrypted) in the store.
      const childEnv: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        CALLOUT_HOME: home.dir,
        CALLOUT_MASTER_KEY: home.env.CALLOUT_MASTER_KEY,
        CALLOUT_STORE: opened.url,
        CALLOUT_TEST_LEASE: JSON.stringify(CHILD_LEASE),
        ...(opened.schema === undefined ? {} : { CALLOUT_TEST_SCHEMA: opened.schema }),
      }
      const started = await Promise.all(
        Array.from({ length: PROCESSES + 1 }, () => Child.start(childEnv)),
      )
      group = started.slice(0, PROCESSES)
      victim = started[PROCESSES]!
    }, START_TIMEOUT_MS + 30_000)

    afterAll(async () => {
      await Promise.all([...children].map((c) => c.stop()))
      await parent?.close()
      await store?.close()
      await backend.drop()
      await home?.cleanup()
    })

    /** Authenticates the browser principal of `ec` in the parent through the login pages. */
    async function authenticate(ec: string, name: OrgName): Promise<void> {
      const { url } = await parent.authorizeUrl(ec, { redirectUri: REDIRECT })
      await parent.completeAuthorization(
        await salesforceAuthorize(url, { username: webUser(name), password: PASSWORD }),
      )
    }

    /** One callout per process, one after the other (the first may obtain the token). */
    async function warm(processes: readonly Child[], ec: string): Promise<void> {
      for (const child of processes) expect(await child.run(ec, 1)).toEqual([200])
    }

    it('jwt-bearer: 4 processes × 100 callouts on an expired token → exactly one token request, all 200', async () => {
      await warm(group, 'Mint')
      await harvest()
      emulator.requestLog.clear() // bounded (10,000 entries): count from empty
      const since = marks(group)
      org('mint').faults.expireSessions()
      const outcomes = await Promise.all(group.map((c) => c.run('Mint', STORM)))
      expect(tally(outcomes)).toEqual({ 200: PROCESSES * STORM })
      expect(tokens('mint')).toBe(1)
      expect(tokens('mint', JWT_GRANT)).toBe(1)
      expect(announced(group, since)).toBe(1)
      await expectNothingInPlaintextAtRest()
    })

    it('browser flow with rotation: 4 × 100 callouts after expiry → one refresh; the newest refresh token is stored', async () => {
      const key: CredentialKey = { externalCredential: 'Rotate', principal: 'Admin', userId: '' }
      org('rotate').faults.setRotation(true)
      await authenticate('Rotate', 'rotate')
      await warm(group, 'Rotate') // each process reads the stored token: no token request
      await harvest()
      const first = await store.getCredential(key)
      expect(first?.refreshToken).toBeDefined()
      emulator.requestLog.clear()
      let since = marks(group)
      org('rotate').faults.expireSessions()
      const round1 = await Promise.all(group.map((c) => c.run('Rotate', STORM)))
      expect(tally(round1)).toEqual({ 200: PROCESSES * STORM })
      expect(tokens('rotate', 'refresh_token')).toBe(1)
      expect(tokens('rotate')).toBe(1)
      expect(announced(group, since)).toBe(1)
      await harvest()
      const second = await store.getCredential(key)
      expect(second?.status).toBe('authenticated')
      expect(second?.refreshToken?.reveal()).not.toBe(first?.refreshToken?.reveal())

      // Nobody kept or used a rotated-out refresh token (the emulator would revoke the family and
      // answer invalid_grant): a second expiry across the processes refreshes once more, with the
      // stored token, and succeeds.
      since = marks(group)
      org('rotate').faults.expireSessions()
      const round2 = await Promise.all(group.map((c) => c.run('Rotate', 100)))
      expect(tally(round2)).toEqual({ 200: 400 })
      expect(tokens('rotate', 'refresh_token')).toBe(2)
      expect(announced(group, since)).toBe(1)
      await harvest()
      const third = await store.getCredential(key)
      expect(third?.status).toBe('authenticated')
      expect(third?.version).toBeGreaterThan(second?.version ?? Number.MAX_SAFE_INTEGER)
      expect(third?.refreshToken?.reveal()).not.toBe(second?.refreshToken?.reveal())
      await expectNothingInPlaintextAtRest()
    })

    it('the lease holder is SIGKILLed while its token request hangs → another process takes over after the lease expires', async () => {
      const survivors = group.slice(0, PROCESSES - 1)
      await warm([victim, ...survivors], 'Crash')
      emulator.requestLog.clear()
      const since = marks([victim, ...survivors])
      org('crash').faults.expireSessions()
      org('crash').faults.setLatency({ tokenMs: 5000 })
      try {
        // The victim's callout is rejected (401); it takes the lease and its token request hangs
        // in the emulator (which has read the 5 s latency once the request arrived).
        const arrived = tokenRequestArrival(org('crash').loginUrl)
        const victimRun = victim.run('Crash', 1).catch((error: unknown) => error)
        await arrived
        // The others find the token rejected too and wait for the lease the victim holds.
        const runs = survivors.map((c) => c.run('Crash', 50))
        victim.proc.kill('SIGKILL')
        org('crash').faults.setLatency({ tokenMs: 0 })
        expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' })
        expect(await victimRun).toBeInstanceOf(Error)
        expect(announced([victim], since.slice(0, 1))).toBe(1)
        const outcomes = await Promise.all(runs)
        expect(tally(outcomes)).toEqual({ 200: 50 * survivors.length })
        // Exactly one survivor obtained a token, after the dead holder's lease expired. The
        // victim's hung request is answered (into a closed socket) only after its 5 s latency.
        expect(announced(survivors, since.slice(1))).toBe(1)
        const answered = emulator.requestLog
          .entries({ org: 'crash', path: '/services/oauth2/token' })
          .filter((e) => e.durationMs < 5000)
        expect(answered.map((e) => [e.grantType, e.status])).toEqual([[JWT_GRANT, 200]])
        // The lease is free and the new token is stored: a further round needs no token request.
        const after = marks(survivors)
        const again = await Promise.all(survivors.map((c) => c.run('Crash', 20)))
        expect(tally(again)).toEqual({ 200: 20 * survivors.length })
        expect(announced(survivors, after)).toBe(0)
        await expectNothingInPlaintextAtRest()
      } finally {
        org('crash').faults.setLatency({ tokenMs: 0 })
      }
    })

    it('invalid_grant: 4 processes call with a revoked refresh token → one refresh attempt in total, all NEEDS_REAUTH', async () => {
      const key: CredentialKey = { externalCredential: 'Revoke', principal: 'Admin', userId: '' }
      await authenticate('Revoke', 'revoke')
      await warm(group, 'Revoke')
      await harvest()
      emulator.requestLog.clear()
      const since = marks(group)
      org('revoke').faults.revokeRefreshTokens()
      org('revoke').faults.expireSessions()
      const outcomes = await Promise.all(group.map((c) => c.run('Revoke', 50)))
      expect(tally(outcomes)).toEqual({ NEEDS_REAUTH: 200 })
      expect(tokens('revoke', 'refresh_token')).toBe(1)
      expect(tokens('revoke')).toBe(1)
      expect(announced(group, since)).toBe(1)
      const stored = await store.getCredential(key)
      expect(stored?.status).toBe('needs-reauth')
      expect(stored?.lastError?.code).toBe('NEEDS_REAUTH')
      // Later calls in every process fail fast from the stored state: no token request at all.
      const again = await Promise.all(group.map((c) => c.run('Revoke', 5)))
      expect(tally(again)).toEqual({ NEEDS_REAUTH: 20 })
      expect(tokens('revoke')).toBe(1)
      expect(announced(group, since)).toBe(1)
      await expectNothingInPlaintextAtRest()
    })

    it('the token endpoint fails once: 4 processes × 50 callouts → one token request in total, all fail typed', async () => {
      await warm(group, 'Fail')
      await harvest()
      emulator.requestLog.clear()
      const since = marks(group)
      org('fail').faults.expireSessions()
      org('fail').faults.failNext(1, { status: 500, scope: 'token' })
      const outcomes = await Promise.all(group.map((c) => c.run('Fail', 50)))
      const counts = tally(outcomes)
      expect(counts.TOKEN_ENDPOINT_ERROR).toBeGreaterThanOrEqual(1)
      expect((counts.TOKEN_ENDPOINT_ERROR ?? 0) + (counts.REFRESH_COOLDOWN ?? 0)).toBe(200)
      expect(tokens('fail')).toBe(1)
      expect(announced(group, since)).toBe(1)
      await expectNothingInPlaintextAtRest()
    })
  },
)
