/**
 * Prometheus metrics of `callout serve` (prom-client, one registry per server): per Named
 * Credential requests by status class, latency, token refreshes, refresh failures and cooldowns;
 * per client key requests and denials.
 */
import { Counter, Registry, collectDefaultMetrics, type Metric } from 'prom-client'

/** Upper bounds (seconds) of the latency histogram's buckets. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const LATENCY_NAME = 'callout_proxy_request_duration_seconds'
const LATENCY_HELP = 'Time to the response headers of proxied requests, by Named Credential.'

/**
 * The proxy's metrics. The per-request series (requests by status class, latency, requests per
 * key, fast-path answers) are counted in plain numbers and handed to prom-client when the
 * registry is read: prom-client hashes and checks the labels on every update, even of a bound
 * series, which cost a few microseconds per proxied request.
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
    collect: () => this.#flushRequests(),
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
    collect: () => this.#flushKeys(),
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
    collect: () => {
      if (this.#fastPathPending > 0) this.#fastPath.inc(this.#fastPathPending)
      this.#fastPathPending = 0
    },
  })
  #fastPathPending = 0

  /** Per credential: counts not yet handed to prom-client, and the latency histogram. */
  readonly #perCredential = new Map<string, CredentialSeries>()
  /** Per key: requests not yet handed to prom-client (forgotten, after a flush, at 1,024 keys). */
  readonly #perKey = new Map<string, { pending: number }>()

  constructor(options: { readonly processMetrics?: boolean } = {}) {
    this.registry.registerMetric(this.#latencyMetric() as unknown as Metric)
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  /** One request answered on the fast path. */
  fastPath(): void {
    this.#fastPathPending++
  }

  /** One proxied request answered with `status` after `seconds`. */
  observe(credential: string, status: number, seconds: number): void {
    let series = this.#perCredential.get(credential)
    if (series === undefined) {
      series = {
        pending: new Array<number>(10).fill(0),
        buckets: new Float64Array(LATENCY_BUCKETS.length + 1),
        sum: 0,
        count: 0,
      }
      this.#perCredential.set(credential, series)
    }
    series.pending[Math.min(9, Math.max(0, Math.floor(status / 100)))]! += 1
    let bucket = 0
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++
    series.buckets[bucket]! += 1
    series.sum += seconds
    series.count++
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
    let series = this.#perKey.get(key)
    if (series === undefined) {
      if (this.#perKey.size >= 1024) this.#flushKeys(true)
      series = { pending: 0 }
      this.#perKey.set(key, series)
    }
    series.pending++
  }

  /** A request refused for key problem `code` (missing, invalid, expired, revoked, denied). */
  keyDenied(key: string, code: string): void {
    this.#keyDenials.inc({ key, code })
  }

  /**
   * Hands the pending request counts to prom-client. Credentials are never forgotten (their
   * series stay, as prom-client's do); only defined Named Credentials are ever counted.
   */
  #flushRequests(): void {
    for (const [credential, series] of this.#perCredential) {
      const pending = series.pending
      for (let statusClass = 0; statusClass < pending.length; statusClass++) {
        const n = pending[statusClass]!
        if (n === 0) continue
        this.#requests.inc({ credential, status_class: `${statusClass}xx` }, n)
        pending[statusClass] = 0
      }
    }
  }

  /** Hands the pending per-key counts to prom-client (and forgets the keys when `forget`). */
  #flushKeys(forget = false): void {
    for (const [key, series] of this.#perKey) {
      if (series.pending > 0) this.#keyRequests.inc({ key }, series.pending)
      series.pending = 0
    }
    if (forget) this.#perKey.clear()
  }

  /** The latency histogram in the shape prom-client's registry reads from a histogram. */
  #latencyMetric(): object {
    return {
      name: LATENCY_NAME,
      help: LATENCY_HELP,
      type: 'histogram',
      aggregator: 'sum',
      get: async () => ({
        name: LATENCY_NAME,
        help: LATENCY_HELP,
        type: 'histogram',
        aggregator: 'sum',
        values: [...this.#perCredential].flatMap(([credential, series]) => {
          const values: {
            labels: Record<string, string | number>
            value: number
            metricName: string
          }[] = []
          let cumulative = 0
          for (let i = 0; i <= LATENCY_BUCKETS.length; i++) {
            cumulative += series.buckets[i]!
            values.push({
              labels: { le: i < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[i]! : '+Inf', credential },
              value: cumulative,
              metricName: `${LATENCY_NAME}_bucket`,
            })
          }
          values.push({
            labels: { credential },
            value: series.sum,
            metricName: `${LATENCY_NAME}_sum`,
          })
          values.push({
            labels: { credential },
            value: series.count,
            metricName: `${LATENCY_NAME}_count`,
          })
          return values
        }),
      }),
      reset: () => this.#perCredential.clear(),
    }
  }
}

interface CredentialSeries {
  /** Requests by status class (index 2 is `2xx`) not yet handed to prom-client. */
  readonly pending: number[]
  /** Latency observations per bucket (not cumulative; the last is above the largest bound). */
  readonly buckets: Float64Array
  sum: number
  count: number
}
