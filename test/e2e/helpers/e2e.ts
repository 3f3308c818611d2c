/**
 * Shared setup for the end-to-end tests: a fresh Callout home with a generated master key, a
 * broker opened on it through the public API, a pino logger writing to memory, a reader of the
 * stored credential through the store, a bearer-checking upstream and a cookie-jar browser for
 * the Salesforce emulator's login and approval pages.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import pino from 'pino'
import { openBroker, parseConfig, type Broker, type OpenBrokerOptions } from '../../../src/index.ts'
import type { CredentialKey, PrincipalCredential } from '../../../src/definitions/model.ts'
import { openStore } from '../../../src/store/open-store.ts'
import type { Store } from '../../../src/store/types.ts'

/** A fresh Callout home: a temp directory and an environment holding a new master key. */
export interface TestHome {
  readonly dir: string
  readonly env: Record<string, string>
  /** The SQLite database file of this home. */
  readonly dbPath: string
  cleanup(): Promise<void>
}

/** Creates a temp `CALLOUT_HOME` with a generated 32-byte master key (in `env`). */
export async function makeHome(extraEnv: Record<string, string> = {}): Promise<TestHome> {
  const dir = await mkdtemp(join(tmpdir(), 'callout-e2e-'))
  const env = {
    CALLOUT_HOME: dir,
    CALLOUT_MASTER_KEY: randomBytes(32).toString('base64'),
    ...extraEnv,
  }
  return {
    dir,
    env,
    dbPath: join(dir, 'callout.db'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
}

/** Log lines captured in memory from a pino logger at level `trace`. */
export interface MemoryLog {
  readonly lines: string[]
  readonly logger: pino.Logger
}

/** A pino logger at level `trace` writing every line to memory. */
export function memoryLogger(): MemoryLog {
  const lines: string[] = []
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) })
  return { lines, logger }
}

/**
 * Opens a broker on `home` (SQLite at `<home>/callout.db`) and applies `config` (the config file
 * shape; secrets as `${env:…}` references resolved from `home.env`).
 */
export async function openTestBroker(
  home: TestHome,
  config: object,
  options: Omit<OpenBrokerOptions, 'home' | 'env'> = {},
): Promise<Broker> {
  const broker = await openBroker({ home: home.dir, env: home.env, ...options })
  try {
    await broker.apply(parseConfig(config, { env: home.env, onWarning: () => {} }))
  } catch (error) {
    await broker.close()
    throw error
  }
  return broker
}

/** Reads one stored credential through a separate store handle on the same home (or `open`). */
export async function readCredential(
  home: TestHome,
  key: CredentialKey,
  open?: Store,
): Promise<PrincipalCredential | undefined> {
  if (open !== undefined) return open.getCredential(key)
  const store = await openStore({ home: home.dir, env: home.env })
  try {
    return await store.getCredential(key)
  } finally {
    await store.close()
  }
}

/** A plain HTTP server on 127.0.0.1, port 0. */
export interface Listening {
  readonly server: Server
  readonly origin: string
  close(): Promise<void>
}

/** Listens on 127.0.0.1 port 0 with `handler`. */
export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Listening> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    server,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Reads a request body as text. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Answers JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

/** The bearer token of a request, or undefined. */
export function bearerOf(req: IncomingMessage): string | undefined {
  const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
  return match?.[1]
}

/**
 * A cookie-keeping HTTP client for the emulator's HTML pages (same approach as the emulator's
 * own `test/helpers/browser.ts`): manual redirects and form posts.
 */
export class Browser {
  readonly #cookies = new Map<string, string>()

  async #send(
    url: string,
    init: RequestInit,
  ): Promise<{ status: number; location?: string; html: string }> {
    const headers = new Headers(init.headers)
    const cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    if (cookie !== '') headers.set('cookie', cookie)
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? ''
      const eq = pair.indexOf('=')
      if (eq > 0) this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
    }
    const location = res.headers.get('location')
    return {
      status: res.status,
      html: await res.text(),
      ...(location === null ? {} : { location }),
    }
  }

  get(url: string) {
    return this.#send(url, {})
  }

  post(url: string, fields: Record<string, string>) {
    return this.#send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    })
  }
}

function hiddenField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)
  if (match === null) throw new Error(`no field ${name} in page`)
  return match[1] ?? ''
}

/**
 * Drives the emulator's `/services/oauth2/authorize` login and approval pages and returns the
 * final redirect back to the client (the callback URL with `code` and `state`).
 */
export async function salesforceAuthorize(
  authorizeUrl: string,
  user: { username: string; password: string },
): Promise<string> {
  const browser = new Browser()
  const origin = new URL(authorizeUrl).origin
  let page = await browser.get(authorizeUrl)
  for (let step = 0; step < 4 && page.status === 200; step++) {
    if (page.html.includes('id="login"')) {
      page = await browser.post(`${origin}/services/oauth2/authorize`, {
        tx: hiddenField(page.html, 'tx'),
        step: 'login',
        username: user.username,
        pw: user.password,
      })
    } else if (page.html.includes('id="approve"')) {
      page = await browser.post(`${origin}/services/oauth2/authorize`, {
        tx: hiddenField(page.html, 'tx'),
        step: 'approve',
        action: 'approve',
      })
    } else {
      break
    }
  }
  if (page.status !== 302 || page.location === undefined) {
    throw new Error(
      `authorize did not redirect back (status ${page.status}): ${page.html.slice(0, 300)}`,
    )
  }
  return page.location
}

/** How a {@link TokenStub} answers the next token requests. */
export type TokenStubMode =
  | 'ok'
  | 'status-500'
  | 'html-502'
  | 'html-200'
  | 'invalid-json'
  | 'empty-object'
  | 'empty-access-token'
  | 'invalid-client'
  | 'crlf-token'
  | 'lowercase-bearer'
  /** A 200 with `token_type: "mac"` carrying an access and a refresh token. */
  | 'mac-token-type'

/**
 * A small OAuth token endpoint (`client_credentials`, `authorization_code` with code
 * `good-code`, `refresh_token`) whose answers can be switched to the broken shapes real servers
 * produce. It counts requests and records every token it issued.
 */
export class TokenStub {
  mode: TokenStubMode = 'ok'
  requests = 0
  readonly issued: string[] = []
  readonly refreshTokens = new Set<string>()
  /** Form fields of every request (for scanning what the broker sent). */
  readonly forms: URLSearchParams[] = []
  #n = 0
  listening!: Listening

  async start(): Promise<this> {
    this.listening = await listen((req, res) => void this.#handle(req, res))
    return this
  }

  get tokenUrl(): string {
    return `${this.listening.origin}/token`
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req))
    this.forms.push(form)
    this.requests++
    switch (this.mode) {
      case 'status-500':
        return sendJson(res, 500, { error: 'server_error', error_description: 'database down' })
      case 'html-502':
        res.writeHead(502, { 'content-type': 'text/html' })
        return void res.end('<html><body><h1>502 Bad Gateway</h1></body></html>')
      case 'html-200':
        res.writeHead(200, { 'content-type': 'text/html' })
        return void res.end('<html><body>Please sign in</body></html>')
      case 'invalid-json':
        res.writeHead(200, { 'content-type': 'application/json' })
        return void res.end('{"access_token": "trunc')
      case 'empty-object':
        return sendJson(res, 200, {})
      case 'empty-access-token':
        return sendJson(res, 200, { access_token: '', token_type: 'Bearer' })
      case 'invalid-client':
        return sendJson(res, 401, {
          error: 'invalid_client',
          error_description: 'invalid client credentials',
        })
      case 'crlf-token':
        return sendJson(res, 200, {
          access_token: 'abc\r\nX-Injected: 1',
          token_type: 'Bearer',
          expires_in: 3600,
        })
      case 'ok':
      case 'lowercase-bearer':
      case 'mac-token-type':
        break
    }
    const grant = form.get('grant_type')
    if (grant === 'authorization_code' && form.get('code') !== 'good-code') {
      return sendJson(res, 400, { error: 'invalid_grant', error_description: 'bad code' })
    }
    if (grant === 'refresh_token' && !this.refreshTokens.has(form.get('refresh_token') ?? '')) {
      return sendJson(res, 400, {
        error: 'invalid_grant',
        error_description: 'expired access/refresh token',
      })
    }
    this.#n++
    const accessToken = `stub-at-${this.#n}-${randomBytes(8).toString('hex')}`
    this.issued.push(accessToken)
    const tokenType =
      this.mode === 'lowercase-bearer'
        ? 'bearer'
        : this.mode === 'mac-token-type'
          ? 'mac'
          : 'Bearer'
    const body: Record<string, unknown> = {
      access_token: accessToken,
      token_type: tokenType,
      expires_in: 3600,
    }
    if (grant === 'authorization_code' || this.mode === 'mac-token-type') {
      const rt = `stub-rt-${this.#n}-${randomBytes(8).toString('hex')}`
      this.refreshTokens.add(rt)
      this.issued.push(rt)
      body.refresh_token = rt
    }
    sendJson(res, 200, body)
  }
}

/**
 * Every printable form of an error and of each cause in its chain — `util.inspect` at depth
 * Infinity (hidden properties too), `String`, JSON, message and stack — for canary scans.
 */
export function errorChainTexts(error: unknown): string[] {
  const texts = [inspect(error, { depth: Infinity, showHidden: true })]
  for (let e: unknown = error, n = 0; e !== undefined && e !== null && n < 20; n++) {
    texts.push(String(e), JSON.stringify(e) ?? '', inspect(e, { depth: Infinity }))
    if (e instanceof Error) texts.push(e.message, e.stack ?? '')
    e = (e as { cause?: unknown }).cause
  }
  return texts
}
