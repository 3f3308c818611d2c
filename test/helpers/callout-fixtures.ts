/**
 * Definition builders for tests of the token manager and the callout pipeline.
 */
import type {
  AuthProvider,
  Definitions,
  ExternalCredential,
  NamedCredential,
  Principal,
} from '../../src/definitions/model.ts'
import { Secret } from '../../src/secrets/secret.ts'

export function principal(overrides: Partial<Principal> = {}): Principal {
  return { name: 'Default', type: 'named', sequence: 1, parameters: {}, secrets: {}, ...overrides }
}

export function authProvider(overrides: Partial<AuthProvider> = {}): AuthProvider {
  return {
    name: 'Provider',
    type: 'oauth2',
    consumerKey: 'client-id',
    consumerSecret: new Secret('client-secret'),
    tokenUrl: 'http://127.0.0.1:1/token',
    usePkce: true,
    clientAuth: 'client_secret_post',
    allowInsecureHttp: false,
    ...overrides,
  }
}

export function externalCredential(
  overrides: Partial<ExternalCredential> = {},
): ExternalCredential {
  return {
    name: 'Api',
    protocol: 'oauth2',
    flow: 'client-credentials',
    authProvider: 'Provider',
    additionalRefreshStatusCodes: [],
    authHeaders: [],
    principals: [principal()],
    ...overrides,
  }
}

export function namedCredential(overrides: Partial<NamedCredential> = {}): NamedCredential {
  return {
    name: 'Api',
    label: 'Api',
    url: 'https://api.example.com/v1',
    externalCredential: 'Api',
    generateAuthorizationHeader: true,
    allowMergeFieldsInHeader: false,
    allowMergeFieldsInBody: false,
    headers: [],
    timeoutMs: 10_000,
    redirects: 'follow-trusted',
    allowedHosts: [],
    allowRedirectsOutsideBasePath: false,
    enabled: true,
    allowInsecureHttp: false,
    ...overrides,
  }
}

export function definitions(parts: {
  authProviders?: AuthProvider[]
  externalCredentials?: ExternalCredential[]
  namedCredentials?: NamedCredential[]
}): Definitions {
  return {
    authProviders: new Map((parts.authProviders ?? []).map((d) => [d.name, d])),
    externalCredentials: new Map((parts.externalCredentials ?? []).map((d) => [d.name, d])),
    namedCredentials: new Map((parts.namedCredentials ?? []).map((d) => [d.name, d])),
  }
}

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public nowMs = 1_700_000_000_000) {}
  now(): number {
    return this.nowMs
  }
  advance(ms: number): void {
    this.nowMs += ms
  }
}
