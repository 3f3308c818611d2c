/**
 * `callout serve` when its store cannot be reached at start: it listens anyway (answering `/readyz`
 * with the reason, see `server/waiting-server.ts`), retries with backoff, and hands over to the
 * real server on the same port once the store answers. Failures no retry cures (a wrong password,
 * a wrong master key, a newer schema) still stop the command at once.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isStoreUnreachable } from '../store/reachability.ts'
import { listenWhileWaiting } from '../server/waiting-server.ts'

/** Backoff between attempts to open the store. */
export const STORE_WAIT_DEFAULTS = Object.freeze({ firstRetryMs: 500, maxRetryMs: 5_000 })

/** What {@link openStoreOrWait} ended with. */
export type StoreWaitOutcome<S> =
  | {
      readonly kind: 'open'
      readonly store: S
      readonly waiting?: { server: Server; port: number }
    }
  | { readonly kind: 'stopped' }

/**
 * Opens the store; if it is unreachable, listens on `host:port` while retrying. `stop` resolves
 * when the command is told to stop (SIGTERM) while it waits.
 *
 * @example
 * const outcome = await openStoreOrWait(() => openStore({ home }), { host, port, stop, report })
 */
export async function openStoreOrWait<S>(
  open: () => Promise<S>,
  options: {
    readonly host: string
    readonly port: number
    readonly stop: Promise<void>
    /** Told when waiting starts (with the origin), at each failed attempt and when it ends. */
    readonly report: (message: string) => void
  },
): Promise<StoreWaitOutcome<S>> {
  let lastError: unknown
  try {
    return { kind: 'open', store: await open() }
  } catch (error) {
    if (!isStoreUnreachable(error)) throw error
    lastError = error
  }
  const server = await listenWhileWaiting(options.host, options.port, () => lastError)
  const address = server.address() as AddressInfo
  const origin = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  options.report(
    `callout serve: listening on ${origin} — not ready: ${(lastError as Error).message} Retrying.`,
  )
  let stopped = false
  void options.stop.then(() => (stopped = true))
  let pauseMs: number = STORE_WAIT_DEFAULTS.firstRetryMs
  for (;;) {
    await Promise.race([new Promise((r) => setTimeout(r, pauseMs)), options.stop])
    if (stopped) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return { kind: 'stopped' }
    }
    pauseMs = Math.min(pauseMs * 2, STORE_WAIT_DEFAULTS.maxRetryMs)
    try {
      const store = await open()
      options.report('callout serve: the store answers; starting')
      return { kind: 'open', store, waiting: { server, port: address.port } }
    } catch (error) {
      if (!isStoreUnreachable(error)) {
        server.close()
        server.closeAllConnections()
        throw error
      }
      lastError = error
    }
  }
}
