/**
 * The storage contract. Only the store module knows SQL; everything above it depends on this
 * interface. One implementation over Kysely serves SQLite and PostgreSQL alike, and one contract
 * test suite runs against both.
 */
import type {
  AuthProvider,
  CredentialKey,
  Definitions,
  ExternalCredential,
  NamedCredential,
  PrincipalCredential,
} from '../definitions/model.ts'
import type { AuditRecord, AuditedWrite } from './admin.ts'
import type { StoreNotifications } from './notifications.ts'

/** What {@link Store.applyDefinitions} changed, by kind and name. */
export interface ApplyResult {
  readonly created: readonly string[]
  readonly updated: readonly string[]
  readonly unchanged: readonly string[]
  readonly deleted: readonly string[]
}

/** A pending browser authorization, keyed by its `state`. */
export interface PendingAuthorization {
  readonly state: string
  readonly namedCredential: string
  readonly externalCredential: string
  readonly principal: string
  readonly userId: string
  /** PKCE code verifier (secret). */
  readonly codeVerifier?: import('../secrets/secret.ts').Secret
  readonly nonce?: string
  readonly redirectUri: string
  /** ms since epoch. */
  readonly expiresAt: number
}

/**
 * A browser flow as status pages see it (no state, no verifier): started at `createdAt`, timed out
 * once `expiresAt` has passed without a callback.
 */
export interface PendingFlow {
  readonly namedCredential: string
  readonly externalCredential: string
  readonly principal: string
  readonly userId: string
  /** ms since epoch. */
  readonly createdAt: number
  /** ms since epoch. */
  readonly expiresAt: number
}

/**
 * A per-user connect link: minted by an admin for one end user of a per-user principal, opened
 * once by that user's browser. Never the link token itself: `idHash` is its SHA-256.
 */
export interface ConnectLink {
  /** SHA-256 (hex) of the link token. */
  readonly idHash: string
  readonly namedCredential: string
  readonly externalCredential: string
  readonly principal: string
  /** The end user the link connects. */
  readonly userId: string
  /** Who minted it (`admin:<username>`, `token:<id>`, `cli`, `library`). */
  readonly createdBy: string
  /** ms since epoch. */
  readonly createdAt: number
  /** ms since epoch. */
  readonly expiresAt: number
  /** ms since epoch; set when the link was opened. */
  readonly usedAt?: number
}

/** The outcome of opening a connect link: the link, or why it cannot be opened. */
export type ConnectLinkUse =
  | { readonly ok: true; readonly link: ConnectLink }
  | { readonly ok: false; readonly reason: 'unknown' | 'expired' | 'used' }

/** Per-user connect links (stored hashed, single use). */
export interface ConnectLinkStore {
  /** Stores a new, unused link; with `audit`, in one transaction with that entry. */
  putConnectLink(link: Omit<ConnectLink, 'usedAt'>, options?: AuditedWrite): Promise<void>
  /** The link with this token hash, used or not. */
  getConnectLink(idHash: string): Promise<ConnectLink | undefined>
  /**
   * Opens a link once (atomically, across processes): marks it used and binds it to the SHA-256
   * of the opening browser's cookie. Used, expired and unknown links change nothing. With
   * `audit`, the opening and its entry are written in one transaction.
   */
  useConnectLink(
    idHash: string,
    browserHash: string,
    now: number,
    options?: AuditedWrite<ConnectLink>,
  ): Promise<ConnectLinkUse>
  /** The opened link bound to this browser cookie hash. */
  connectLinkOfBrowser(browserHash: string): Promise<ConnectLink | undefined>
}

/** Cross-process mutual exclusion for token refresh: a lease row with an expiry. */
export interface LeaseStore {
  /** Takes the lease if free or expired. True when `holder` now holds it. */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>
  /** Extends a held lease. False when `holder` no longer holds it. */
  renewLease(name: string, holder: string, ttlMs: number): Promise<boolean>
  /** Releases a held lease (no-op if not held by `holder`). */
  releaseLease(name: string, holder: string): Promise<void>
}

/** The store. Secret fields are encrypted at rest with AAD bound to table, column and row. */
export interface Store extends LeaseStore, ConnectLinkStore {
  /** `sqlite` or `postgres`. */
  readonly dialect: 'sqlite' | 'postgres'
  /**
   * What other instances changed, as it happens (PostgreSQL LISTEN/NOTIFY). Absent, or
   * `unsupported`, where the store cannot notify: callers then rely on bounded cache lifetimes.
   */
  readonly notifications?: StoreNotifications

  /** Runs pending migrations, reporting progress. Idempotent. */
  migrate(onProgress?: (message: string) => void): Promise<void>

  /** Every definition, decrypted. */
  loadDefinitions(): Promise<Definitions>
  /**
   * Writes the given definitions in one transaction (all or nothing). With `prune`, definitions
   * not in `defs` are deleted. With `audit`, that audit entry is written in the same transaction:
   * the change and its entry are stored together or not at all.
   */
  applyDefinitions(
    defs: Definitions,
    options?: { prune?: boolean; audit?: AuditRecord },
  ): Promise<ApplyResult>
  putAuthProvider(def: AuthProvider): Promise<void>
  putExternalCredential(def: ExternalCredential): Promise<void>
  putNamedCredential(def: NamedCredential): Promise<void>
  deleteDefinition(
    kind: 'authProvider' | 'externalCredential' | 'namedCredential',
    name: string,
  ): Promise<boolean>

  /** One stored credential, or undefined if never stored. */
  getCredential(key: CredentialKey): Promise<PrincipalCredential | undefined>
  listCredentials(filter?: { externalCredential?: string }): Promise<PrincipalCredential[]>
  /**
   * Compare-and-swap: writes `next` (its `version` is ignored; the stored version becomes
   * `expectedVersion + 1`) only if the stored version equals `expectedVersion` (0 = absent).
   * Returns the stored record, or undefined when another writer won. With `audit`, the write and
   * that entry are stored in one transaction (no entry when another writer won).
   */
  compareAndSetCredential(
    next: Omit<PrincipalCredential, 'version'>,
    expectedVersion: number,
    options?: AuditedWrite<PrincipalCredential>,
  ): Promise<PrincipalCredential | undefined>
  deleteCredential(key: CredentialKey): Promise<boolean>

  /** Stores a pending authorization; with `audit`, in one transaction with that entry. */
  putPendingAuthorization(pending: PendingAuthorization, options?: AuditedWrite): Promise<void>
  /**
   * Returns and deletes the pending authorization (single use); undefined if absent or expired.
   * An expired one stays listed by {@link Store.listPendingFlows} (a timed-out flow).
   */
  takePendingAuthorization(state: string, now: number): Promise<PendingAuthorization | undefined>
  /**
   * Browser flows started and not completed, newest first: still pending, or expired (timed out)
   * and kept for a week. Filter by External Credential, or by `state` (a late callback's).
   */
  listPendingFlows(filter?: {
    readonly externalCredential?: string
    readonly state?: string
  }): Promise<PendingFlow[]>

  close(): Promise<void>
}
