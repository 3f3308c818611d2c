/**
 * The declarative description of an emulator: orgs, their users, connected apps, custom objects
 * and seed records. Written as JSON/YAML (see the package README) or passed programmatically to
 * `startEmulator`. Everything but names is optional; missing parts get working defaults.
 */
import type { CustomFieldDef, CustomObjectDef } from '../data/org-data.ts'

/**
 * A connected app's refresh-token policy (Setup → Manage Connected Apps → Refresh Token Policy).
 * `expire-after` is absolute (from issue); `expire-if-unused` is an idle timeout.
 */
export type RefreshTokenPolicy =
  | { kind: 'until-revoked' }
  | { kind: 'expire-after'; seconds: number }
  | { kind: 'expire-if-unused'; seconds: number }
  | { kind: 'immediately' }

/** A user of an emulated org. */
export interface UserSeed {
  /** Salesforce username (an e-mail-shaped string, unique across the emulator). */
  username: string
  /** Login password; generated when omitted. */
  password?: string
  /** Full name; defaults from the username. */
  name?: string
  /** E-mail; defaults to the username. */
  email?: string
  /** Profile name, e.g. `System Administrator` (the default). */
  profile?: string
  /** Inactive users cannot log in or get tokens (`inactive_user`). Default true. */
  active?: boolean
}

/** A connected app (OAuth client) of an emulated org. */
export interface ConnectedAppSeed {
  /** Display name, unique within the org. */
  name: string
  /** Consumer key (`client_id`); generated when omitted. */
  consumerKey?: string
  /** Consumer secret (`client_secret`); generated when omitted. */
  consumerSecret?: string
  /** Callback URLs; `redirect_uri` must equal one of them exactly. */
  callbackUrls: string[]
  /** OAuth scopes the app may be granted. Default `api refresh_token full openid web id offline_access`. */
  scopes?: string[]
  /** Require PKCE on the authorization code flow. Default false. */
  pkceRequired?: boolean
  /** Require the consumer secret on the authorization code flow. Default true. */
  requireSecret?: boolean
  /** Require the consumer secret on the refresh token flow. Default false. */
  requireSecretForRefresh?: boolean
  /** Refresh token policy. Default `{ kind: 'until-revoked' }`. */
  refreshTokenPolicy?: RefreshTokenPolicy
  /** Refresh token rotation: a new refresh token on every refresh. Default false. */
  rotation?: boolean
  /** X.509 certificate (or SPKI public key) PEM for the JWT bearer flow. */
  certificate?: string
  /** Path of a PEM file, resolved against the seed file's directory (seed files only). */
  certificateFile?: string
  /** "Admin approved users are pre-authorized": skips the approval page; JWT bearer and client credentials need it. Default true. */
  adminPreAuthorized?: boolean
  /** Run-as username for the client credentials flow; the flow is disabled when omitted. */
  clientCredentialsUser?: string
  /** Enable the device flow. Default false (true for the generated default app). */
  deviceFlow?: boolean
}

/** One emulated org. */
export interface OrgSeed {
  /** Unique name, used by `emulator.org(name)`. */
  name: string
  /** Port of the org origin (its `instance_url`); 0 or omitted picks a free port. */
  port?: number
  /** Also start a "Lightning" origin that answers every request with a 302 to the instance. */
  lightning?: boolean
  /** Serve the login endpoints on a separate origin (default: the instance origin). */
  separateLoginOrigin?: boolean
  /** Session timeout in seconds: access tokens expire after it. Default 7200. */
  sessionTimeoutSeconds?: number
  /** A sandbox org (`IsSandbox` on Organization). Default false. */
  isSandbox?: boolean
  /** Daily API request limit (`Sforce-Limit-Info` maximum). Default 15000. */
  dailyApiLimit?: number
  /** Device flow polling interval in seconds. Default 5. */
  deviceFlowIntervalSeconds?: number
  /** Query page size when the request names none. Default 2000. */
  queryBatchSize?: number
  /** Largest Bulk API 2.0 CSV upload, in bytes. Default 100 MB (104,857,600), Salesforce's limit. */
  bulkUploadMaxBytes?: number
  /** Rows per Bulk API 2.0 query result page when the request names no `maxRecords`. Default 50000. */
  bulkQueryPageSize?: number
  /** Users; a default admin user is created when empty. */
  users?: UserSeed[]
  /** Connected apps; a default app is created when empty. */
  connectedApps?: ConnectedAppSeed[]
  /** Custom objects (`Foo__c`). */
  customObjects?: CustomObjectDef[]
  /**
   * Custom fields on existing objects, standard ones included, by object name, e.g.
   * `{ Account: [{ name: 'External_Id__c', type: 'string', externalId: true, unique: true }] }`.
   */
  customFields?: Record<string, CustomFieldDef[]>
  /** Seed records by sObject type. */
  records?: Record<string, Record<string, unknown>[]>
}

/** The whole emulator. */
export interface EmulatorSeed {
  /** Orgs; one org named `default` when empty or omitted. */
  orgs?: OrgSeed[]
  /** Largest request body accepted, in bytes. Default 6 MB (6,291,456). */
  maxBodyBytes?: number
}
