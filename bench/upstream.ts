/**
 * The benchmark's upstream, run in its own process (`child_process.fork`) so that the load
 * generator and the server under load never share an event loop: a keep-alive `node:http`
 * server on 127.0.0.1, port 0, with
 *
 * - `GET /api/*` — a small JSON body when `Authorization: Bearer <current token>`, else 401;
 * - `POST /token` — an OAuth 2.0 token endpoint (client credentials, RFC 6749 §4.4) that issues a
 *   new token, makes it the only accepted one, and counts itself.
 *
 * The parent drives it over IPC ({@link UpstreamCommand}): read the counters, reset them, revoke
 * the current token (so the next callout gets a 401), read the current token (the baseline's
 * "token already in hand").
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import {
  BENCH_CLIENT,
  type UpstreamCommand,
  type UpstreamReady,
  type UpstreamReply,
} from './upstream-protocol.ts'

const BODY = Buffer.from(JSON.stringify({ ok: true, items: [1, 2, 3], name: 'callout-bench' }))
const OK_HEADERS = { 'content-type': 'application/json', 'content-length': String(BODY.length) }
const DENIED = Buffer.from('{"error":"invalid_token"}')
const DENIED_HEADERS = {
  'content-type': 'application/json',
  'content-length': String(DENIED.length),
  'www-authenticate': 'Bearer error="invalid_token"',
}

const tokenDelayMs = Number(process.env.BENCH_TOKEN_DELAY_MS ?? '10')
let current: string | null = null
let expected: string | null = null
let generation = 0
let tokenRequests = 0
let api2xx = 0
let api401 = 0
let connections = 0

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    req.on('data', (chunk: Buffer) => parts.push(chunk))
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')))
    req.on('error', reject)
  })
}

function clientOf(req: IncomingMessage, form: URLSearchParams): { id: string; secret: string } {
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')
  if (basic?.[1] !== undefined) {
    const [id = '', secret = ''] = Buffer.from(basic[1], 'base64').toString('utf8').split(':')
    return { id: decodeURIComponent(id), secret: decodeURIComponent(secret) }
  }
  return { id: form.get('client_id') ?? '', secret: form.get('client_secret') ?? '' }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value))
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'cache-control': 'no-store',
  })
  res.end(body)
}

async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
  tokenRequests++
  const form = new URLSearchParams(await readBody(req))
  const client = clientOf(req, form)
  if (form.get('grant_type') !== 'client_credentials') {
    return json(res, 400, { error: 'unsupported_grant_type' })
  }
  if (client.id !== BENCH_CLIENT.id || client.secret !== BENCH_CLIENT.secret) {
    return json(res, 401, { error: 'invalid_client' })
  }
  // A real authorization server takes a few milliseconds; the storm must overlap with it.
  if (tokenDelayMs > 0) await new Promise((r) => setTimeout(r, tokenDelayMs))
  generation++
  current = `bench-${generation}-${randomBytes(12).toString('base64url')}`
  expected = `Bearer ${current}`
  json(res, 200, { access_token: current, token_type: 'Bearer', expires_in: 3600 })
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.url?.startsWith('/api/') === true) {
    if (expected !== null && req.headers.authorization === expected) {
      api2xx++
      res.writeHead(200, OK_HEADERS)
      res.end(BODY)
    } else {
      api401++
      res.writeHead(401, DENIED_HEADERS)
      res.end(DENIED)
    }
    return
  }
  if (req.url === '/token' && req.method === 'POST') {
    token(req, res).catch(() => json(res, 500, { error: 'server_error' }))
    return
  }
  json(res, 404, { error: 'not_found' })
})
server.on('connection', () => connections++)
server.headersTimeout = 60_000
server.requestTimeout = 0

function reply(message: UpstreamReply): void {
  process.send?.(message)
}

process.on('message', (command: UpstreamCommand) => {
  switch (command.type) {
    case 'stats':
      return reply({ id: command.id, stats: { tokenRequests, api2xx, api401, connections } })
    case 'reset':
      tokenRequests = 0
      api2xx = 0
      api401 = 0
      connections = 0
      return reply({ id: command.id })
    case 'revoke':
      current = null
      expected = null
      return reply({ id: command.id })
    case 'current':
      return reply({ id: command.id, token: current })
  }
})

// The parent going away (even by SIGKILL) closes the IPC channel: stop with it.
process.on('disconnect', () => {
  server.closeAllConnections()
  server.close()
  process.exit(0)
})

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  const ready: UpstreamReady = { type: 'ready', port: address.port }
  process.send?.(ready)
})
