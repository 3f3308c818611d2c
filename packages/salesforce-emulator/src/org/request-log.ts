/**
 * The emulator's request log, for test assertions ("exactly one refresh"). Entries hold the method,
 * the path **without** its query string (query strings may carry `oauth_token`), the token
 * request's `grant_type` and the status, never a header or a body.
 */

/** One logged request. */
export interface RequestLogEntry {
  /** Name of the org whose listener answered. */
  org: string
  /** HTTP method. */
  method: string
  /** Normalised path, never with a query string. */
  path: string
  /** `grant_type` of a token request (`device_code` for a device authorization request). */
  grantType?: string
  /** HTTP status sent. */
  status: number
  /** When the response finished (ms since the epoch, real time). */
  at: number
  /** Milliseconds from request to response. */
  durationMs: number
}

/** Which entries to select; every given property must match. */
export interface RequestLogFilter {
  org?: string
  method?: string
  /** Exact path, or a RegExp tested against the path. */
  path?: string | RegExp
  grantType?: string
  status?: number
}

/** A bounded in-memory request log shared by all orgs of one emulator. */
export class RequestLog {
  readonly #entries: RequestLogEntry[] = []
  readonly #max: number

  /** @param max - entries kept; the oldest are dropped first. */
  constructor(max = 10_000) {
    this.#max = max
  }

  /** Appends an entry (called by the server when a response finishes). */
  record(entry: RequestLogEntry): void {
    this.#entries.push(entry)
    if (this.#entries.length > this.#max) this.#entries.splice(0, this.#entries.length - this.#max)
  }

  /** A copy of the entries that match `filter` (all when omitted), oldest first. */
  entries(filter: RequestLogFilter = {}): RequestLogEntry[] {
    return this.#entries.filter((e) => matches(e, filter)).map((e) => ({ ...e }))
  }

  /** How many entries match `filter`. */
  count(filter: RequestLogFilter = {}): number {
    return this.#entries.reduce((n, e) => (matches(e, filter) ? n + 1 : n), 0)
  }

  /** How many `POST /services/oauth2/token` requests were made, optionally for one grant type. */
  tokenRequests(grantType?: string, org?: string): number {
    const filter: RequestLogFilter = { method: 'POST', path: '/services/oauth2/token' }
    if (grantType !== undefined) filter.grantType = grantType
    if (org !== undefined) filter.org = org
    return this.count(filter)
  }

  /** Empties the log. */
  clear(): void {
    this.#entries.length = 0
  }
}

function matches(e: RequestLogEntry, f: RequestLogFilter): boolean {
  if (f.org !== undefined && e.org !== f.org) return false
  if (f.method !== undefined && e.method !== f.method.toUpperCase()) return false
  if (f.grantType !== undefined && e.grantType !== f.grantType) return false
  if (f.status !== undefined && e.status !== f.status) return false
  if (f.path !== undefined) {
    if (typeof f.path === 'string' ? e.path !== f.path : !f.path.test(e.path)) return false
  }
  return true
}
