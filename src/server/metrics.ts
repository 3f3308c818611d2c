/**
 * Prometheus metrics of `callout serve` (prom-client, one registry per server): per Named
 * Credential requests by status class, latency, token refreshes, refresh failures and cooldowns;
 * per client key requests and denials.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * The proxy's metrics.
 *
 * @example
 * const metrics = new ProxyMetrics()
 * metrics.observe('Target', 200, 0.012)
 * const text = await metrics.registry.metrics()
 */
export class ProxyMetrics {
  readonly registry = new Registry()
  readonly #requests = new Counter({
    name: 'callout_proxy_requests_total',
    help: 'Proxied requests by Named Credential and status class (2xx, 4xx, …).',
    labelNames: ['credential', 'status_class'],
    registers: [this.registry],
  })
  readonly #latency = new Histogram({
    name: 'callout_proxy_request_duration_seconds',
    help: 'Time to the response headers of proxied requests, by Named Credential.',
    labelNames: ['credential'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  })
  readonly #refreshes = new Counter({
    name: 'callout_token_refreshes_total',
    help: 'Access tokens obtained (minted or refreshed), by Named Credential.',
    labelNames: ['credential'],
    registers: [this.registry],
  })
  readonly #refreshFailures = new Counter({
    name: 'callout_token_refresh_failures_total',
    help: 'Failed token requests, by Named Credential and error code.',
    labelNames: ['credential', 'code'],
    registers: [this.registry],
  })
  readonly #cooldowns = new Counter({
    name: 'callout_token_cooldowns_total',
    help: 'Requests refused because a recent token request failed (REFRESH_COOLDOWN).',
    labelNames: ['credential'],
    registers: [this.registry],
  })
  readonly #keyRequests = new Counter({
    name: 'callout_client_key_requests_total',
    help: 'Requests by client key id (anonymous without keys).',
    labelNames: ['key'],
    registers: [this.registry],
  })
  readonly #keyDenials = new Counter({
    name: 'callout_client_key_denials_total',
    help: 'Requests refused for a client key problem, by key id (or "none") and error code.',
    labelNames: ['key', 'code'],
    registers: [this.registry],
  })

  readonly #fastPath = new Counter({
    name: 'callout_proxy_fast_path_total',
    help: 'Proxied requests answered on the fast path (no body, a recently verified key, a cached token); the others take the full path.',
    registers: [this.registry],
  })

  /** Label-bound children per credential / key (prom-client hashes the labels on every call). */
  readonly #perCredential = new Map<string, CredentialSeries>()
  readonly #perKey = new Map<string, Counter.Internal>()

  constructor(options: { readonly processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  /** One request answered on the fast path. */
  fastPath(): void {
    this.#fastPath.inc()
  }

  /** One proxied request answered with `status` after `seconds`. */
  observe(credential: string, status: number, seconds: number): void {
    let series = this.#perCredential.get(credential)
    if (series === undefined) {
      series = { byClass: [], latency: this.#latency.labels({ credential }) }
      bounded(this.#perCredential).set(credential, series)
    }
    const statusClass = Math.min(9, Math.max(0, Math.floor(status / 100)))
    const requests = (series.byClass[statusClass] ??= this.#requests.labels({
      credential,
      status_class: `${statusClass}xx`,
    }))
    requests.inc()
    series.latency.observe(seconds)
  }

  /** A token was obtained for `credential`. */
  refreshed(credential: string): void {
    this.#refreshes.inc({ credential })
  }

  /** A token request for `credential` failed with `code`. */
  refreshFailed(credential: string, code: string): void {
    this.#refreshFailures.inc({ credential, code })
  }

  /** A request was refused because `credential` is cooling down. */
  cooldown(credential: string): void {
    this.#cooldowns.inc({ credential })
  }

  /** A request by client key `key`. */
  keyRequest(key: string): void {
    let counter = this.#perKey.get(key)
    if (counter === undefined) {
      counter = this.#keyRequests.labels({ key })
      bounded(this.#perKey).set(key, counter)
    }
    counter.inc()
  }

  /** A request refused for key problem `code` (missing, invalid, expired, revoked, denied). */
  keyDenied(key: string, code: string): void {
    this.#keyDenials.inc({ key, code })
  }
}

interface CredentialSeries {
  /** Request counters by status class (index 2 is `2xx`). */
  readonly byClass: Counter.Internal[]
  readonly latency: Histogram.Internal<string>
}

/** The map, emptied first when it holds 1,024 entries (the series themselves stay registered). */
function bounded<K, V>(map: Map<K, V>): Map<K, V> {
  if (map.size >= 1024) map.clear()
  return map
}
