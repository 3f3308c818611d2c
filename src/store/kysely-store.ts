/**
 * The {@link Store} over Kysely: one implementation for SQLite and PostgreSQL, composed of one
 * repository per table (definitions, credentials, pending authorizations, connect links, leases,
 * client keys) that share the opened database, the key ring and the clock. Driver errors become
 * `STORE_ERROR`.
 */
import type { Kysely } from 'kysely'
import type { Clock } from '../clock.ts'
import { systemClock } from '../clock.ts'
import type {
  AuthProvider,
  CredentialKey,
  Definitions,
  ExternalCredential,
  NamedCredential,
  PrincipalCredential,
} from '../definitions/model.ts'
import { KeyRing } from '../secrets/key-ring.ts'
import type { MasterKey } from '../secrets/master-key.ts'
import { KyselyAdminStore, type AdminStore, type AuditRecord, type AuditedWrite } from './admin.ts'
import { KyselyRateLimits, type RateLimitStore } from './rate-limits.ts'
import { KyselyClientKeys, type ClientKeyStore } from './client-keys.ts'
import { ConnectLinksRepository } from './connect-links-repository.ts'
import { CredentialsRepository } from './credentials-repository.ts'
import { DefinitionsRepository } from './definitions-repository.ts'
import { LeasesRepository } from './leases-repository.ts'
import { PendingAuthorizationsRepository } from './pending-authorizations-repository.ts'
import { insertDataKey, readDataKeys, repositoryContext } from './repository-context.ts'
import type { RepositoryContext } from './repository-context.ts'
import { noNotifications, type StoreNotifications } from './notifications.ts'
import { copyRows } from './copy-store.ts'
import type { CopyOptions, CopyResult } from './copy-store.ts'
import { rotateKeys } from './rotate-master-key.ts'
import type { RotateOptions, RotateResult } from './rotate-master-key.ts'
import type { Database, DefinitionKind } from './schema.ts'
import { migrateSchema, readSchemaVersion, refuseNewerSchema } from './schema-migrations.ts'
import type { ExistingRowsStep } from './schema-migrations.ts'
import type { SqlDatabase } from './sql-database.ts'
import type {
  ApplyResult,
  ConnectLink,
  ConnectLinkUse,
  PendingAuthorization,
  PendingFlow,
  Store,
} from './types.ts'

/** Options for {@link KyselyStore.open}. */
export interface KyselyStoreOptions {
  readonly database: SqlDatabase
  readonly masterKey: MasterKey
  readonly clock?: Clock
  /** Migration progress messages. */
  readonly onMigrationProgress?: (message: string) => void
}

/** The schema version that introduced integrity tags (migration 0002). */
const INTEGRITY_VERSION = 2
/** The schema version that added integrity tags to client keys (migration 0005). */
const CLIENT_KEY_INTEGRITY_VERSION = 5

/**
 * The store over Kysely. Open it with {@link KyselyStore.open} (or `openStore`), which migrates
 * the schema and checks the master key before anything is written.
 *
 * @example
 * const store = await KyselyStore.open({ database: openSqlite({ path: ':memory:' }), masterKey })
 */
export class KyselyStore implements Store {
  readonly #context: RepositoryContext
  readonly #definitions: DefinitionsRepository
  readonly #credentials: CredentialsRepository
  readonly #pending: PendingAuthorizationsRepository
  readonly #connectLinks: ConnectLinksRepository
  readonly #leases: LeasesRepository
  readonly #clientKeys: KyselyClientKeys
  #admin: AdminStore | undefined
  #rateLimits: RateLimitStore | undefined

  private constructor(context: RepositoryContext) {
    this.#context = context
    this.#definitions = new DefinitionsRepository(context)
    this.#credentials = new CredentialsRepository(context)
    this.#pending = new PendingAuthorizationsRepository(context)
    this.#connectLinks = new ConnectLinksRepository(context)
    this.#leases = new LeasesRepository(context)
    this.#clientKeys = new KyselyClientKeys(context)
  }

  /**
   * Opens a store over an opened database: refuses a store from a newer schema, checks that the
   * master key matches the stored data keys (`MASTER_KEY_INVALID`), migrates, and creates the
   * first data key. Closes the database when it fails.
   */
  static async open(options: KyselyStoreOptions): Promise<KyselyStore> {
    const { database, masterKey } = options
    const context = repositoryContext(
      database,
      KeyRing.open(masterKey, []),
      options.clock ?? systemClock,
    )
    const store = new KyselyStore(context)
    try {
      await context.run('open', async () => {
        const version = await readSchemaVersion(database, database.db)
        refuseNewerSchema(version, database.location)
        if (version >= 1) context.ring.load(await readDataKeys(database.db))
      })
      await store.migrate(options.onMigrationProgress)
      await context.run('create the first data key', () =>
        database.writeTransaction('callout.data_keys', async (trx) => {
          const records = await readDataKeys(trx)
          if (records.length > 0) {
            context.ring.load(records)
            return
          }
          await insertDataKey(trx, context.ring.createDataKey(context.clock.now()))
        }),
      )
      return store
    } catch (error) {
      await database.close().catch(() => undefined)
      throw error
    }
  }

  get dialect(): 'sqlite' | 'postgres' {
    return this.#context.database.dialect
  }

  /** Where the store is (file path or URL without password), for messages. */
  get location(): string {
    return this.#context.database.location
  }

  /** The store's change channel (see {@link Store.notifications}). */
  get notifications(): StoreNotifications {
    return this.#context.database.notifications ?? noNotifications
  }

  /** The fingerprint of the master key in use. */
  get masterKeyId(): string {
    return this.#context.ring.masterKeyId
  }

  /** The proxy's client keys (`callout keys`, `callout serve`). */
  get clientKeys(): ClientKeyStore {
    return this.#clientKeys
  }

  /** Rate-limit counters shared by every instance on this database. */
  get rateLimits(): RateLimitStore {
    return (this.#rateLimits ??= new KyselyRateLimits(this.#context))
  }

  /** Admin users, sessions, tokens and the audit log of the console and admin API. */
  get admin(): AdminStore {
    return (this.#admin ??= new KyselyAdminStore(this.#context))
  }

  /** A cheap stamp that changes whenever definitions change (see `definitionsStamp`). */
  definitionsStamp(): Promise<string> {
    return this.#definitions.stamp()
  }

  async migrate(onProgress?: (message: string) => void): Promise<void> {
    const steps = new Map<number, ExistingRowsStep>([
      [INTEGRITY_VERSION, (trx) => this.#signRows(trx)],
      [CLIENT_KEY_INTEGRITY_VERSION, (trx) => this.#signClientKeys(trx)],
    ])
    await this.#context.run('migrate the schema', () =>
      migrateSchema(this.#context.database, onProgress ?? (() => undefined), steps),
    )
  }

  /**
   * Tags every definition and credential row of a store upgraded from schema version 1, in the
   * migration's transaction: those rows were written before integrity tags existed.
   */
  async #signRows(trx: Kysely<Database>): Promise<string> {
    await this.#ensureActiveKey(trx)
    await this.#definitions.signAll(trx)
    await this.#credentials.signAll(trx)
    return 'signed the existing rows'
  }

  /** Tags the client keys of a store upgraded from before migration 0005, in its transaction. */
  async #signClientKeys(trx: Kysely<Database>): Promise<string> {
    await this.#ensureActiveKey(trx)
    const count = await this.#clientKeys.signAll(trx)
    return `signed ${count} existing client key${count === 1 ? '' : 's'}`
  }

  /** Loads the data keys, or creates the first one, so that rows can be tagged in a migration. */
  async #ensureActiveKey(trx: Kysely<Database>): Promise<void> {
    const { ring, clock } = this.#context
    if (ring.activeKeyId !== undefined) return
    const records = await readDataKeys(trx)
    if (records.length > 0) ring.load(records)
    else await insertDataKey(trx, ring.createDataKey(clock.now()))
  }

  // ---- definitions -------------------------------------------------------------------------

  loadDefinitions(): Promise<Definitions> {
    return this.#definitions.load()
  }

  applyDefinitions(
    defs: Definitions,
    options: { prune?: boolean; audit?: AuditRecord } = {},
  ): Promise<ApplyResult> {
    return this.#definitions.apply(defs, options)
  }

  putAuthProvider(def: AuthProvider): Promise<void> {
    return this.#definitions.put('authProvider', def)
  }

  putExternalCredential(def: ExternalCredential): Promise<void> {
    return this.#definitions.put('externalCredential', def)
  }

  putNamedCredential(def: NamedCredential): Promise<void> {
    return this.#definitions.put('namedCredential', def)
  }

  deleteDefinition(kind: DefinitionKind, name: string): Promise<boolean> {
    return this.#definitions.delete(kind, name)
  }

  // ---- credentials -------------------------------------------------------------------------

  getCredential(key: CredentialKey): Promise<PrincipalCredential | undefined> {
    return this.#credentials.get(key)
  }

  listCredentials(filter: { externalCredential?: string } = {}): Promise<PrincipalCredential[]> {
    return this.#credentials.list(filter)
  }

  compareAndSetCredential(
    next: Omit<PrincipalCredential, 'version'>,
    expectedVersion: number,
    options: AuditedWrite<PrincipalCredential> = {},
  ): Promise<PrincipalCredential | undefined> {
    return this.#credentials.compareAndSet(next, expectedVersion, options)
  }

  deleteCredential(key: CredentialKey): Promise<boolean> {
    return this.#credentials.delete(key)
  }

  // ---- pending authorizations --------------------------------------------------------------

  putPendingAuthorization(
    pending: PendingAuthorization,
    options: AuditedWrite = {},
  ): Promise<void> {
    return this.#pending.put(pending, options)
  }

  takePendingAuthorization(state: string, now: number): Promise<PendingAuthorization | undefined> {
    return this.#pending.take(state, now)
  }

  listPendingFlows(
    filter: { readonly externalCredential?: string; readonly state?: string } = {},
  ): Promise<PendingFlow[]> {
    return this.#pending.list(filter)
  }

  // ---- connect links -----------------------------------------------------------------------

  putConnectLink(link: Omit<ConnectLink, 'usedAt'>, options: AuditedWrite = {}): Promise<void> {
    return this.#connectLinks.put(link, options)
  }

  getConnectLink(idHash: string): Promise<ConnectLink | undefined> {
    return this.#connectLinks.get(idHash)
  }

  useConnectLink(
    idHash: string,
    browserHash: string,
    now: number,
    options: AuditedWrite<ConnectLink> = {},
  ): Promise<ConnectLinkUse> {
    return this.#connectLinks.use(idHash, browserHash, now, options)
  }

  connectLinkOfBrowser(browserHash: string): Promise<ConnectLink | undefined> {
    return this.#connectLinks.ofBrowser(browserHash)
  }

  // ---- leases ------------------------------------------------------------------------------

  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.#leases.acquireLease(name, holder, ttlMs)
  }

  renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.#leases.renewLease(name, holder, ttlMs)
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.#leases.releaseLease(name, holder)
  }

  // ---- keys --------------------------------------------------------------------------------

  /**
   * Re-wraps every data key under `newKey` (one transaction) and, with `reencrypt`, re-encrypts
   * every secret under a new data key in batches, online. Other processes must restart with the
   * new key before they read a secret sealed with a data key created after the rotation.
   *
   * @example
   * await store.rotateMasterKey(MasterKey.generate(), { reencrypt: true, onProgress: console.log })
   */
  rotateMasterKey(newKey: MasterKey, options: RotateOptions = {}): Promise<RotateResult> {
    return this.#context.run('rotate the master key', () =>
      rotateKeys(this.#context, newKey, options),
    )
  }

  /**
   * Copies every row of `from` into `to`, both opened with the same master key, as stored
   * (ciphertexts and tags unchanged, nothing decrypted), then verifies counts and tags. `to`'s data
   * keys are replaced: close it afterwards. Prefer `copyStore` (`callout migrate --from --to`).
   *
   * @example
   * const result = await KyselyStore.copy(source, target, { onProgress: console.log })
   */
  static copy(from: KyselyStore, to: KyselyStore, options: CopyOptions = {}): Promise<CopyResult> {
    return copyRows(from.#context, to.#context, options)
  }

  async close(): Promise<void> {
    await this.#context.run('close', () => this.#context.database.close())
  }
}
