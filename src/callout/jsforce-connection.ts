/**
 * `broker.jsforce(name)`: a jsforce `Connection` whose session refresh goes through the broker
 * (single-flight in process, a lease across processes, rotated refresh tokens stored), so jsforce
 * code gets Named Credential behaviour without holding a refresh token or a client secret.
 */
import type { Clock } from '../clock.ts'
import type { Definitions } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import type { Secret } from '../secrets/secret.ts'
import type { TokenManager } from '../tokens/token-manager.ts'
import { apiOrigin } from './steps/api-origin.ts'
import { grantContextFor, resolveTarget } from './steps/resolve-target.ts'

/** Options of `broker.jsforce`. */
export interface JsforceOptions {
  /** The API version jsforce uses, e.g. `'61.0'`. Default `'61.0'`. */
  readonly version?: string
  /** The end user, for per-user principals. */
  readonly user?: string
  /**
   * A refresh asked for within this many ms of the previous one, for the token that refresh
   * returned, fails with `REFRESH_LOOP` instead of refreshing again (jsforce retries 401s without
   * a cap). Default 10 000.
   */
  readonly loopGuardMs?: number
}

/** The subset of jsforce's `ConnectionConfig` the broker sets. */
interface JsforceConfig {
  instanceUrl: string
  accessToken: string
  version: string
  refreshFn: (
    conn: { instanceUrl: string },
    callback: (error: Error | null, accessToken?: string, res?: unknown) => void,
  ) => void
}

/** What the helper needs from the broker. */
export interface JsforceDeps {
  readonly definitions: Definitions
  readonly tokens: TokenManager
  readonly clock: Clock
}

/**
 * Builds a jsforce `Connection` for a Salesforce Named Credential. jsforce is an optional peer
 * dependency: install `jsforce` (3.10.16 on Node 20) to use it. The access token lives in the
 * returned connection (jsforce sends it itself); the refresh token and client secret never leave
 * the broker.
 *
 * @example
 * const conn = await broker.jsforce('Target')
 * const { records } = await conn.query('SELECT Id, Name FROM Account')
 */
export async function jsforceConnection(
  deps: JsforceDeps,
  name: string,
  options: JsforceOptions = {},
): Promise<unknown> {
  const target = resolveTarget(
    deps.definitions,
    `callout:${name}`,
    options.user === undefined ? {} : { user: options.user },
  )
  if (target.kind !== 'credential' || target.externalCredential.protocol !== 'oauth2') {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `broker.jsforce needs an oauth2 Named Credential; ${name} uses ${target.kind === 'credential' ? target.externalCredential.protocol : 'no credential'}.`,
    )
  }
  let Connection: new (config: JsforceConfig) => unknown
  try {
    const mod = (await import('jsforce')) as unknown as {
      Connection?: typeof Connection
      default?: { Connection: typeof Connection }
    }
    const found = mod.Connection ?? mod.default?.Connection
    if (found === undefined) throw new Error('jsforce exports no Connection')
    Connection = found
  } catch (cause) {
    throw new CalloutError(
      'DEPENDENCY_MISSING',
      'broker.jsforce needs the optional jsforce package, which is not installed: run `npm install jsforce@3.10.16` (later 3.10.x need Node 22).',
      { cause },
    )
  }
  const ctx = grantContextFor(target)
  const loopGuardMs = options.loopGuardMs ?? 10_000
  const originOf = (instanceUrl: string | undefined): string =>
    apiOrigin(
      new URL(target.namedCredential.url),
      target.namedCredential,
      target.provider,
      instanceUrl,
    ).origin
  const first = await deps.tokens.getToken(ctx)
  let current: Secret = first.accessToken
  let refreshedAt = -Infinity
  let refreshedToken: Secret | undefined

  return new Connection({
    instanceUrl: originOf(first.instanceUrl),
    accessToken: current.reveal(),
    version: options.version ?? '61.0',
    refreshFn(conn, callback) {
      const now = deps.clock.now()
      if (
        refreshedToken !== undefined &&
        current.equals(refreshedToken) &&
        now - refreshedAt < loopGuardMs
      ) {
        callback(
          new CalloutError(
            'REFRESH_LOOP',
            `Salesforce rejected the token for ${name} that was refreshed ${now - refreshedAt} ms ago; refreshing again cannot help. Check the scopes (api), the instance URL and IP restrictions.`,
            { details: { namedCredential: name } },
          ),
        )
        return
      }
      deps.tokens.invalidate(ctx, current).then(
        (next) => {
          current = next.accessToken
          refreshedToken = next.accessToken
          refreshedAt = deps.clock.now()
          const origin = originOf(next.instanceUrl)
          if (conn.instanceUrl !== origin) conn.instanceUrl = origin
          callback(null, next.accessToken.reveal(), { instance_url: origin })
        },
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      )
    },
  })
}
