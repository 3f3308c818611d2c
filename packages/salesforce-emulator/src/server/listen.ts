/** Starting and stopping loopback HTTP listeners. */
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A bound listener and its origin (`http://127.0.0.1:<port>`, no trailing slash). */
export interface Listener {
  server: Server
  origin: string
  port: number
}

/**
 * The accept queue of each listener. Salesforce takes any burst of new connections; Node's default
 * (511) drops the connection attempts beyond it, which then wait seconds for a TCP retransmission.
 * The kernel caps it at `net.core.somaxconn`.
 */
const BACKLOG = 4096

/** Listens on 127.0.0.1 at `port` (0 = a free port). */
export async function listen(listener: RequestListener, port = 0): Promise<Listener> {
  const server = createServer({ requestTimeout: 120_000 }, listener)
  // Longer than any client's idle timeout (undici: 4 s), as servers in front of Salesforce keep
  // idle connections: the client closes an idle connection first, so a request is never written
  // to a connection the server is closing at that moment (a reset under load).
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host: '127.0.0.1', backlog: BACKLOG }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  return { server, origin: `http://127.0.0.1:${address.port}`, port: address.port }
}

/** Closes a listener, dropping idle and active connections. */
export async function close(listener: Listener): Promise<void> {
  await new Promise<void>((resolve) => {
    listener.server.close(() => resolve())
    listener.server.closeAllConnections()
  })
}
