/**
 * The config file the `callout serve` process tests apply: one OAuth 2.0 client-credentials
 * External Credential (`Api`) whose client secret is read from an environment variable, and
 * Named Credentials under `<upstream>/api`.
 */

/**
 * The config file's text.
 *
 * @example
 * await writeText(dir, 'callout.json', serveConfig(tokens.tokenUrl, upstream.origin, ['Api'], 'SECRET'))
 */
export function serveConfig(
  tokenUrl: string,
  upstreamOrigin: string,
  names: readonly string[],
  secretEnv: string,
): string {
  return JSON.stringify({
    authProviders: {
      Provider: {
        type: 'oauth2',
        consumerKey: 'client-id',
        consumerSecret: `\${env:${secretEnv}}`,
        tokenUrl,
      },
    },
    externalCredentials: {
      Api: {
        protocol: 'oauth2',
        flow: 'client-credentials',
        authProvider: 'Provider',
        principals: { Default: { type: 'named' } },
      },
    },
    namedCredentials: Object.fromEntries(
      names.map((n) => [n, { url: `${upstreamOrigin}/api`, externalCredential: 'Api' }]),
    ),
  })
}
