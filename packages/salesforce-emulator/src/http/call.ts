/** One request being answered: the parsed request line plus the org it is for. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { OrgState } from '../org/org-state.ts'
import { readBody } from './body.ts'

/** The per-request context every route handler receives. */
export class Call {
  readonly org: OrgState
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** Upper-case method. */
  readonly method: string
  /** Normalised path (repeated slashes collapsed, no trailing slash). */
  readonly path: string
  /** Decoded query string. Never logged. */
  readonly query: URLSearchParams
  /** The origin the request came in on, e.g. `http://127.0.0.1:4321`. */
  readonly origin: string
  /** `grant_type` of a token request, for the request log. */
  grantType: string | undefined
  #body: Promise<Buffer> | undefined

  /** The raw query string including `?`, or ''. Never logged. */
  readonly search: string

  constructor(
    org: OrgState,
    req: IncomingMessage,
    res: ServerResponse,
    target: { origin: string; path: string; search: string },
  ) {
    this.org = org
    this.req = req
    this.res = res
    this.method = (req.method ?? 'GET').toUpperCase()
    this.path = target.path
    this.search = target.search
    this.query = new URLSearchParams(target.search)
    this.origin = target.origin
  }

  /** The request body (read once, limited to the org's maximum size). */
  body(): Promise<Buffer> {
    this.#body ??= readBody(this.req, this.org.maxBodyBytes)
    return this.#body
  }
}
