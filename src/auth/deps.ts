/**
 * What the protocol functions need from the outside world, injected so that tests can pass a
 * fake clock, a logger that records, or a `fetch` bound to a test dispatcher.
 */
import type { Clock } from '../clock.ts'
import { systemClock } from '../clock.ts'

/** A WHATWG-style `fetch` (global `fetch`, or undici's `fetch` with a dispatcher bound). */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>

/** The subset of a pino logger the auth module uses. Never pass secrets in `obj`. */
export interface AuthLogger {
  warn(obj: Record<string, unknown>, msg: string): void
}

/** Dependencies of every function that talks to an authorization server. */
export interface AuthDeps {
  /** Default: the global `fetch`. */
  readonly fetch?: FetchLike
  /** Default: {@link systemClock}. */
  readonly clock?: Clock
  /** Receives warnings (e.g. the legacy password flow). Default: none. */
  readonly logger?: AuthLogger
  /** Timeout of each authorization-server request. Default {@link DEFAULT_AUTH_TIMEOUT_MS}. */
  readonly timeoutMs?: number
}

/** Default timeout of one token, discovery or identity request: 10 s. */
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000

/** Largest token/discovery/identity response body read: 1 MiB. Larger bodies are an error. */
export const MAX_AUTH_RESPONSE_BYTES = 1024 * 1024

/** Resolved dependencies with defaults applied. */
export interface ResolvedAuthDeps {
  readonly fetch: FetchLike
  readonly clock: Clock
  readonly logger: AuthLogger | undefined
  readonly timeoutMs: number
}

/** Applies the defaults of {@link AuthDeps}. */
export function resolveAuthDeps(deps: AuthDeps = {}): ResolvedAuthDeps {
  return {
    fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
    clock: deps.clock ?? systemClock,
    logger: deps.logger,
    timeoutMs: deps.timeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
  }
}
