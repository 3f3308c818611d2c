/**
 * `@callout/salesforce-emulator`: a local Salesforce org for tests and development — connected
 * apps, users, an OAuth 2.0 server (authorization code + PKCE, refresh with rotation, password,
 * client credentials, JWT bearer, device), identity, a REST API subset, Apex REST routes and
 * fault switches. It never imports the broker.
 *
 * @example
 * import { startEmulator } from '@callout/salesforce-emulator'
 * const emulator = await startEmulator()
 * const { instanceUrl } = emulator.org()
 */
export { startEmulator, DEFAULT_MAX_BODY_BYTES } from './emulator.ts'
export type { Emulator, StartOptions } from './emulator.ts'
export { EmulatedOrg } from './emulated-org.ts'
export type { EmulatedConnectedApp, EmulatedUser, IssuedTokens } from './emulated-org.ts'
export type { FaultScope, FaultSwitches, LatencySettings } from './org/fault-switches.ts'
export { RequestLog } from './org/request-log.ts'
export type { RequestLogEntry, RequestLogFilter } from './org/request-log.ts'
export type { ApexHandler, ApexRequest, ApexResponse } from './org/apex-routes.ts'
export { apiVersions, MAX_API_VERSION, MIN_API_VERSION } from './http/api-versions.ts'
export type { ApiVersion } from './http/api-versions.ts'
export type {
  ConnectedAppSeed,
  EmulatorSeed,
  OrgSeed,
  RefreshTokenPolicy,
  UserSeed,
} from './seed/seed-types.ts'
export { SeedError } from './seed/seed-error.ts'
export { validateSeed } from './seed/validate-seed.ts'
export { loadSeedFile } from './seed/load-seed-file.ts'
export { tokenSignature } from './oauth/token-response.ts'
export { MAX_APPROVALS_PER_APP } from './org/token-store.ts'
export { OrgData } from './data/org-data.ts'
export type {
  CustomFieldDef,
  CustomFieldType,
  CustomObjectDef,
  DataUser,
  OrgDataOptions,
} from './data/org-data.ts'
export { handleDataRequest } from './rest/data-api.ts'
export type { DataRequest, DataResponse } from './rest/data-api.ts'
