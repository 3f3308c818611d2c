/**
 * A store for @fastify/rate-limit backed by the Callout store, so that the console's login limit
 * is one budget shared by every `callout serve` on the same database instead of one per instance.
 */
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { RateLimitStore } from '../../store/rate-limits.ts'

type Incr = FastifyRateLimitStore['incr']

/**
 * The `store` option of @fastify/rate-limit for counters kept in `counters`. Each route that sets
 * its own limit counts under its own prefix (`<METHOD> <url>|<client key>`).
 *
 * @example
 * await app.register(rateLimit, { global: false, store: sharedRateLimitStore(store.rateLimits) })
 */
export function sharedRateLimitStore(counters: RateLimitStore): FastifyRateLimitStoreCtor {
  class SharedRateLimitStore implements FastifyRateLimitStore {
    readonly #prefix: string

    constructor(_options: unknown, prefix = '') {
      this.#prefix = prefix
    }

    incr(...[key, callback, timeWindow]: Parameters<Incr>): void {
      counters.hit(`${this.#prefix}|${key}`, timeWindow).then(
        ({ count, ttlMs }) => callback(null, { current: count, ttl: ttlMs }),
        (error: unknown) => callback(error as Error),
      )
    }

    child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      const route = routeOptions as { routeInfo?: { method?: unknown; url?: unknown } }
      const prefix = `${String(route.routeInfo?.method ?? '')} ${String(route.routeInfo?.url ?? routeOptions.path)}`
      return new SharedRateLimitStore(routeOptions, prefix)
    }
  }
  return SharedRateLimitStore
}
