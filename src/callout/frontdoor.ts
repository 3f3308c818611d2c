/**
 * `broker.frontdoorUrl(name, { path, user })`: exchanges a Salesforce Named Credential's access
 * token for a single-use frontdoor URL (the UI Bridge API, `POST /services/oauth2/singleaccess`)
 * that logs a browser into the org and lands on `path`. The token itself never leaves the broker;
 * the URL it returns is a one-time login link and is never logged.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.frontdoor_singleaccess.htm&type=5
 */
import type { Definitions } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import { resolveTarget } from './steps/resolve-target.ts'

/** Options of `broker.frontdoorUrl`. */
export interface FrontdoorOptions {
  /** Where the browser lands, relative to the org: `/lightning/r/Account/001…/edit`, `/001…/e`. */
  readonly path: string
  /** The end user, for per-user principals (required for them). */
  readonly user?: string
}

/** The scopes of which a Salesforce token needs one to open UI sessions. */
export const UI_SESSION_SCOPES: readonly string[] = Object.freeze(['web', 'full'])

/** The UI Bridge endpoint, relative to the org. */
export const SINGLE_ACCESS_PATH = '/services/oauth2/singleaccess'

const MAX_PATH_LENGTH = 2048

/**
 * Checks that `path` is a path on the org (the only kind of landing page a frontdoor URL may
 * name), else throws `FRONTDOOR_PATH_INVALID` with `details.rule`.
 *
 * @example
 * assertOrgPath('/lightning/r/Account/001000000000001AAA/view') // ok
 * assertOrgPath('https://evil.example/') // throws FRONTDOOR_PATH_INVALID (rule not-relative)
 */
export function assertOrgPath(path: unknown): asserts path is string {
  const fail = (rule: string, why: string): never => {
    throw new CalloutError(
      'FRONTDOOR_PATH_INVALID',
      `The frontdoor landing path ${why}; pass a path on the org such as /lightning/r/Account/<id>/view.`,
      { details: { rule } },
    )
  }
  if (typeof path !== 'string' || path === '') return fail('empty', 'is empty')
  if (path.length > MAX_PATH_LENGTH)
    return fail('too-long', `is longer than ${MAX_PATH_LENGTH} characters`)
  if (/[\u0000-\u001f\u007f]/.test(path))
    return fail('control-chars', 'contains a control character (CR, LF, tab or NUL)')
  if (path.includes('\\')) return fail('backslash', 'contains a backslash')
  if (path.startsWith('//')) return fail('scheme-relative', 'starts with // (another host)')
  if (!path.startsWith('/'))
    return fail('not-relative', 'is not relative to the org (it must start with /)')
}

/** The scopes a credential asks for (`scope`, else the AuthProvider's defaults), or undefined. */
function configuredScopes(scope: string | undefined): string[] | undefined {
  const list = (scope ?? '').split(/\s+/).filter((s) => s !== '')
  return list.length === 0 ? undefined : list
}

function scopeMissing(name: string, detail: Record<string, unknown>): CalloutError {
  return new CalloutError(
    'FRONTDOOR_SCOPE_MISSING',
    `Named Credential ${name} cannot open UI sessions: its token needs the web scope (or full). Add web to the ExternalCredential's scope and to the connected app's selected OAuth scopes, apply, and authenticate again.`,
    { details: { namedCredential: name, ...detail } },
  )
}

/** What `frontdoorUrl` needs from the broker: definitions and a callout through the pipeline. */
export interface FrontdoorDeps {
  readonly definitions: Definitions
  /**
   * A callout through the pipeline (authentication, refresh once on 401 and retry, redirects,
   * timeouts) over {@link atOrgOrigin}`(definitions)`: `callout:<Name>/services/oauth2/singleaccess`
   * goes to the org's origin, whatever path the Named Credential's URL has.
   */
  readonly fetch: (
    input: string,
    init: { method: string; headers: Record<string, string>; body: string; user?: string },
  ) => Promise<Response>
}

/**
 * Obtains a frontdoor URL for a Salesforce Named Credential. See `Broker.frontdoorUrl`.
 *
 * @example
 * const url = await frontdoorUrl({ definitions, fetch: broker.fetch.bind(broker) }, 'Target', { path: '/001…/e' })
 */
export async function frontdoorUrl(
  deps: FrontdoorDeps,
  name: string,
  options: FrontdoorOptions,
): Promise<string> {
  assertOrgPath((options as Partial<FrontdoorOptions> | undefined)?.path)
  const user = options.user === undefined ? {} : { user: options.user }
  const target = resolveTarget(deps.definitions, `callout:${name}`, user)
  if (
    target.kind !== 'credential' ||
    target.externalCredential.protocol !== 'oauth2' ||
    target.provider?.type !== 'salesforce'
  ) {
    const uses =
      target.kind !== 'credential'
        ? 'no credential'
        : target.externalCredential.protocol !== 'oauth2'
          ? `protocol ${target.externalCredential.protocol}`
          : `an AuthProvider of type ${target.provider?.type ?? 'none'}`
    throw new CalloutError(
      'FRONTDOOR_NOT_SALESFORCE',
      `Frontdoor URLs open Salesforce orgs only; Named Credential ${name} uses ${uses}. Name a Named Credential whose AuthProvider has type salesforce.`,
      { details: { namedCredential: name } },
    )
  }
  const scopes = configuredScopes(target.externalCredential.scope ?? target.provider.defaultScopes)
  if (scopes !== undefined && !scopes.some((s) => UI_SESSION_SCOPES.includes(s))) {
    throw scopeMissing(name, { scopes })
  }
  const res = await deps.fetch(`callout:${name}${SINGLE_ACCESS_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ redirect_uri: options.path }).toString(),
    ...user,
  })
  const text = await res.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}
  const error = typeof fields['error'] === 'string' ? fields['error'] : undefined
  if (res.status === 403 && error === 'insufficient_scope')
    throw scopeMissing(name, { status: 403, error })
  const uri = fields['frontdoor_uri']
  if (res.status === 200 && typeof uri === 'string' && isHttpUrl(uri)) return uri
  throw new CalloutError(
    'FRONTDOOR_FAILED',
    `The org did not answer the UI Bridge request of Named Credential ${name} with a frontdoor URL (HTTP ${res.status}${error === undefined ? '' : `, ${error}`}).`,
    {
      details: {
        namedCredential: name,
        status: res.status,
        ...(error === undefined ? {} : { error }),
      },
    },
  )
}

const originSnapshots = new WeakMap<Definitions, Definitions>()

/**
 * `defs` with each Named Credential's URL cut to its origin (`https://acme.my.salesforce.com/services/data/v61.0`
 * → `https://acme.my.salesforce.com`): the UI Bridge endpoint lives on the org's origin, so a
 * Named Credential whose URL has a path still reaches it. Memoised per snapshot (definitions
 * are immutable and replaced on apply), so the pipeline's per-snapshot caches stay valid.
 *
 * @example
 * const pipeline = new CalloutPipeline({ ...deps, definitions: () => atOrgOrigin(broker.definitions) })
 */
export function atOrgOrigin(defs: Definitions): Definitions {
  let derived = originSnapshots.get(defs)
  if (derived === undefined) {
    const namedCredentials = new Map(
      [...defs.namedCredentials].map(([name, nc]) => {
        const origin = URL.canParse(nc.url) ? new URL(nc.url).origin : nc.url
        return [name, origin === nc.url ? nc : Object.freeze({ ...nc, url: origin })] as const
      }),
    )
    derived = Object.freeze({ ...defs, namedCredentials })
    originSnapshots.set(defs, derived)
  }
  return derived
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'https:' || url.protocol === 'http:'
  } catch {
    return false
  }
}
