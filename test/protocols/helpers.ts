/**
 * A recording upstream for the protocol tests: a node:http server on 127.0.0.1 port 0 that keeps
 * every request it received (method, raw URL, headers, body bytes) and answers through a
 * test-supplied check, so each test can verify the authentication independently of the broker.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { listen, type Listening } from '../e2e/helpers/e2e.ts'

/** One request as the upstream received it. */
export interface Received {
  readonly method: string
  /** The raw request target (path and query as sent on the wire). */
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

/** What the check answers: a status and a JSON body. */
export interface Verdict {
  readonly status: number
  readonly body: unknown
}

/** A recording upstream. */
export interface RecordingUpstream {
  readonly listening: Listening
  readonly origin: string
  readonly received: Received[]
  /** Replaces how requests are answered (default: 200 `{ ok: true }`). */
  check: (request: Received) => Verdict | Promise<Verdict>
  close(): Promise<void>
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Starts a recording upstream on 127.0.0.1 port 0. */
export async function recordingUpstream(): Promise<RecordingUpstream> {
  const upstream: { -readonly [K in keyof RecordingUpstream]: RecordingUpstream[K] } = {
    listening: undefined as unknown as Listening,
    origin: '',
    received: [],
    check: () => ({ status: 200, body: { ok: true } }),
    close: () => upstream.listening.close(),
  }
  upstream.listening = await listen((req, res) => {
    void (async () => {
      const request: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: await readAll(req),
      }
      upstream.received.push(request)
      let verdict: Verdict
      try {
        verdict = await upstream.check(request)
      } catch (error) {
        verdict = { status: 401, body: { error: String(error) } }
      }
      res.writeHead(verdict.status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(verdict.body))
    })()
  })
  upstream.origin = upstream.listening.origin
  return upstream
}

/** The single value of a request header (fails the test on a repeated header). */
export function header(request: Received, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()]
  if (Array.isArray(value)) throw new Error(`header ${name} was sent ${value.length} times`)
  return value
}
