/**
 * Keeping SDKs on a credential port: absolute URLs in answers that point at the upstream (the
 * Named Credential's origin, the Salesforce token's `instance_url`, and the login host's identity
 * URLs) are rewritten to the port's origin, so a client never talks to the org directly. Off-origin
 * URLs are left alone (and the proxy never follows them).
 */
import type { Broker } from '../callout/broker.ts'

/** A place on the upstream that a credential port stands for. */
export interface UpstreamPlace {
  /** `scheme://host[:port]`, as `URL.origin` writes it. */
  readonly origin: string
  /** The Named Credential URL's path without a trailing `/` (`''` for the whole origin). */
  readonly basePath: string
  /** Only paths under this prefix map to the port (the login host: `/id/`). */
  readonly only?: string
}

/**
 * The port URL for an absolute upstream `url`, or `undefined` when it is on none of `places` (or
 * outside their base path).
 *
 * @example
 * portUrl('https://acme.my.salesforce.com/services/data/v61.0/', places, 'http://127.0.0.1:7071')
 * // 'http://127.0.0.1:7071/services/data/v61.0/'
 */
export function portUrl(
  url: string,
  places: readonly UpstreamPlace[],
  portOrigin: string,
): string | undefined {
  if (!/^https?:\/\//i.test(url)) return undefined
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  if (parsed.username !== '' || parsed.password !== '') return undefined
  // The rest of the URL as written (`v{version}` stays unencoded), after the authority.
  const written = url.replace(/^https?:\/\/[^/?#]*/i, '')
  const path = /^[^?#]*/.exec(written)?.[0] ?? ''
  for (const place of places) {
    if (parsed.origin !== place.origin) continue
    if (place.only !== undefined && !path.startsWith(place.only)) continue
    if (!isWithin(path, place.basePath) || !isWithin(parsed.pathname, place.basePath)) continue
    const rest = written.slice(place.basePath.length)
    return `${portOrigin}${rest.startsWith('/') ? rest : `/${rest}`}`
  }
  return undefined
}

function isWithin(path: string, basePath: string): boolean {
  return basePath === '' || path === basePath || path.startsWith(`${basePath}/`)
}

/**
 * A `Location` header as the client of a credential port should see it: absolute URLs on the
 * upstream become port URLs; a path-absolute `Location` under a base path loses that base path;
 * anything else (other origins, relative paths) is returned unchanged.
 *
 * @example
 * portLocation('https://api.example.com/v1/items/7', [{ origin: 'https://api.example.com', basePath: '/v1' }], 'http://127.0.0.1:7071')
 * // 'http://127.0.0.1:7071/items/7'
 */
export function portLocation(
  location: string,
  places: readonly UpstreamPlace[],
  portOrigin: string,
): string {
  const first = places[0]
  if (location.startsWith('/') && !location.startsWith('//') && first !== undefined) {
    if (first.basePath === '') return location
    return portUrl(`${first.origin}${location}`, [first], portOrigin) ?? location
  }
  return portUrl(location, places, portOrigin) ?? location
}

/**
 * Rewrites every string in a JSON value that is an absolute URL on the upstream (the `identity`
 * of `GET /services/data/vNN.0`, the `urls.*` and `profile` of identity answers).
 *
 * @example
 * portJson({ identity: 'https://login.salesforce.com/id/00D…/005…' }, places, 'http://127.0.0.1:7071')
 * // { identity: 'http://127.0.0.1:7071/id/00D…/005…' }
 */
export function portJson(
  value: unknown,
  places: readonly UpstreamPlace[],
  portOrigin: string,
): unknown {
  if (typeof value === 'string') return portUrl(value, places, portOrigin) ?? value
  if (Array.isArray(value)) return value.map((v) => portJson(v, places, portOrigin))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = portJson(v, places, portOrigin)
    return out
  }
  return value
}

/**
 * The places a credential port stands for: the Named Credential's URL; for Salesforce, the
 * `instance_url` of its token (same base path) and the identity URLs (`/id/…`) of its login host.
 *
 * @example
 * const places = await upstreamPlaces(broker, 'Target')
 */
export async function upstreamPlaces(
  broker: Broker,
  name: string,
  user?: string,
): Promise<UpstreamPlace[]> {
  const defs = broker.definitions
  const nc = defs.namedCredentials.get(name)
  if (nc === undefined) return []
  const base = new URL(nc.url)
  const basePath = base.pathname.replace(/\/+$/, '')
  const places: UpstreamPlace[] = [{ origin: base.origin, basePath }]
  const ec = defs.externalCredentials.get(nc.externalCredential)
  const provider =
    ec?.authProvider === undefined ? undefined : defs.authProviders.get(ec.authProvider)
  if (provider?.type !== 'salesforce') return places
  const [report] = await broker.status(name, user === undefined ? {} : { user })
  for (const principal of report?.principals ?? []) {
    if (principal.instanceUrl === undefined) continue
    try {
      const origin = new URL(principal.instanceUrl).origin
      if (!places.some((p) => p.origin === origin)) places.push({ origin, basePath })
    } catch {
      // A stored instance_url that does not parse stands for nothing.
    }
  }
  if (provider.loginUrl !== undefined && basePath === '') {
    places.push({ origin: new URL(provider.loginUrl).origin, basePath: '', only: '/id/' })
  }
  return places
}
