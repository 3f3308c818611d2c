/**
 * The IPC protocol between the bench and its upstream process (`upstream.ts`), and the OAuth
 * client the bench registers. A module without side effects: `upstream.ts` is an entry point
 * (importing it starts a server), this one is safe to import anywhere.
 */

/** A command the parent sends; the child answers `{ id, ...UpstreamReply }`. */
export type UpstreamCommand =
  | { readonly id: number; readonly type: 'stats' }
  | { readonly id: number; readonly type: 'reset' }
  | { readonly id: number; readonly type: 'revoke' }
  | { readonly id: number; readonly type: 'current' }

/** The upstream's counters. */
export interface UpstreamStats {
  readonly tokenRequests: number
  readonly api2xx: number
  readonly api401: number
  /** TCP connections accepted (keep-alive: stays near the concurrency). */
  readonly connections: number
}

/** A reply to an {@link UpstreamCommand}. */
export interface UpstreamReply {
  readonly id: number
  readonly stats?: UpstreamStats
  readonly token?: string | null
}

/** The first message the child sends: where it listens. */
export interface UpstreamReady {
  readonly type: 'ready'
  readonly port: number
}

/** The client the bench's config registers; the token endpoint checks it. */
export const BENCH_CLIENT = Object.freeze({
  id: 'bench-client',
  secret: 'bench-secret-not-a-real-one',
})
