import {
  buildAuthorizationUrl,
  createAuthorizationRequest,
  validateCallback,
} from '../auth/authorization-code.ts'
import type { AuthDeps } from '../auth/deps.ts'
import { defaultEndpointCache, resolveEndpoints, type EndpointCache } from '../auth/endpoints.ts'
import {
  authorizationCodeGrant,
  clientCredentialsGrant,
  jwtBearerGrant,
  passwordGrant,
  refreshTokenGrant,
} from '../auth/oauth2-grants.ts'
import { fetchIdentity } from '../auth/identity.ts'
import { revokeToken } from '../auth/revocation.ts'
import type { ProviderEndpoints, TokenSet } from '../auth/types.ts'
import type { OAuthFlow } from '../definitions/model.ts'
import { CalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import type {
  AuthorizationCodeExchange,
  AuthorizationRequest,
  AuthorizationRequestOptions,
  GrantContext,
  TokenGrants,
} from './types.ts'

/** Options for {@link createAuthGrants}. */
export interface AuthGrantsOptions extends AuthDeps {
  /** Endpoint (discovery) cache. Default: the process-wide one. */
  readonly endpointCache?: EndpointCache
}

/** The grants that mint a token without a user present, by flow. */
const MINTING_GRANTS: Partial<Record<OAuthFlow, typeof jwtBearerGrant>> = {
  'client-credentials': clientCredentialsGrant,
  'jwt-bearer': jwtBearerGrant,
  password: passwordGrant,
}

function providerOf(ctx: GrantContext): NonNullable<GrantContext['provider']> {
  if (ctx.provider === undefined) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `ExternalCredential ${ctx.ec.name} uses oauth2 but has no AuthProvider; set authProvider.`,
      { details: { externalCredential: ctx.ec.name } },
    )
  }
  return ctx.provider
}

/**
 * The {@link TokenGrants} the token manager uses, over `src/auth` (oauth4webapi and jose):
 * `mint` runs the client-credentials, jwt-bearer or password grant; `refresh` the refresh-token
 * grant; `authorizationRequest` and `exchangeCode` the two halves of the browser flow; `revoke`
 * RFC 7009 revocation. Endpoints are resolved per provider (Salesforce defaults, OIDC discovery,
 * cached).
 *
 * @example
 * const tokens = new TokenManager({ store, grants: createAuthGrants({ clock }) })
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export function createAuthGrants(options: AuthGrantsOptions = {}): TokenGrants {
  const { endpointCache = defaultEndpointCache, ...deps } = options
  const endpointsFor = (ctx: GrantContext) =>
    resolveEndpoints(providerOf(ctx), { ...deps, cache: endpointCache })
  return {
    async mint(ctx: GrantContext): Promise<TokenSet> {
      const provider = providerOf(ctx)
      const endpoints = await endpointsFor(ctx)
      const grant = MINTING_GRANTS[ctx.ec.flow ?? 'browser']
      if (grant !== undefined) {
        const tokenSet = await grant(provider, endpoints, ctx.ec, ctx.principal, deps, ctx.userId)
        return withIdentity(ctx, endpoints, tokenSet, deps)
      }
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `The ${ctx.ec.flow ?? 'missing'} flow of ExternalCredential ${ctx.ec.name} cannot mint a token without a user; authenticate it with \`callout auth\`.`,
      )
    },
    async refresh(ctx: GrantContext, refreshToken: Secret): Promise<TokenSet> {
      const provider = providerOf(ctx)
      return refreshTokenGrant(
        provider,
        await endpointsFor(ctx),
        ctx.ec,
        ctx.principal,
        refreshToken,
        deps,
      )
    },
    async authorizationRequest(
      ctx: GrantContext,
      options: AuthorizationRequestOptions,
    ): Promise<AuthorizationRequest> {
      const provider = providerOf(ctx)
      const endpoints = await endpointsFor(ctx)
      const scope = ctx.ec.scope ?? provider.defaultScopes ?? ''
      const oidc = provider.type === 'oidc' || /(?:^|\s)openid(?:\s|$)/.test(scope)
      const secrets = await createAuthorizationRequest({ oidc })
      const url = buildAuthorizationUrl({
        provider,
        endpoints,
        externalCredential: ctx.ec,
        redirectUri: options.redirectUri,
        state: secrets.state,
        ...(provider.usePkce ? { codeChallenge: secrets.codeChallenge } : {}),
        ...(secrets.nonce === undefined ? {} : { nonce: secrets.nonce }),
        ...(options.prompt === undefined ? {} : { prompt: options.prompt }),
        ...(options.loginHint === undefined ? {} : { loginHint: options.loginHint }),
      })
      return {
        url,
        state: secrets.state,
        ...(provider.usePkce ? { codeVerifier: new Secret(secrets.codeVerifier) } : {}),
        ...(secrets.nonce === undefined ? {} : { nonce: secrets.nonce }),
      }
    },
    async exchangeCode(ctx: GrantContext, exchange: AuthorizationCodeExchange): Promise<TokenSet> {
      const provider = providerOf(ctx)
      const endpoints = await endpointsFor(ctx)
      const code = validateCallback(exchange.callback, exchange.state, {
        redirectUri: exchange.redirectUri,
        ...(endpoints.issuer === undefined || provider.type !== 'oidc'
          ? {}
          : { expectedIssuer: endpoints.issuer }),
      })
      const tokenSet = await authorizationCodeGrant(
        provider,
        endpoints,
        ctx.ec,
        ctx.principal,
        {
          code,
          redirectUri: exchange.redirectUri,
          ...(exchange.codeVerifier === undefined
            ? {}
            : { codeVerifier: exchange.codeVerifier.reveal() }),
          ...(exchange.nonce === undefined ? {} : { nonce: exchange.nonce }),
        },
        deps,
      )
      const identity = await fetchIdentity(provider, endpoints, tokenSet, deps)
      return { ...tokenSet, identity }
    },
    async revoke(ctx, token, tokenType) {
      const endpoints = await endpointsFor(ctx)
      if (endpoints.revokeUrl === undefined) return 'no-endpoint'
      return revokeToken(providerOf(ctx), endpoints, token, tokenType, deps)
    },
  }
}

/**
 * Completes a minted token's identity (what "Authenticated as <username>" shows): Salesforce
 * tokens name their identity URL (`id`), which is read once per mint; for the other providers
 * the user-bound flows (jwt-bearer, password) read userinfo. Falls back to the principal's
 * `username` parameter. Never fails the mint: identity is informational.
 */
async function withIdentity(
  ctx: GrantContext,
  endpoints: ProviderEndpoints,
  tokenSet: TokenSet,
  deps: AuthDeps,
): Promise<TokenSet> {
  const provider = ctx.provider
  if (provider === undefined || tokenSet.identity?.username !== undefined) return tokenSet
  const lookUp = provider.type === 'salesforce' || ctx.ec.flow !== 'client-credentials'
  const identity = lookUp
    ? await fetchIdentity(provider, endpoints, tokenSet, deps)
    : (tokenSet.identity ?? {})
  const fallback =
    ctx.ec.flow === 'client-credentials' ? undefined : ctx.principal.parameters.username
  const username = identity.username ?? fallback
  return {
    ...tokenSet,
    identity: { ...identity, ...(username === undefined ? {} : { username }) },
  }
}
