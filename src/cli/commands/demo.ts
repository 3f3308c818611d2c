import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdir, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import type { Broker } from '../../callout/broker.ts'
import { openBroker } from '../../callout/open-broker.ts'
import { CalloutError } from '../../errors.ts'
import { createMasterKeyFile } from '../../secrets/index.ts'
import { AdminAuth } from '../../server/admin/admin-auth.ts'
import { generateAdminToken } from '../../server/admin/admin-tokens.ts'
import { buildServer, type CalloutServer } from '../../server/build-server.ts'
import type { KyselyStore } from '../../store/kysely-store.ts'
import { apiCheckFinding, formatFinding } from '../doctor-checks.ts'
import { println, type CliIo } from '../io.ts'
import { DemoBrowser, fieldOf, signInAndApprove } from './demo-browser.ts'

/** The part of `@callout/salesforce-emulator` the demo uses. */
interface DemoOrg {
  readonly instanceUrl: string
  readonly loginUrl: string
  readonly lightningUrl?: string | undefined
}
interface DemoEmulator {
  org(name?: string): DemoOrg
  readonly requestLog: {
    tokenRequests(grantType?: string, org?: string): number
    count(filter?: { org?: string; path?: string; method?: string }): number
  }
  readonly faults: { expireSessions(): void }
  close(): Promise<void>
}
type StartEmulator = (seed: unknown) => Promise<DemoEmulator>

const EMULATOR_PACKAGE = '@callout/salesforce-emulator'
const USERNAME = 'admin@target.example'
const API = '/services/data/v61.0'
const STEPS = 6

/** Options of `callout demo`. */
export interface DemoOptions {
  /** The demo home (default `./.callout-demo`, recreated on every run). */
  readonly home?: string
  /** Leave the orgs, the proxy and the console running until Ctrl-C. */
  readonly keep?: boolean
  /** Resolves when a `--keep` demo should stop (the CLI passes SIGINT/SIGTERM). */
  readonly stop?: Promise<void>
  /** The Python interpreter for step 5 (default `python3` on PATH). */
  readonly python?: string
}

/**
 * `callout demo`: the org-to-org tutorial on this machine, through the interfaces a user has.
 * Two emulated orgs; a Connected App registered in the target through its Setup interface;
 * `callout serve`'s proxy and console on loopback over a fresh SQLite demo home; the Auth Provider,
 * External and Named Credential created through the admin API; the browser flow through the
 * target's login and approval pages (plain HTTP with cookies); callouts listing the REST
 * resources, reading an Account by Id and querying; expired sessions refreshed; a Lightning URL's
 * 302 and the doctor's explanation; the same credential through the proxy with curl and Python.
 *
 * @example
 * // $ npm run demo
 * // $ npx callout demo --keep
 */
export async function demoCommand(io: CliIo, options: DemoOptions = {}): Promise<void> {
  const home = resolve(io.cwd, options.home ?? '.callout-demo')
  const step = (n: number, text: string): void => println(io, `[${n}/${STEPS}] ${text}`)
  const say = (text: string): void => println(io, `      ${text}`)
  const password = `Demo-${randomBytes(6).toString('hex')}`

  step(1, 'starting two Salesforce orgs (emulator): source and target')
  const startEmulator = await loadEmulator()
  const emulator = await startEmulator({
    orgs: [
      { name: 'source', users: [{ username: 'admin@source.example', name: 'Source Admin' }] },
      {
        name: 'target',
        lightning: true,
        users: [{ username: USERNAME, name: 'Target Admin', password }],
        records: {
          Account: [
            { Name: 'Acme Corporation', Industry: 'Manufacturing' },
            { Name: 'Globex', Industry: 'Energy' },
            { Name: 'Initech', Industry: 'Technology' },
          ],
        },
      },
    ],
  })
  let server: CalloutServer | undefined
  let broker: Broker | undefined
  try {
    const source = emulator.org('source')
    const target = emulator.org('target')
    say(`source org ${source.instanceUrl}`)
    say(`target org ${target.instanceUrl}`)

    await clearDemoHome(home)
    await createMasterKeyFile(home)
    const env = {
      ...io.env,
      CALLOUT_HOME: home,
      CALLOUT_MASTER_KEY: undefined,
      CALLOUT_STORE: undefined,
    }
    broker = await openBroker({ env })
    const store = broker.store as KyselyStore
    const adminPassword = `demo-${randomBytes(9).toString('base64url')}`
    await new AdminAuth({ store: store.admin, clock: { now: () => Date.now() } }).createAdmin(
      'admin',
      adminPassword,
      'cli',
    )
    const adminToken = generateAdminToken()
    await store.admin.createAdminToken({
      id: adminToken.id,
      name: 'demo',
      tokenHash: adminToken.hash,
      createdBy: 'cli',
      createdAt: Date.now(),
    })
    let origin = 'http://127.0.0.1'
    server = buildServer({
      broker,
      keys: store.clientKeys,
      processMetrics: false,
      console: { admin: store.admin, keys: store.clientKeys, publicUrl: () => origin },
    })
    await server.app.listen({ host: '127.0.0.1', port: 0 })
    origin = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`
    const callbackUrl = `${origin}/services/authcallback/TargetOrg`

    const setup = await json(
      'POST',
      `${target.instanceUrl}/_emulator/connected-apps?showSecrets=true`,
      {
        name: 'SourceOrgIntegration',
        callbackUrls: [callbackUrl],
        scopes: ['api', 'refresh_token'],
        adminPreAuthorized: false,
      },
    )
    const app = setup as { consumerKey: string; consumerSecret: string }
    say(`target Setup: Connected App "SourceOrgIntegration", callback URL ${callbackUrl}`)

    step(2, `callout serve (proxy and console) on ${origin}, demo home ${home} (SQLite)`)
    const admin = (method: string, path: string, body?: unknown): Promise<unknown> =>
      json(method, `${origin}/admin/api${path}`, body, {
        authorization: `Bearer ${adminToken.token}`,
      })
    await admin('POST', '/authProviders', {
      name: 'TargetOrg',
      type: 'salesforce',
      consumerKey: app.consumerKey,
      consumerSecret: app.consumerSecret,
      loginUrl: target.loginUrl,
      defaultScopes: 'api refresh_token',
    })
    say('admin API: POST /admin/api/authProviders TargetOrg (Salesforce, secret write-only)')
    await admin('POST', '/externalCredentials', {
      name: 'TargetAuth',
      protocol: 'oauth2',
      flow: 'browser',
      authProvider: 'TargetOrg',
      principals: { Admin: { type: 'named' } },
    })
    await admin('POST', '/namedCredentials', {
      name: 'Target',
      url: target.instanceUrl,
      externalCredential: 'TargetAuth',
    })
    say('admin API: POST /admin/api/externalCredentials TargetAuth (OAuth 2.0, browser flow)')
    say(`admin API: POST /admin/api/namedCredentials Target → ${target.instanceUrl}`)

    const browser = new DemoBrowser()
    const login = await browser.get(`${origin}/login`)
    await browser.post(`${origin}/login`, {
      _csrf: fieldOf(login.body, '_csrf'),
      username: 'admin',
      password: adminPassword,
      next: '/',
    })
    const detail = await browser.get(`${origin}/named-credentials/Target`)
    const started = await browser.post(`${origin}/named-credentials/Target/authenticate`, {
      _csrf: fieldOf(detail.body, '_csrf'),
    })
    if (started.location === undefined) {
      throw new CalloutError(
        'INTERNAL',
        `the console did not start the browser flow (HTTP ${started.status})`,
      )
    }
    say(`console: Authenticate → ${new URL(started.location).origin}/services/oauth2/authorize`)
    const { callback, pages } = await signInAndApprove(browser, started.location, {
      username: USERNAME,
      password,
    })
    say(`target: ${pages.join(' page, ')} page (${USERNAME}) → ${new URL(callback).pathname}`)
    const done = await browser.get(callback)
    const [report] = await broker.status('Target')
    const principal = report?.principals[0]
    if (done.location === undefined || principal?.status !== 'authenticated') {
      throw new CalloutError(
        'INTERNAL',
        `the browser flow did not authenticate (HTTP ${done.status})`,
      )
    }
    say(principal.summary)

    step(3, "the callout: await broker.fetch('callout:Target/services/data/v61.0/')")
    const resources = await broker.fetch(`callout:Target${API}/`)
    const list = (await resources.json()) as Record<string, string>
    say(`HTTP ${resources.status} ${resourcesLine(list)}`)
    const q = 'SELECT Id, Name FROM Account ORDER BY Name'
    const queried = await broker.fetch(`callout:Target${API}/query?q=${encodeURIComponent(q)}`)
    const result = (await queried.json()) as {
      totalSize: number
      records: { Id: string; Name: string }[]
    }
    const id = result.records[0]?.Id ?? ''
    say(`broker.fetch('callout:Target${API}/sobjects/Account/${id}')`)
    const account = await broker.fetch(`callout:Target${API}/sobjects/Account/${id}`)
    say(`HTTP ${account.status} ${recordLine(await account.json())}`)
    say(`broker.fetch('callout:Target${API}/query?q=${q}')`)
    say(
      `HTTP ${queried.status} totalSize ${result.totalSize}: ${result.records.map((r) => `${r.Name} (${r.Id})`).join(', ')}`,
    )

    step(4, 'expiring every session in the target org; then a Lightning URL')
    const tokensBefore = emulator.requestLog.tokenRequests('refresh_token')
    const limitsBefore = emulator.requestLog.count({ path: `${API}/limits` })
    emulator.faults.expireSessions()
    const again = await broker.fetch(`callout:Target${API}/limits`)
    await again.body?.cancel()
    const refreshes = emulator.requestLog.tokenRequests('refresh_token') - tokensBefore
    const tries = emulator.requestLog.count({ path: `${API}/limits` }) - limitsBefore
    say(
      `HTTP ${again.status}: the emulator logged ${refreshes} refresh_token request(s) and ${tries} GET ${API}/limits (401 INVALID_SESSION_ID, then the retry)`,
    )
    await admin('POST', '/namedCredentials', {
      name: 'TargetLightning',
      url: target.lightningUrl,
      externalCredential: 'TargetAuth',
    })
    say(
      `admin API: POST /admin/api/namedCredentials TargetLightning → ${target.lightningUrl} (the org's Lightning host)`,
    )
    const lightningBefore = emulator.requestLog.count({ org: 'target:lightning' })
    const viaLightning = await broker.fetch(`callout:TargetLightning${API}/limits`)
    await viaLightning.body?.cancel()
    const redirects = emulator.requestLog.count({ org: 'target:lightning' }) - lightningBefore
    say(
      `HTTP ${viaLightning.status}: the Lightning host answered ${redirects} × 302 Found to ${target.instanceUrl}, followed by the broker`,
    )
    say(
      `callout doctor: ${formatFinding(apiCheckFinding('TargetLightning', `${API}/limits`, 302, '', { salesforce: true }))}`,
    )

    step(5, 'the same credential through the proxy (API mode) with a client key')
    const created = (await admin('POST', '/clientKeys', {
      name: 'demo',
      allow: ['Target:GET:/services/data/*'],
    })) as { key: string }
    say('admin API: POST /admin/api/clientKeys demo (Target:GET:/services/data/*)')
    const proxyUrl = `${origin}/callout/Target${API}/sobjects/Account/${id}`
    say(`$ curl -H "Proxy-Authorization: Bearer ${mask(created.key)}" '${proxyUrl}'`)
    const viaProxy = await fetch(proxyUrl, {
      headers: { 'proxy-authorization': `Bearer ${created.key}` },
    })
    say(`HTTP ${viaProxy.status} ${recordLine(await viaProxy.json())}`)
    const python = options.python ?? 'python3'
    const script = [
      'import json, os, urllib.request',
      `req = urllib.request.Request(os.environ["CALLOUT_URL"], headers={"Proxy-Authorization": "Bearer " + os.environ["CALLOUT_KEY"]})`,
      'print(json.dumps({k: v for k, v in json.load(urllib.request.urlopen(req)).items() if k in ("Id", "Name")}))',
    ]
    const ran = await runPython(
      python,
      script,
      { CALLOUT_URL: proxyUrl, CALLOUT_KEY: created.key },
      io.env.PATH,
    )
    if (ran === undefined) {
      say(`python: skipped (${python} is not installed)`)
    } else {
      say(`$ CALLOUT_KEY=${mask(created.key)} CALLOUT_URL='${proxyUrl}' ${python} - <<'EOF'`)
      for (const line of script) say(line)
      say('EOF')
      say(ran.trim())
    }

    if (options.keep === true) {
      step(6, 'running until Ctrl-C')
      say(`target org       ${target.instanceUrl} (login ${USERNAME} / ${password})`)
      say(`source org       ${source.instanceUrl}`)
      say(`proxy            ${origin}/callout/Target${API}/`)
      say(`console          ${origin}/ (admin / ${adminPassword})`)
      say(`client key       ${created.key}`)
      await (options.stop ?? new Promise<void>(() => undefined))
    } else {
      step(6, `done. The demo home stays in ${home}; try: CALLOUT_HOME=${home} npx callout status`)
    }
  } finally {
    await server?.app.close()
    await broker?.close()
    await emulator.close()
  }
}

async function json(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  if (!res.ok) {
    throw new CalloutError(
      'INTERNAL',
      `${method} ${new URL(url).pathname} answered ${res.status}: ${text.slice(0, 500)}`,
    )
  }
  return text === '' ? undefined : JSON.parse(text)
}

/** The REST resources' JSON, one line: the first few entries and a count of the rest. */
function resourcesLine(list: Record<string, string>): string {
  const first = ['sobjects', 'query', 'search', 'limits'].filter((k) => k in list)
  const shown = first.map((k) => `"${k}":"${list[k]}"`).join(',')
  return `{${shown},… ${Object.keys(list).length - first.length} more}`
}

/**
 * Empties the demo home for a new run: a missing or empty directory, or one a previous demo left
 * (it holds `master.key`), is recreated; anything else is refused and left as it was.
 */
async function clearDemoHome(home: string): Promise<void> {
  const entries: string[] = await readdir(home).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []
    if (error.code === 'ENOTDIR') {
      throw new CalloutError('INVALID_ARGUMENT', `--home ${home} is a file; give a directory.`)
    }
    throw error
  })
  if (entries.length > 0 && !entries.includes('master.key')) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--home ${home} is not empty and is not a demo home (it has no master.key); callout demo recreates its home, so give a new or empty directory.`,
    )
  }
  await rm(home, { recursive: true, force: true })
}

async function loadEmulator(): Promise<StartEmulator> {
  try {
    const mod = (await import(EMULATOR_PACKAGE)) as { startEmulator: StartEmulator }
    return mod.startEmulator
  } catch (cause) {
    throw new CalloutError(
      'DEPENDENCY_MISSING',
      `callout demo needs ${EMULATOR_PACKAGE}, a dependency of callout that could not be loaded: reinstall callout (npm install callout) so that its dependencies are installed too.`,
      { cause },
    )
  }
}

/** `ck_3f2a1b0c9d8e_9b1c…` → `ck_3f2a1b0c9d8e_…` (the public id stays, the secret does not). */
function mask(key: string): string {
  return `${key.slice(0, key.lastIndexOf('_') + 1)}…`
}

function recordLine(record: unknown): string {
  const r = record as Record<string, unknown>
  return JSON.stringify({ Id: r.Id, Name: r.Name, Industry: r.Industry })
}

/** Runs `lines` with `python` (stdin); undefined when it is not installed. */
async function runPython(
  python: string,
  lines: readonly string[],
  env: Record<string, string>,
  pathOf: string | undefined,
): Promise<string | undefined> {
  return new Promise((done, fail) => {
    const child = spawn(python, ['-'], {
      env: { PATH: pathOf ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    child.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ENOENT' ? done(undefined) : fail(e),
    )
    child.on('close', (code) =>
      code === 0
        ? done(out)
        : fail(new CalloutError('INTERNAL', `${python} exited ${code}: ${err.slice(-500)}`)),
    )
    child.stdin.end(`${lines.join('\n')}\n`)
  })
}
