/**
 * `GET /services/data/vNN.0`: resource name → relative URL, except `identity`, which is the
 * absolute identity URL of the calling user. Only resources the emulator serves are listed, in
 * the order Salesforce lists them.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_discoveryresource.htm
 */

const RESOURCES = [
  'tooling',
  'queryAll',
  'search',
  'identity',
  'composite',
  'parameterizedSearch',
  'recent',
  'limits',
  'query',
  'jobs',
  'sobjects',
] as const

/** The resource map for a version and the caller's identity URL. */
export function resourceMap(version: string, identityUrl: string): Record<string, string> {
  const map: Record<string, string> = {}
  for (const name of RESOURCES) {
    map[name] = name === 'identity' ? identityUrl : `/services/data/v${version}/${name}`
  }
  return map
}
