/**
 * A real OpenID Connect / OAuth 2.0 authorization server for tests: oidc-provider 9 running
 * in-process on `127.0.0.1`, port 0. Reused by the auth, token manager and end-to-end tests.
 *
 * It supports `client_credentials`, `authorization_code` + PKCE with `refresh_token` (rotation on
 * by default), client authentication `client_secret_basic`, `client_secret_post`,
 * `private_key_jwt` and `none`, revocation and introspection. The login and consent pages are
 * oidc-provider's development interactions; {@link OidcTestServer.authorize} drives them over
 * plain HTTP with a small cookie jar, so no browser is needed.
 *
 * @example
 * const server = await startOidcServer({
 *   clients: [{ clientId: 'app', clientSecret: 's3cret', grantTypes: ['client_credentials'] }],
 * })
 * try {
 *   // server.issuer, server.tokenUrl, server.tokenRequests ...
 * } finally {
 *   await server.close()
 * }
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import Provider from 'oidc-provider'

/** Token endpoint authentication methods the test server accepts. */
export type TestClientAuthMethod =
  'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none'

/** One client registered with the test server. */
export interface TestClient {
  readonly clientId: string
  /** Required for `client_secret_basic` / `client_secret_post`. */
  readonly clientSecret?: string
  /** Default: `client_secret_basic` when a secret is given, else `none`. */
  readonly authMethod?: TestClientAuthMethod
  /** Default `['authorization_code', 'refresh_token']`. */
  readonly grantTypes?: readonly ('authorization_code' | 'refresh_token' | 'client_credentials')[]
  /** Redirect URIs for the authorization code flow. Default `['http://127.0.0.1/callback']`. */
  readonly redirectUris?: readonly string[]
  /** Public JWKS (for `private_key_jwt`): the keys the client signs its assertions with. */
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] }
}

/** Options for {@link startOidcServer}. */
export interface OidcServerOptions {
  readonly clients: readonly TestClient[]
  /** Lifetimes in seconds. Defaults: access token 3600, client credentials 3600, refresh 86400. */
  readonly ttl?: {
    readonly accessTokenSeconds?: number
    readonly clientCredentialsSeconds?: number
    readonly refreshTokenSeconds?: number
  }
  /** Rotate refresh tokens on every use (the old one then fails with `invalid_grant`). Default true. */
  readonly rotateRefreshToken?: boolean
  /**
   * Issue a refresh token for clients allowed the `refresh_token` grant even without
   * `offline_access` in the scope. Default true (oidc-provider's own default needs offline_access).
   */
  readonly alwaysIssueRefreshToken?: boolean
}

/** Options for {@link OidcTestServer.authorize}. */
export interface AuthorizeOptions {
  /** The account id to log in as (becomes `sub`). Default `'alice'`. */
  readonly login?: string
  /** Abort the interaction instead of consenting (the callback gets `error=access_denied`). */
  readonly deny?: boolean
  /**
   * Reuse the login session (cookies) of earlier `authorize` calls, so a second authorization
   * may complete without any interaction. Default false: every call starts with an empty jar.
   */
  readonly keepSession?: boolean
}

/** A running test server. Close it in `afterAll`. */
export interface OidcTestServer {
  /** `http://127.0.0.1:<port>` — also the discovery base. */
  readonly issuer: string
  readonly tokenUrl: string
  readonly authorizeUrl: string
  readonly revokeUrl: string
  readonly introspectUrl: string
  readonly userInfoUrl: string
  /** The oidc-provider instance, for advanced assertions and event listeners. */
  readonly provider: Provider
  /** Number of POSTs to the token endpoint since start (or {@link resetCounters}). */
  readonly tokenRequests: number
  /** Resets {@link tokenRequests} to 0. */
  resetCounters(): void
  /**
   * Drives a full authorization request over HTTP: follows the authorization URL, logs in
   * through the dev interaction form, consents, and returns the final redirect to the client's
   * `redirect_uri` (with `code` and `state`, or `error`). Throws when the flow does not end at a
   * redirect outside the issuer.
   */
  authorize(authorizationUrl: URL | string, options?: AuthorizeOptions): Promise<URL>
  /** Revokes a token through the revocation endpoint (RFC 7009) as the given client. */
  revoke(token: string, client: { clientId: string; clientSecret: string }): Promise<void>
  close(): Promise<void>
}

const ACCOUNT_CLAIMS = (sub: string): Record<string, unknown> => ({
  sub,
  email: `${sub}@example.test`,
  email_verified: true,
  preferred_username: `${sub}@example.test`,
  name: sub,
})

/**
 * Starts an oidc-provider 9 authorization server on `127.0.0.1`, port 0.
 *
 * @see https://github.com/panva/node-oidc-provider
 */
export async function startOidcServer(options: OidcServerOptions): Promise<OidcTestServer> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const issuer = `http://127.0.0.1:${port}`
  const ttl = options.ttl ?? {}
  const alwaysIssueRefreshToken = options.alwaysIssueRefreshToken ?? true
  const rotate = options.rotateRefreshToken ?? true

  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => {
      const method = c.authMethod ?? (c.clientSecret === undefined ? 'none' : 'client_secret_basic')
      const grantTypes = [...(c.grantTypes ?? ['authorization_code', 'refresh_token'])]
      const usesCode = grantTypes.includes('authorization_code')
      return {
        client_id: c.clientId,
        ...(c.clientSecret === undefined ? {} : { client_secret: c.clientSecret }),
        token_endpoint_auth_method: method,
        grant_types: grantTypes,
        response_types: usesCode ? ['code'] : [],
        redirect_uris: usesCode ? [...(c.redirectUris ?? ['http://127.0.0.1/callback'])] : [],
        ...(c.jwks === undefined ? {} : { jwks: { keys: [...c.jwks.keys] } }),
      }
    }),
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
    },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
    },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ACCOUNT_CLAIMS(id),
    }),
    ttl: {
      AccessToken: ttl.accessTokenSeconds ?? 3600,
      ClientCredentials: ttl.clientCredentialsSeconds ?? 3600,
      RefreshToken: ttl.refreshTokenSeconds ?? 86_400,
      AuthorizationCode: 60,
      Grant: 86_400,
      Interaction: 600,
      Session: 86_400,
      IdToken: 3600,
    },
    rotateRefreshToken: () => rotate,
    issueRefreshToken: (
      _ctx: unknown,
      client: { grantTypeAllowed(t: string): boolean },
      code: { scopes: Set<string> },
    ) =>
      client.grantTypeAllowed('refresh_token') &&
      (alwaysIssueRefreshToken || code.scopes.has('offline_access')),
    pkce: { required: () => true },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    // Silence oidc-provider's own error rendering noise; errors still reach the client.
    renderError: (ctx: { type: string; body: unknown }, out: Record<string, unknown>) => {
      ctx.type = 'json'
      ctx.body = out
    },
  } as ConstructorParameters<typeof Provider>[1])

  let tokenRequests = 0
  const callback = provider.callback()
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && (req.url ?? '').split('?')[0] === '/token') tokenRequests++
    callback(req, res)
  })

  const jar = new Map<string, string>()

  async function step(url: URL, init: RequestInit = {}): Promise<Response> {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const headers = new Headers(init.headers)
    if (cookie !== '') headers.set('cookie', cookie)
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? ''
      const eq = pair.indexOf('=')
      if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
    }
    return res
  }

  async function authorize(
    authorizationUrl: URL | string,
    opts: AuthorizeOptions = {},
  ): Promise<URL> {
    const login = opts.login ?? 'alice'
    if (opts.keepSession !== true) jar.clear()
    let url = new URL(authorizationUrl)
    for (let hop = 0; hop < 20; hop++) {
      if (url.origin !== issuer) return url
      const match = /^\/interaction\/([^/]+)$/.exec(url.pathname)
      let res: Response
      if (match === null) {
        res = await step(url)
      } else {
        const uid = match[1] ?? ''
        const page = await (await step(url)).text()
        if (opts.deny === true) {
          res = await step(new URL(`/interaction/${uid}/abort`, issuer))
        } else {
          const prompt = page.includes('name="login"') ? 'login' : 'consent'
          const body = new URLSearchParams({ prompt, login, password: 'any' })
          res = await step(new URL(`/interaction/${uid}`, issuer), {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          })
        }
      }
      const location = res.headers.get('location')
      await res.body?.cancel()
      if (location === null) {
        throw new Error(`authorization flow stopped at ${url.pathname} with HTTP ${res.status}`)
      }
      url = new URL(location, url)
    }
    throw new Error('authorization flow did not finish within 20 redirects')
  }

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    authorizeUrl: `${issuer}/auth`,
    revokeUrl: `${issuer}/token/revocation`,
    introspectUrl: `${issuer}/token/introspection`,
    userInfoUrl: `${issuer}/me`,
    provider,
    get tokenRequests() {
      return tokenRequests
    },
    resetCounters() {
      tokenRequests = 0
    },
    authorize,
    async revoke(token, client) {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(
            `${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`,
          ).toString('base64')}`,
        },
        body: new URLSearchParams({ token }),
      })
      await res.body?.cancel()
      if (res.status !== 200) throw new Error(`revocation failed with HTTP ${res.status}`)
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((err) => (err ? reject(err) : resolve()))
      }),
  }
}
