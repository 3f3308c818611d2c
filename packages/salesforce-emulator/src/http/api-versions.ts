/**
 * The API versions the emulator serves: 31.0 (Summer '14) to 66.0 (Spring '26), two-digit majors
 * only (sfdx-core checks `/^[1-9]\d\.0$/`), including jsforce's default 50.0.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_versions.htm
 */

/** Oldest version served. */
export const MIN_API_VERSION = 31
/** Newest version served. */
export const MAX_API_VERSION = 66

const SEASONS = ['Winter', 'Spring', 'Summer'] as const

/** The release label of an API major version, e.g. 56 → `Winter '23`. */
export function releaseLabel(major: number): string {
  const offset = major - 56
  const season = SEASONS[((offset % 3) + 3) % 3]
  const year = 23 + Math.floor(offset / 3)
  return `${season} '${String(year).padStart(2, '0')}`
}

/** One entry of `GET /services/data`. */
export interface ApiVersion {
  label: string
  url: string
  version: string
}

/** The versions list, oldest first. */
export function apiVersions(): ApiVersion[] {
  const out: ApiVersion[] = []
  for (let v = MIN_API_VERSION; v <= MAX_API_VERSION; v++) {
    out.push({ label: releaseLabel(v), url: `/services/data/v${v}.0`, version: `${v}.0` })
  }
  return out
}

/** The version (`'61.0'`) of a `vNN.0` path segment, or undefined when not served. */
export function parseVersionSegment(segment: string): string | undefined {
  const match = /^v(\d{2})\.0$/.exec(segment)
  if (match === null) return undefined
  const major = Number(match[1])
  return major >= MIN_API_VERSION && major <= MAX_API_VERSION ? `${major}.0` : undefined
}
