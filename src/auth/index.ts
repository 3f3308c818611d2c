/**
 * Authentication protocols: OAuth 2.0 grants and token responses, the browser flow, identity,
 * Basic, formulas and merge fields, per-call JWTs, SigV4 and mTLS. Imports only definitions and
 * secrets (DESIGN §9). The token manager is the only caller of the grant functions.
 */
export type { ProviderEndpoints, TokenSet } from './types.ts'
export {
  DEFAULT_AUTH_TIMEOUT_MS,
  MAX_AUTH_RESPONSE_BYTES,
  resolveAuthDeps,
  type AuthDeps,
  type AuthLogger,
  type FetchLike,
  type ResolvedAuthDeps,
} from './deps.ts'
export {
  DEFAULT_DISCOVERY_TTL_MS,
  EndpointCache,
  SALESFORCE_DEFAULT_LOGIN_URL,
  defaultEndpointCache,
  resolveEndpoints,
  type ResolveEndpointsOptions,
} from './endpoints.ts'
export {
  JWT_BEARER_GRANT_TYPE,
  SALESFORCE_MAX_ASSERTION_SECONDS,
  authorizationCodeGrant,
  buildJwtBearerAssertion,
  clientCredentialsGrant,
  defaultJwtBearerAudience,
  jwtBearerGrant,
  passwordGrant,
  refreshTokenGrant,
  type AuthorizationCodeInput,
} from './oauth2-grants.ts'
export {
  parseTokenJson,
  parseTokenResponse,
  readCappedText,
  readTokenResponse,
  salesforceIdentityFromIdUrl,
  sanitizeExcerpt,
  verifySalesforceSignature,
  type GrantKind,
  type RawTokenResponse,
  type TokenResponseContext,
} from './token-response.ts'
export {
  buildAuthorizationUrl,
  createAuthorizationRequest,
  validateCallback,
  type AuthorizationRequestSecrets,
  type AuthorizationUrlInput,
  type ValidateCallbackOptions,
} from './authorization-code.ts'
export { fetchIdentity } from './identity.ts'
export { basicAuthorization } from './basic.ts'
export {
  MAX_FORMULA_LENGTH,
  MAX_FORMULA_OUTPUT,
  assertHeaderSafe,
  compileFormula,
  evaluateFormula,
  evaluateHeaderFormula,
  mergeTemplate,
  type CompiledFormula,
  type FormulaContext,
  type FormulaNode,
} from './formula.ts'
export { MIN_HS256_SECRET_BYTES, signCallJwt } from './jwt-protocol.ts'
export {
  amzDate,
  sigV4CredentialsFromPrincipal,
  sigV4Encode,
  sigV4Sign,
  signSigV4,
  type SigV4Credentials,
  type SigV4Parts,
  type SigV4Request,
} from './sigv4.ts'
export { clientCertificateDispatcher } from './mtls.ts'
export { importPrivateKeyPem, type AsymmetricAlg } from './private-key.ts'
export { isAcceptableServerUrl, isLoopbackUrl, mayUseInsecureHttp } from './url-safety.ts'
export { checkFormulas } from './formula-check.ts'
