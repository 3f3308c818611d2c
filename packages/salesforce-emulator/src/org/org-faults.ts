/** The fault switches and fault state of one org. */
import type { ConnectedApp } from './principals.ts'
import type { TokenStore } from './token-store.ts'
import type { FaultScope, FaultSwitches, LatencySettings } from './fault-switches.ts'

/** A pending injected failure. */
interface InjectedFailure {
  remaining: number
  status: number
  scope: FaultScope
}

/** Fault state of one org; the server reads it on every request. */
export class OrgFaults implements FaultSwitches {
  /** `instance_url` override for token responses. */
  instanceUrlOverride: string | undefined
  /** Origin REST calls are redirected to. */
  restRedirect: string | undefined
  ssoOnly = false
  sameOrgSso = false
  rateLimited = false
  blockedSession = false
  readonly latency: { tokenMs: number; restMs: number } = { tokenMs: 0, restMs: 0 }
  #failures: InjectedFailure[] = []
  readonly #tokens: TokenStore
  readonly #apps: ConnectedApp[]
  readonly #defaultRedirect: string

  constructor(tokens: TokenStore, apps: ConnectedApp[], defaultRedirect: string) {
    this.#tokens = tokens
    this.#apps = apps
    this.#defaultRedirect = defaultRedirect
  }

  expireSessions(): void {
    this.#tokens.expireAllAccessTokens()
  }

  expireAccessToken(token: string): boolean {
    return this.#tokens.expireAccessToken(token)
  }

  revokeRefreshTokens(): void {
    this.#tokens.revokeAllRefreshTokens()
  }

  setRotation(enabled: boolean): void {
    for (const app of this.#apps) app.rotation = enabled
  }

  setInstanceUrl(url: string | null): void {
    if (url !== null) assertOrigin(url, 'setInstanceUrl')
    this.instanceUrlOverride = url ?? undefined
  }

  setRestRedirect(to: string | null | true): void {
    if (to === null) {
      this.restRedirect = undefined
      return
    }
    const origin = to === true ? this.#defaultRedirect : to
    assertOrigin(origin, 'setRestRedirect')
    this.restRedirect = origin
  }

  setSsoOnly(enabled: boolean): void {
    this.ssoOnly = enabled
  }

  setSameOrgSso(enabled: boolean): void {
    this.sameOrgSso = enabled
  }

  setRateLimited(enabled: boolean): void {
    this.rateLimited = enabled
  }

  setLatency(latency: LatencySettings): void {
    if (latency.tokenMs !== undefined)
      this.latency.tokenMs = nonNegative(latency.tokenMs, 'tokenMs')
    if (latency.restMs !== undefined) this.latency.restMs = nonNegative(latency.restMs, 'restMs')
  }

  failNext(count: number, options: { status?: number; scope?: FaultScope } = {}): void {
    const status = options.status ?? 500
    if (!Number.isInteger(count) || count < 0)
      throw new RangeError('failNext(count) needs a non-negative integer')
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError('failNext status must be an HTTP error status (400-599)')
    }
    if (count > 0) this.#failures.push({ remaining: count, status, scope: options.scope ?? 'rest' })
  }

  setBlockedSession(enabled: boolean): void {
    this.blockedSession = enabled
  }

  reset(): void {
    this.instanceUrlOverride = undefined
    this.restRedirect = undefined
    this.ssoOnly = false
    this.sameOrgSso = false
    this.rateLimited = false
    this.blockedSession = false
    this.latency.tokenMs = 0
    this.latency.restMs = 0
    this.#failures = []
    for (const app of this.#apps) app.rotation = app.configuredRotation
  }

  /** Takes one injected failure for a request of class `kind`, returning its status. */
  takeFailure(kind: 'rest' | 'token'): number | undefined {
    const failure = this.#failures.find((f) => f.scope === 'any' || f.scope === kind)
    if (failure === undefined) return undefined
    failure.remaining--
    if (failure.remaining <= 0) this.#failures.splice(this.#failures.indexOf(failure), 1)
    return failure.status
  }
}

function assertOrigin(url: string, where: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(
      `${where}: expected an absolute origin such as https://acme.my.salesforce.com`,
    )
  }
  if (parsed.origin !== url) {
    throw new TypeError(
      `${where}: expected an origin with no path or trailing slash, e.g. ${parsed.origin}`,
    )
  }
}

function nonNegative(ms: number, name: string): number {
  if (!Number.isFinite(ms) || ms < 0 || ms > 600_000)
    throw new RangeError(`${name} must be 0..600000`)
  return ms
}
