/**
 * The database schema as Kysely table types: the one place that names tables and columns.
 * Migrations (under `migrations/`) are frozen in time and use `Kysely<any>`; this file describes
 * the latest schema. Times are ms since epoch (`bigint`; PostgreSQL returns them as strings).
 */
import type { Generated } from 'kysely'

/** A `bigint` column as read back: a number (SQLite) or a decimal string (PostgreSQL). */
export type BigIntColumn = number | string | bigint

/** Schema bookkeeping (`schema_version`). */
export interface MetaTable {
  key: string
  value: string
}

/** Data keys, wrapped under the master key whose fingerprint is `master_key_id`. */
export interface DataKeysTable {
  id: string
  master_key_id: string
  wrapped_key: string
  created_at: BigIntColumn
}

/** One definition kind per table: the JSON document and its encrypted secret fields. */
export interface DefinitionTable {
  name: string
  /** Canonical JSON of the definition without its secret fields. */
  definition: string
  /** Ciphertext of the JSON list of `[path, value]` secret fields (AAD: table, `secrets`, name). */
  secrets: string | null
  /** Integrity tag over `definition` and `secrets` (`m1.<dataKeyId>.<tag>`; see `row-integrity.ts`). */
  mac: string | null
  updated_at: BigIntColumn
}

/** The stored state of one principal (and user). */
export interface CredentialsTable {
  external_credential: string
  principal: string
  user_id: string
  status: string
  access_token: string | null
  refresh_token: string | null
  token_type: string | null
  issued_at: BigIntColumn | null
  expires_at: BigIntColumn | null
  scope: string | null
  instance_url: string | null
  identity: string | null
  last_refresh_at: BigIntColumn | null
  last_error: string | null
  version: Generated<number>
  updated_at: BigIntColumn
  /** Integrity tag over `instance_url` (`m1.<dataKeyId>.<tag>`; see `row-integrity.ts`). */
  mac: string | null
}

/** Pending browser authorizations, keyed by `state`. */
export interface PendingAuthorizationsTable {
  state: string
  named_credential: string
  external_credential: string
  principal: string
  user_id: string
  code_verifier: string | null
  nonce: string | null
  redirect_uri: string
  expires_at: BigIntColumn
  created_at: BigIntColumn
}

/** Cross-process leases. */
export interface LeasesTable {
  name: string
  holder: string
  expires_at: BigIntColumn
}

/** Proxy client keys (`ck_…`): only the SHA-256 of each key. */
export interface ClientKeysTable {
  id: string
  name: string
  /** JSON array of rules in `--allow` syntax. */
  rules: string
  /** 1 when the key may act for end users (`Callout-User`). */
  any_user: number
  key_hash: string
  created_at: BigIntColumn
  expires_at: BigIntColumn | null
  revoked_at: BigIntColumn | null
  /** Integrity tag over every other column (`m1.<dataKeyId>.<tag>`; see `row-integrity.ts`). */
  mac: string | null
}

/** Console and admin API users; `password_hash` is an scrypt hash (never the password). */
export interface AdminUsersTable {
  id: string
  username: string
  password_hash: string
  failed_logins: Generated<number>
  locked_until: BigIntColumn | null
  created_at: BigIntColumn
  updated_at: BigIntColumn
}

/** Console sessions: only the SHA-256 of each session cookie. */
export interface AdminSessionsTable {
  id_hash: string
  user_id: string
  created_at: BigIntColumn
  last_seen_at: BigIntColumn
  expires_at: BigIntColumn
}

/** Admin API tokens (`cat_…`): only the SHA-256 of each token. */
export interface AdminTokensTable {
  id: string
  name: string
  token_hash: string
  created_by: string
  created_at: BigIntColumn
  expires_at: BigIntColumn | null
  revoked_at: BigIntColumn | null
}

/** The audit log: who changed what, when (never a secret). */
export interface AdminAuditTable {
  id: string
  at: BigIntColumn
  actor: string
  action: string
  target: string
  /** JSON object of non-secret details. */
  details: string
  remote: string | null
}

/** Per-user connect links: only the SHA-256 of each link token and of its browser cookie. */
export interface ConnectLinksTable {
  id_hash: string
  named_credential: string
  external_credential: string
  principal: string
  user_id: string
  created_by: string
  created_at: BigIntColumn
  expires_at: BigIntColumn
  used_at: BigIntColumn | null
  browser_hash: string | null
}

/** Rate-limit counters shared by every instance: one fixed window per key. */
export interface RateLimitsTable {
  key: string
  count: number
  /** ms since epoch, by the database's clock. */
  window_start: BigIntColumn
}

/** The whole database. */
export interface Database {
  callout_meta: MetaTable
  data_keys: DataKeysTable
  auth_providers: DefinitionTable
  external_credentials: DefinitionTable
  named_credentials: DefinitionTable
  credentials: CredentialsTable
  pending_authorizations: PendingAuthorizationsTable
  leases: LeasesTable
  client_keys: ClientKeysTable
  admin_users: AdminUsersTable
  admin_sessions: AdminSessionsTable
  admin_tokens: AdminTokensTable
  admin_audit: AdminAuditTable
  connect_links: ConnectLinksTable
  rate_limits: RateLimitsTable
}

/** The tables that hold definitions, by definition kind. */
export const DEFINITION_TABLES = Object.freeze({
  authProvider: 'auth_providers',
  externalCredential: 'external_credentials',
  namedCredential: 'named_credentials',
} as const)

/** A definition kind. */
export type DefinitionKind = keyof typeof DEFINITION_TABLES

/** Converts a `bigint` column value to a number. */
export function toNumber(value: BigIntColumn): number
export function toNumber(value: BigIntColumn | null | undefined): number | undefined
export function toNumber(value: BigIntColumn | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined
  return typeof value === 'number' ? value : Number(value)
}
