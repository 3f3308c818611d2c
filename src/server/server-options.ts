/**
 * Options of `callout serve` and their defaults (one frozen object; units in the names).
 */
import type { Logger } from 'pino'
import type { Broker } from '../callout/broker.ts'
import type { Clock } from '../clock.ts'
import type { ClientKeyStore } from '../store/client-keys.ts'
import type { MetricsAccess } from './metrics-route.ts'
import type { ConsoleOptions } from './console/console-plugin.ts'

/** Defaults of {@link ServerOptions}. */
export const SERVER_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 7070,
  /** Bodies larger than this are refused (413). 256 MiB. */
  maxBodyBytes: 256 * 1024 * 1024,
  /** Bodies with a Content-Length up to this are buffered, so a 401 retry can resend them. */
  replayableBodyBytes: 1024 * 1024,
  /** Request line plus headers. */
  maxHeaderBytes: 16 * 1024,
  /** The client must send its headers within this (slowloris). */
  headersTimeoutMs: 10_000,
  /** The client must send its whole request (headers and body) within this. */
  clientTimeoutMs: 300_000,
  /** The whole exchange, upstream response body included. */
  totalTimeoutMs: 600_000,
  /** A verified client key is trusted this long before it is read again (revocation delay). */
  keyCacheMs: 5_000,
  /** Idle keep-alive connections from clients close after this. */
  keepAliveTimeoutMs: 72_000,
})

/**
 * What a server is built from. Without `keys`, `noAuthUnsafeLoopback` must be set explicitly
 * (and the CLI allows it only on a loopback host).
 *
 * @example
 * const server = buildServer({ broker, keys: store.clientKeys })
 */
export interface ServerOptions {
  readonly broker: Broker
  /** Client keys; required unless `noAuthUnsafeLoopback`. */
  readonly keys?: ClientKeyStore
  /** Serve every local process without a key. Loud on purpose; loopback only. */
  readonly noAuthUnsafeLoopback?: boolean
  /** Access log and server log (pino). Default: none. */
  readonly logger?: Logger
  readonly clock?: Clock
  /** Readiness probe (the store reachable); throws when not ready. */
  readonly ready?: () => Promise<void>
  /** Who may read `/metrics` (default `'loopback'`). */
  readonly metrics?: MetricsAccess
  /** Include Node process metrics (default true). */
  readonly processMetrics?: boolean
  readonly maxBodyBytes?: number
  readonly replayableBodyBytes?: number
  readonly maxHeaderBytes?: number
  readonly headersTimeoutMs?: number
  readonly clientTimeoutMs?: number
  readonly totalTimeoutMs?: number
  readonly keyCacheMs?: number
  readonly keepAliveTimeoutMs?: number
  /** The setup console at `/` (admin login, pages). Default: none. */
  readonly console?: ConsoleOptions
}
