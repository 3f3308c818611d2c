/**
 * Callout: Named Credentials for TypeScript. The public surface — everything a user imports
 * from `callout`; nothing else is reachable (package.json `exports` maps only `.`).
 *
 * @example
 * import { openBroker, isCalloutError } from 'callout'
 * const broker = await openBroker()
 * try {
 *   const res = await broker.fetch('callout:Salesforce/services/data/v61.0/')
 *   console.log(await res.json())
 * } catch (e) {
 *   if (isCalloutError(e, 'NEEDS_REAUTH')) console.error(e.message)
 * } finally {
 *   await broker.close()
 * }
 */

// The broker
export { openBroker } from './callout/open-broker.ts'
export type { OpenBrokerOptions } from './callout/open-broker.ts'
export { Broker } from './callout/broker.ts'
export type {
  BrokerEvents,
  CalloutRequestInit,
  CalloutRequestOptions,
  RevokeOptions,
  RevokeResult,
} from './callout/broker.ts'
export type { Revocation } from './tokens/token-manager.ts'
export type {
  CalloutOptions,
  CalloutResponse,
  ResponseBody,
  ResponseHeaders,
} from './callout/types.ts'
export type { StatusReport, PrincipalStatus, PrincipalState } from './callout/status-report.ts'
export type { AuthorizeUrlOptions, AuthorizationCallback } from './callout/browser-authorization.ts'
export type { FrontdoorOptions } from './callout/frontdoor.ts'
export { CONNECT_LINK_DEFAULTS } from './callout/connect-links.ts'
export type { ConnectUrlOptions } from './callout/connect-links.ts'
export type { AccessPolicy } from './callout/steps/check-access.ts'
export { ADVICE_HEADER } from './callout/steps/refresh-trigger.ts'
export { parseCalloutUrl } from './callout/callout-url.ts'
export type { CalloutUrlRule, ParsedCalloutUrl, PlainUrl } from './callout/callout-url.ts'

// Errors
export { CalloutError, ERROR_CATALOGUE, httpStatusFor, isCalloutError } from './errors.ts'
export type { CalloutErrorOptions, ErrorCode } from './errors.ts'

// Secrets, time, logging, tokens
export { Secret } from './secrets/secret.ts'
export type { Clock } from './clock.ts'
export { systemClock } from './clock.ts'
export type { Logger, TokenEvents, TokenEventName } from './tokens/types.ts'

// Definitions
export { loadConfigFile, parseConfig } from './definitions/config-file.ts'
export type { LoadConfigOptions, ParseConfigOptions } from './definitions/config-file.ts'
export { DEFAULTS, NAME_PATTERN } from './definitions/model.ts'
export type {
  AuthProvider,
  AuthProviderType,
  ClientAuthMethod,
  ClientCertificate,
  CredentialIdentity,
  CredentialKey,
  CredentialStatus,
  Definitions,
  ExternalCredential,
  FormulaHeader,
  JwtSettings,
  NamedCredential,
  OAuthFlow,
  Principal,
  PrincipalCredential,
  Protocol,
  RedirectPolicy,
  SigV4Settings,
} from './definitions/model.ts'
export type { ApplyResult, Store } from './store/types.ts'
