/**
 * Real parts for the proxy tests: a Callout home on SQLite, a token endpoint, an upstream with
 * hostile behaviours, and `callout serve`'s app listening on 127.0.0.1 port 0.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { AddressInfo } from 'node:net'
import { expect } from 'vitest'
import { openBroker, type Broker } from '../../src/index.ts'
import type { KyselyStore } from '../../src/store/kysely-store.ts'
import { generateClientKey } from '../../src/server/client-key.ts'
import { buildServer, type CalloutServer } from '../../src/server/build-server.ts'
import { buildCredentialPort } from '../../src/server/credential-port.ts'
import type { ServerOptions } from '../../src/server/server-options.ts'
import type { AuthProvider } from '../../src/definitions/model.ts'
import { Secret } from '../../src/secrets/secret.ts'
import {
  authProvider,
  definitions,
  externalCredential,
  namedCredential,
  principal,
} from '../helpers/callout-fixtures.ts'
import type { FastifyInstance } from 'fastify'
import { request } from 'undici'
import { listen, TokenServer, type Listening } from '../helpers/callout-servers.ts'
import { memoryLogger, type MemoryLog } from '../e2e/helpers/e2e.ts'

export const CLIENT_SECRET = 'proxy-test-client-secret'

/** `n` bytes of a fixed pattern that no text search matches by chance (for byte-exact checks). */
export function patternBytes(n: number): Buffer {
  const bytes = Buffer.alloc(n)
  for (let i = 0; i < n; i++) bytes[i] = i % 251
  return bytes
}

/** Writes `body` in 16 KiB chunks, as a large answer arrives. */
function writeInChunks(res: ServerResponse, body: Buffer): void {
  for (let at = 0; at < body.length; at += 16 * 1024) res.write(body.subarray(at, at + 16 * 1024))
  res.end()
}

/** The upstream: checks the bearer token, echoes requests, and misbehaves on some paths. */
export class HostileUpstream {
  listening!: Listening
  seen: {
    method: string
    url: string
    headers: IncomingMessage['headers']
    /** 1 for the first request on its connection, 2 for the next, … */
    nthOnConnection: number
  }[] = []
  /** Requests served so far on each connection. */
  readonly #served = new WeakMap<object, number>()
  /** Bytes the last `/api/download` has handed to its socket so far. */
  downloadSent = 0
  /** When each `/api/hang` exchange lost its connection (the proxy gave up on it). */
  hangsClosedAt: number[] = []
  constructor(private readonly tokens: TokenServer) {}

  async start(): Promise<this> {
    this.listening = await listen((req, res) => {
      this.#handle(req, res).catch(() => res.destroy())
    })
    return this
  }

  get origin(): string {
    return this.listening.origin
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x')
    const nthOnConnection = (this.#served.get(req.socket) ?? 0) + 1
    this.#served.set(req.socket, nthOnConnection)
    this.seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      nthOnConnection,
    })
    // A keep-alive connection the upstream gave up on: any request after the first on a
    // connection is cut before an answer (FIN, or a TCP reset with ?rst).
    if (url.pathname === '/api/stale' && nthOnConnection > 1) {
      const cut = (): void => {
        if (url.searchParams.has('rst')) req.socket.resetAndDestroy()
        else req.socket.destroy()
      }
      // With a body, cut once its first bytes arrived: the body has been (partly) streamed.
      const hasBody =
        req.headers['transfer-encoding'] !== undefined ||
        Number(req.headers['content-length'] ?? 0) > 0
      if (hasBody) req.once('data', cut)
      else cut()
      return
    }
    if (url.pathname === '/api/hang') {
      res.once('close', () => this.hangsClosedAt.push(Date.now()))
      return // never answers
    }
    if (url.pathname === '/api/reset') return void req.socket.destroy()
    if (url.pathname === '/api/stall-body') {
      // Headers, then never the body it announces.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10' })
      res.flushHeaders()
      return
    }
    if (url.pathname === '/api/stall-mid-body') {
      // Half the body it announces, then nothing (the connection stays open).
      const half = Number(url.searchParams.get('bytes') ?? '0')
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 2 * half })
      res.write(Buffer.alloc(half, 99))
      return
    }
    if (url.pathname === '/api/garbage') {
      req.socket.end('HTTP/1.1 2OO NOT-HTTP\r\n\r\nxx')
      return
    }
    if (url.pathname === '/api/redirect-off') {
      res.writeHead(302, {
        location: `${url.searchParams.get('to') ?? 'http://127.0.0.1:9'}/steal`,
      })
      return void res.end()
    }
    if (req.headers.authorization !== `Bearer ${this.tokens.current}`) {
      req.resume()
      // ?large401=<bytes>: a rejection whose body is that large.
      const large = Number(url.searchParams.get('large401') ?? '0')
      if (large > 0) {
        res.writeHead(401, { 'content-type': 'text/html' })
        return writeInChunks(res, patternBytes(large))
      }
      res.writeHead(401, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ error: 'unauthorized' }))
    }
    if (url.pathname === '/api/chain') {
      // ?n=<redirects left>&status=<3xx>&bytes=<redirect body size>[&stall|&endless]: n redirects, each to
      // the next link by a relative Location, then the echo.
      const left = Number(url.searchParams.get('n') ?? '0')
      if (left > 0) {
        const next = new URLSearchParams(url.searchParams)
        next.set('n', String(left - 1))
        res.writeHead(Number(url.searchParams.get('status') ?? '302'), {
          location: `/api/chain?${next.toString()}`,
        })
        // &stall: a body announced and never sent.
        if (url.searchParams.has('stall')) return void res.write('never ends')
        // &endless: a body sent for as long as the connection stays open.
        if (url.searchParams.has('endless')) {
          const chunk = Buffer.alloc(64 * 1024, 120)
          const pump = (): void => {
            while (!res.destroyed && res.write(chunk));
          }
          res.on('drain', pump)
          return pump()
        }
        return writeInChunks(res, patternBytes(Number(url.searchParams.get('bytes') ?? '0')))
      }
    }
    if (url.pathname === '/api/large') {
      // ?status=<status>&bytes=<size>: an answer with a body that large.
      res.writeHead(Number(url.searchParams.get('status') ?? '200'), {
        'content-type': 'application/octet-stream',
      })
      return writeInChunks(res, patternBytes(Number(url.searchParams.get('bytes') ?? '0')))
    }
    if (url.pathname === '/api/upload') {
      let bytes = 0
      for await (const chunk of req) bytes += (chunk as Buffer).length
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ bytes }))
    }
    if (url.pathname === '/api/download') {
      const total = Number(url.searchParams.get('bytes') ?? '0')
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total })
      const chunk = Buffer.alloc(64 * 1024, 97)
      let sent = 0
      this.downloadSent = 0
      const pump = (): void => {
        while (sent < total) {
          const n = Math.min(chunk.length, total - sent)
          sent += n
          this.downloadSent = sent
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      return pump()
    }
    if (url.pathname === '/api/non-ascii') {
      // Header bytes that are not ASCII: UTF-8 text, and a byte that is not UTF-8 (then the
      // connection closes: this answer is written past Node's own response).
      req.socket.end(
        Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\nx-utf8: caf'),
          Buffer.from('é', 'utf8'),
          Buffer.from('\r\nx-latin1: caf'),
          Buffer.from([0xe9]),
          Buffer.from('\r\ncontent-length: 2\r\n\r\n{}'),
        ]),
      )
      return
    }
    if (url.pathname === '/api/moved') {
      res.writeHead(307, { location: `${this.origin}/api/echo?moved=1` })
      return void res.end()
    }
    if (url.pathname === '/api/forged-advice') {
      res.writeHead(200, { 'content-type': 'application/json', 'callout-advice': 'forged' })
      return void res.end('{}')
    }
    if (url.pathname === '/api/hop') {
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'x-upstream-hop',
        'x-upstream-hop': 'secret-of-the-hop',
        'keep-alive': 'timeout=5',
        'proxy-authenticate': 'Basic',
        'x-kept': 'yes',
      })
      return void res.end('{}')
    }
    if (url.pathname === '/api/created') {
      const location = url.searchParams.has('relative')
        ? '/api/items/42'
        : `${this.origin}/api/items/42`
      res.writeHead(201, { 'content-type': 'application/json', location })
      return void res.end('{"id":"42"}')
    }
    if (url.pathname === '/api/services/data/v61.0') {
      const json = JSON.stringify({
        identity: `${this.origin}/api/id/00D/005`,
        sobjects: '/services/data/v61.0/sobjects',
        outsideBasePath: `${this.origin}/elsewhere`,
        otherOrigin: 'https://example.com/api/id/00D/005',
      })
      const gzip = url.searchParams.has('gzip')
      res.writeHead(200, {
        'content-type': 'application/json;charset=UTF-8',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      })
      return void res.end(gzip ? gzipSync(json) : json)
    }
    let body = ''
    for await (const chunk of req) body += String(chunk)
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] })
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }))
  }
}

/** A running proxy with its parts. */
export interface ProxyRig {
  readonly home: string
  readonly env: Record<string, string>
  readonly broker: Broker
  readonly store: KyselyStore
  readonly tokens: TokenServer
  readonly upstream: HostileUpstream
  readonly server: CalloutServer
  readonly origin: string
  readonly log: MemoryLog
  /** Creates a key with these rules and returns it. */
  key(
    rules: string[],
    extra?: { anyUser?: boolean; expiresAt?: number; name?: string },
  ): Promise<string>
  close(): Promise<void>
}

/**
 * Starts the token endpoint, the upstream, a broker and the proxy. The broker opens a SQLite store
 * in a fresh home, or uses `parts.store` (any dialect), which the rig closes with the rest;
 * `parts.provider` overrides the Auth Provider's fields (`type: 'salesforce'`), given the
 * upstream's origin.
 */
export async function startRig(
  options: Partial<ServerOptions> = {},
  parts: {
    readonly store?: KyselyStore
    readonly provider?: (upstream: string) => Partial<AuthProvider>
  } = {},
): Promise<ProxyRig> {
  const home = await mkdtemp(join(tmpdir(), 'callout-proxy-'))
  const env = { CALLOUT_HOME: home, CALLOUT_MASTER_KEY: randomBytes(32).toString('base64') }
  const tokens = await new TokenServer().start()
  const upstream = await new HostileUpstream(tokens).start()
  const broker = await openBroker({
    home,
    env,
    ...(parts.store === undefined ? {} : { store: parts.store }),
  })
  await broker.apply(
    definitions({
      authProviders: [
        authProvider({
          tokenUrl: tokens.tokenUrl,
          consumerSecret: new Secret(CLIENT_SECRET),
          ...parts.provider?.(upstream.origin),
        }),
      ],
      externalCredentials: [
        externalCredential({ name: 'Api' }),
        externalCredential({
          name: 'PerUser',
          principals: [principal({ name: 'EachUser', type: 'per-user' })],
        }),
      ],
      namedCredentials: [
        namedCredential({ name: 'Api', url: `${upstream.origin}/api`, timeoutMs: 1_000 }),
        namedCredential({ name: 'Other', url: `${upstream.origin}/api` }),
        namedCredential({
          name: 'Users',
          url: `${upstream.origin}/api`,
          externalCredential: 'PerUser',
        }),
      ],
    }),
  )
  const store = broker.store as KyselyStore
  const log = memoryLogger()
  const server = buildServer({
    broker,
    keys: store.clientKeys,
    logger: log.logger,
    keyCacheMs: 0,
    processMetrics: false,
    ...options,
  })
  await server.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = server.app.server.address() as AddressInfo
  return {
    home,
    env,
    broker,
    store,
    tokens,
    upstream,
    server,
    origin: `http://127.0.0.1:${port}`,
    log,
    key: async (rules, extra = {}) => {
      const { id, key, hash } = generateClientKey()
      await store.clientKeys.createClientKey({
        id,
        name: extra.name ?? 'test',
        rules,
        anyUser: extra.anyUser ?? false,
        keyHash: hash,
        createdAt: Date.now(),
        ...(extra.expiresAt === undefined ? {} : { expiresAt: extra.expiresAt }),
      })
      return key
    },
    close: async () => {
      await server.app.close()
      await broker.close()
      await parts.store?.close()
      await tokens.listening.close()
      await upstream.listening.close()
      await rm(home, { recursive: true, force: true })
    },
  }
}

/**
 * Checks that a request whose token was rejected took one token request (since `tokenRequests`)
 * and reached the upstream twice: with the rejected token, then with the new one.
 */
export function expectOneRefresh(rig: ProxyRig, tokenRequests: number): void {
  expect(rig.tokens.requests).toBe(tokenRequests + 1)
  const sent = rig.upstream.seen.map((s) => s.headers.authorization)
  expect(sent).toHaveLength(2)
  expect(sent[0]).not.toBe(`Bearer ${rig.tokens.current}`)
  expect(sent[1]).toBe(`Bearer ${rig.tokens.current}`)
}

/** A response read off a raw socket. */
export interface RawResponse {
  readonly status: number
  readonly head: string
  readonly body: string
}

/**
 * Sends `text` as-is on a new TCP connection (for requests no HTTP client would send) and reads
 * until the server closes or `timeoutMs` passes.
 */
export async function rawRequest(
  origin: string,
  text: string,
  timeoutMs = 5_000,
): Promise<RawResponse> {
  const { port } = new URL(origin)
  const net = await import('node:net')
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => socket.destroy(), timeoutMs)
    socket.on('data', (c) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => {
      clearTimeout(timer)
      const all = Buffer.concat(chunks).toString('latin1')
      const split = all.indexOf('\r\n\r\n')
      const head = split === -1 ? all : all.slice(0, split)
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
        head,
        body: split === -1 ? '' : all.slice(split + 4),
      })
    })
    socket.write(text)
  })
}

/** Requests the fast paths of the server at `origin` answered so far (from its `/metrics`). */
export async function fastPathCount(origin: string): Promise<number> {
  const text = await (await request(`${origin}/metrics`)).body.text()
  return Number(/^callout_proxy_fast_path_total (\d+)$/m.exec(text)?.[1] ?? NaN)
}

/** A credential port of `server` for `name`, listening on 127.0.0.1 port 0, and its origin. */
export async function listenCredentialPort(
  server: CalloutServer,
  name: string,
): Promise<{ readonly app: FastifyInstance; readonly origin: string }> {
  let origin = ''
  const app = buildCredentialPort(server, name, () => origin)
  await app.listen({ host: '127.0.0.1', port: 0 })
  origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return { app, origin }
}
