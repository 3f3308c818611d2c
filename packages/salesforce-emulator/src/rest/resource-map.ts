/**
 * `GET /services/data/vNN.0`: resource name → relative URL, except `identity`, which is the
 * absolute identity URL of the calling user.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_discoveryresource.htm
 */

const RESOURCES = [
  'tooling',
  'metadata',
  'folders',
  'eclair',
  'prechatForms',
  'chatter',
  'tabs',
  'appMenu',
  'quickActions',
  'queryAll',
  'commerce',
  'wave',
  'iot',
  'analytics',
  'search',
  'identity',
  'composite',
  'parameterizedSearch',
  'fingerprint',
  'theme',
  'nouns',
  'event',
  'serviceTemplates',
  'recent',
  'connect',
  'licensing',
  'limits',
  'process',
  'dedupe',
  'async-queries',
  'query',
  'jobs',
  'localizedvalue',
  'mobile',
  'emailConnect',
  'consent',
  'tokenizer',
  'compactLayouts',
  'sobjects',
  'actions',
  'support',
] as const

/** The resource map for a version and the caller's identity URL. */
export function resourceMap(version: string, identityUrl: string): Record<string, string> {
  const map: Record<string, string> = {}
  for (const name of RESOURCES) {
    map[name] = name === 'identity' ? identityUrl : `/services/data/v${version}/${name}`
  }
  return map
}
