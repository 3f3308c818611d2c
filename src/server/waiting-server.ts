/**
 * What `callout serve` answers while its store cannot be reached at start: it listens at once, so
 * a load balancer and an operator can see why it is not ready, and takes the real server's place
 * on the same port as soon as the store answers. `/healthz` is 200 (the process is alive),
 * `/readyz` is 503 with the reason, every other path is 503 with the same error and `Retry-After`.
 */
import { createServer, type Server } from 'node:http'
import { errorAnswer } from './error-body.ts'

/**
 * Starts answering on `host:port` (0: any free port) with `reason()`'s error. Resolves with the
 * server once it listens.
 *
 * @example
 * const waiting = await listenWhileWaiting('127.0.0.1', 7070, () => lastError)
 */
export function listenWhileWaiting(
  host: string,
  port: number,
  reason: () => unknown,
): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0]
    request.resume()
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ status: 'ok', store: 'waiting' }))
      return
    }
    const answer = errorAnswer(reason())
    const body = path === '/readyz' ? { status: 'not ready', ...answer.body } : answer.body
    response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
    response.end(JSON.stringify(body))
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port }, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}

/** Stops the waiting server and ends its connections (clients retry on the real server). */
export function closeWaiting(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
