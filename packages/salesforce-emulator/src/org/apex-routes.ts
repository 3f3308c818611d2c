/**
 * Apex REST routes (`/services/apexrest/...`) that tests register, in the spirit of
 * `@RestResource(urlMapping='/Invoices/*')`: an exact path, or a pattern ending in `/*`.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.apexcode.meta/apexcode/apex_rest_intro.htm
 */
import type { IncomingHttpHeaders } from 'node:http'

/** What an Apex route handler receives. */
export interface ApexRequest {
  /** HTTP method, upper case. */
  method: string
  /** The path after `/services/apexrest`, e.g. `/Invoices/42`. */
  path: string
  /** Decoded query string. */
  query: URLSearchParams
  /** Request headers (lower-case names). */
  headers: IncomingHttpHeaders
  /** Parsed JSON body, the raw text for other content types, or undefined. */
  body: unknown
  /** The authenticated user. */
  user: { id: string; username: string }
}

/** What an Apex route handler returns. */
export interface ApexResponse {
  /** HTTP status; default 200 (204 when there is no body). */
  status?: number
  /** JSON-serialised body (Apex REST serialises return values as JSON). */
  body?: unknown
  /** Extra response headers. */
  headers?: Record<string, string>
}

/** An Apex REST handler. A thrown error becomes a 500 `APEX_ERROR`, like an uncaught exception. */
export type ApexHandler = (req: ApexRequest) => ApexResponse | Promise<ApexResponse>

interface Route {
  method: string
  pattern: string
  handler: ApexHandler
}

/** The Apex routes of one org. */
export class ApexRoutes {
  readonly #routes: Route[] = []

  /**
   * Registers a handler; a later registration of the same method and pattern replaces it.
   *
   * @example routes.register('GET', '/Invoices/*', (req) => ({ body: { path: req.path } }))
   */
  register(method: string, pattern: string, handler: ApexHandler): void {
    const m = method.toUpperCase()
    if (!/^(GET|POST|PUT|PATCH|DELETE|HEAD)$/.test(m))
      throw new TypeError(`unsupported Apex REST method ${method}`)
    if (!pattern.startsWith('/'))
      throw new TypeError(`Apex REST pattern must start with '/': ${pattern}`)
    const existing = this.#routes.findIndex((r) => r.method === m && r.pattern === pattern)
    if (existing >= 0) this.#routes.splice(existing, 1)
    this.#routes.push({ method: m, pattern, handler })
  }

  /** The handler for a request, or `'method-not-allowed'` when only other methods match. */
  match(method: string, path: string): ApexHandler | 'method-not-allowed' | undefined {
    const candidates = this.#routes.filter((r) => matches(r.pattern, path))
    if (candidates.length === 0) return undefined
    const exact = candidates
      .filter((r) => r.method === method.toUpperCase())
      .sort((a, b) => b.pattern.length - a.pattern.length)[0]
    return exact?.handler ?? 'method-not-allowed'
  }
}

function matches(pattern: string, path: string): boolean {
  if (pattern.endsWith('/*')) {
    const base = pattern.slice(0, -2)
    return path === base || path.startsWith(`${base}/`)
  }
  return pattern === path
}
