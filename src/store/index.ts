/**
 * The store: the {@link Store} contract and its Kysely implementation over SQLite and PostgreSQL.
 */
export type {
  ApplyResult,
  ConnectLink,
  ConnectLinkStore,
  ConnectLinkUse,
  LeaseStore,
  PendingAuthorization,
  PendingFlow,
  Store,
} from './types.ts'
export { KyselyStore } from './kysely-store.ts'
export { credentialRowId } from './credentials-repository.ts'
export type { KyselyStoreOptions } from './kysely-store.ts'
export {
  DEFAULT_DATABASE_FILE,
  copyStore,
  openStore,
  parseStoreUrl,
  rotateMasterKey,
} from './open-store.ts'
export type { CopyStoreOptions, OpenStoreOptions, StoreLocation } from './open-store.ts'
export type { CopyProgress, CopyResult } from './copy-store.ts'
export type { RotateOptions, RotateProgress, RotateResult } from './rotate-master-key.ts'
export { openSqlite } from './sqlite.ts'
export type { SqliteOptions } from './sqlite.ts'
export { openPostgres, redactStoreUrl } from './postgres.ts'
export type { PostgresOptions } from './postgres.ts'
export type { SqlDatabase } from './sql-database.ts'
export { LATEST_SCHEMA_VERSION } from './migrations/index.ts'
export { toStoreError } from './store-error.ts'
export {
  NOTIFICATION_DEFAULTS,
  PostgresNotifications,
  noNotifications,
  parseStoreEvent,
} from './notifications.ts'
export type { NotificationState, StoreEvent, StoreNotifications } from './notifications.ts'
export { KyselyAdminStore } from './admin.ts'
export type {
  AdminSessionRecord,
  AdminStore,
  AdminTokenRecord,
  AdminUserRecord,
  AuditDetails,
  AuditEntry,
  LockoutPolicy,
} from './admin.ts'
