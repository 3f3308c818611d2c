/**
 * Definitions: the model, the config schema, config file loading, `${env:…}`/`${file:…}`
 * references, the legacy shorthand and export. The public surface of `src/definitions/`.
 */
export * from './model.ts'
export { buildDefinitions } from './build.ts'
export type { BuildOptions, ConfigWarning } from './build.ts'
export { loadConfigFile, parseConfig } from './config-file.ts'
export type { ConfigFormat, LoadConfigOptions, ParseConfigOptions } from './config-file.ts'
export { exportDefinitions, exportSecrets, upperSnake } from './export.ts'
export type { ExportedConfig, ExportedSecret } from './export.ts'
export { configInvalid, formatPath } from './issues.ts'
export type { ConfigIssue, ConfigPath } from './issues.ts'
export { expandLegacy, legacyExternalCredentialName, LEGACY_PRINCIPAL } from './legacy.ts'
export type { LegacyExpansion } from './legacy.ts'
export { isSecretPath, resolveReferences } from './references.ts'
export type { MissingReference, ReferenceOptions } from './references.ts'
export { configSchema, validateDocument } from './schema.ts'
export { loadServeConfig, parseServeConfig } from './serve-config.ts'
export type { ParseServeConfigOptions, ServeConfig } from './serve-config.ts'
export type { RawConfig } from './schema.ts'
export { checkUrl, isLoopbackHost } from './url-rules.ts'
export type { UrlCheck, UrlKind } from './url-rules.ts'
