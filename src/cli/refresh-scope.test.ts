import { describe, expect, it } from 'vitest'
import { parseConfig } from '../definitions/index.ts'

const P = { principals: { Admin: { type: 'named' } } }
import { refreshScopeProblem, refreshScopeWarnings } from './refresh-scope.ts'

const defs = parseConfig(
  {
    authProviders: {
      Sf: {
        type: 'salesforce',
        loginUrl: 'https://login.salesforce.com',
        consumerKey: 'k',
        consumerSecret: '${env:SF_SECRET}',
      },
      Oidc: { type: 'oidc', issuer: 'https://idp.example.com', consumerKey: 'k' },
      Plain: {
        type: 'oauth2',
        consumerKey: 'k',
        authorizeUrl: 'https://as.example.com/authorize',
        tokenUrl: 'https://as.example.com/token',
      },
    },
    externalCredentials: {
      SfApi: { protocol: 'oauth2', flow: 'browser', authProvider: 'Sf', scope: 'api', ...P },
      SfGood: {
        protocol: 'oauth2',
        flow: 'browser',
        authProvider: 'Sf',
        scope: 'refresh_token api',
        ...P,
      },
      OidcNone: { protocol: 'oauth2', flow: 'browser', authProvider: 'Oidc', ...P },
      OidcGood: {
        protocol: 'oauth2',
        flow: 'browser',
        authProvider: 'Oidc',
        scope: 'openid offline_access',
        ...P,
      },
      PlainApi: { protocol: 'oauth2', flow: 'browser', authProvider: 'Plain', scope: 'api', ...P },
      SfServer: {
        protocol: 'oauth2',
        flow: 'client-credentials',
        authProvider: 'Sf',
        ...P,
      },
    },
    namedCredentials: {
      Target: { url: 'https://acme.my.salesforce.com', externalCredential: 'SfApi' },
      Other: { url: 'https://acme.my.salesforce.com', externalCredential: 'OidcNone' },
    },
  },
  { env: { SF_SECRET: 'x' } },
)

describe('refreshScopeProblem', () => {
  const problem = (ec: string) =>
    refreshScopeProblem(
      defs.externalCredentials.get(ec)!,
      defs.authProviders.get(defs.externalCredentials.get(ec)!.authProvider!),
      'run callout auth X',
    )

  it('Salesforce without refresh_token: what and todo say different things', () => {
    const p = problem('SfApi')
    expect(p?.what).toBe(
      'the scope "api" lacks refresh_token: no refresh token is issued, so the credential stops working when the session times out (often 2 hours)',
    )
    expect(p?.todo).toBe(
      'add refresh_token to the scope (e.g. "refresh_token api") and allow "Perform requests at any time" on the Connected App, then run callout auth X',
    )
  })

  it('OpenID Connect without offline_access, and no scope at all', () => {
    expect(problem('OidcNone')?.what).toContain('the scope (none) lacks offline_access')
    expect(problem('OidcNone')?.todo).toBe(
      'add offline_access to the scope (e.g. "offline_access"), then run callout auth X',
    )
  })

  it('none for a good scope, a plain oauth2 provider, or a flow without a browser', () => {
    expect(problem('SfGood')).toBeUndefined()
    expect(problem('OidcGood')).toBeUndefined()
    expect(problem('PlainApi')).toBeUndefined()
    expect(problem('SfServer')).toBeUndefined()
  })
})

describe('refreshScopeWarnings', () => {
  it('one line per ExternalCredential, naming the config path and a Named Credential to authenticate', () => {
    expect(refreshScopeWarnings(defs)).toEqual([
      expect.stringMatching(
        /^externalCredentials\.SfApi: the scope "api" lacks refresh_token: .* — add refresh_token .*then run callout auth Target$/,
      ),
      expect.stringMatching(
        /^externalCredentials\.OidcNone: the scope \(none\) lacks offline_access: .*then run callout auth Other$/,
      ),
    ])
  })
})
