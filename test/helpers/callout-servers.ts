/**
 * Real HTTP servers on 127.0.0.1 port 0 for callout tests: a tiny OAuth token endpoint that
 * counts requests, and an upstream API that accepts only the current access token.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Listening {
  readonly server: Server
  readonly origin: string
  close(): Promise<void>
}

export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Listening> {
  const server = createServer(handler)
  server.keepAliveTimeout = 5_000
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

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** A token endpoint: `client_credentials` and `refresh_token` grants, with switches. */
export class TokenServer {
  requests = 0
  grants: string[] = []
  refreshTokensSeen: string[] = []
  codeVerifiers: string[] = []
  /** The access token the upstream currently accepts. */
  current = 'initial-token'
  /** Refresh tokens the server accepts. */
  validRefreshTokens = new Set<string>(['refresh-0'])
  rotate = false
  expiresIn: number | undefined
  instanceUrl: string | undefined
  failStatus: number | undefined
  delayMs = 0
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
    this.requests++
    const grant = form.get('grant_type') ?? ''
    this.grants.push(grant)
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs))
    const json = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(body))
    }
    if (this.failStatus !== undefined) return json(this.failStatus, { error: 'server_error' })
    if (grant === 'refresh_token') {
      const rt = form.get('refresh_token') ?? ''
      this.refreshTokensSeen.push(rt)
      if (!this.validRefreshTokens.has(rt)) {
        return json(400, {
          error: 'invalid_grant',
          error_description: 'expired access/refresh token',
        })
      }
    } else if (grant === 'authorization_code') {
      this.codeVerifiers.push(form.get('code_verifier') ?? '')
      if (form.get('code') !== 'good-code')
        return json(400, { error: 'invalid_grant', error_description: 'bad code' })
      this.#n++
      this.current = `token-${this.#n}`
      return json(200, {
        access_token: this.current,
        token_type: 'Bearer',
        refresh_token: 'refresh-0',
        scope: 'api refresh_token',
      })
    } else if (grant !== 'client_credentials') {
      return json(400, { error: 'unsupported_grant_type' })
    }
    this.#n++
    this.current = `token-${this.#n}`
    const body: Record<string, unknown> = { access_token: this.current, token_type: 'Bearer' }
    if (this.expiresIn !== undefined) body.expires_in = this.expiresIn
    if (this.instanceUrl !== undefined) body.instance_url = this.instanceUrl
    if (this.rotate && grant === 'refresh_token') {
      const next = `refresh-${this.#n}`
      this.validRefreshTokens = new Set([next])
      body.refresh_token = next
    }
    json(200, body)
  }
}

export interface SeenRequest {
  method: string
  url: string
  authorization: string | undefined
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** An upstream API accepting only `tokens.current`; per-path behaviours are set by tests. */
export class Upstream {
  seen: SeenRequest[] = []
  routes = new Map<string, (req: IncomingMessage, res: ServerResponse, body: string) => void>()
  listening!: Listening

  constructor(private readonly tokens: { current: string } | undefined) {}

  async start(): Promise<this> {
    this.listening = await listen((req, res) => void this.#handle(req, res))
    return this
  }

  get origin(): string {
    return this.listening.origin
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req)
    this.seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      headers: req.headers,
      body,
    })
    const path = (req.url ?? '').split('?')[0] ?? ''
    const route = this.routes.get(path)
    if (route !== undefined) return route(req, res, body)
    if (
      this.tokens !== undefined &&
      req.headers.authorization !== `Bearer ${this.tokens.current}`
    ) {
      res.writeHead(401, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ error: 'unauthorized' }))
    }
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] })
    res.end(JSON.stringify({ ok: true, method: req.method, url: req.url, body }))
  }
}
