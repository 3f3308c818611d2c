/**
 * The {@link Store} over Kysely: one implementation for SQLite and PostgreSQL. Secret fields are
 * encrypted with the key ring (AAD = table, column, row); driver errors become `STORE_ERROR`.
 */
import { sql } from 'kysely'
import type { Kysely, Selectable } from 'kysely'
import type { Clock } from '../clock.ts'
import { systemClock } from '../clock.ts'
import { CalloutError } from '../errors.ts'
import { NAME_PATTERN } from '../definitions/model.ts'
import type {
  AuthProvider,
  CredentialKey,
  CredentialStatus,
  Definitions,
  ExternalCredential,
  NamedCredential,
  PrincipalCredential,
} from '../definitions/model.ts'
import type { SecretAad } from '../secrets/envelope.ts'
import { KeyRing } from '../secrets/key-ring.ts'
import type { DataKeyRecord } from '../secrets/key-ring.ts'
import type { MasterKey } from '../secrets/master-key.ts'
import { Secret } from '../secrets/secret.ts'
import { KyselyClientKeys, definitionsStamp, type ClientKeyStore } from './client-keys.ts'
import { joinDefinition, splitDefinition } from './definition-codec.ts'
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations/index.ts'
import { rotateKeys } from './rotate-master-key.ts'
import type { RotateOptions, RotateResult } from './rotate-master-key.ts'
import { DEFINITION_TABLES, toNumber } from './schema.ts'
import type { CredentialsTable, Database, DefinitionKind, DefinitionTable } from './schema.ts'
import type { SqlDatabase } from './sql-database.ts'
import { checkStoredDefinition } from './stored-definition-rules.ts'
import { toStoreError } from './store-error.ts'
import {
  credentialMacInput,
  definitionMacInput,
  tamperedCredential,
  tamperedDefinition,
} from './row-integrity.ts'
import type { ApplyResult, PendingAuthorization, Store } from './types.ts'

/** Options for {@link KyselyStore.open}. */
export interface KyselyStoreOptions {
  readonly database: SqlDatabase
  readonly masterKey: MasterKey
  readonly clock?: Clock
  /** Migration progress messages. */
  readonly onMigrationProgress?: (message: string) => void
}

const KINDS: readonly DefinitionKind[] = ['authProvider', 'externalCredential', 'namedCredential']
const MAP_OF: Readonly<Record<DefinitionKind, keyof Definitions>> = {
  authProvider: 'authProviders',
  externalCredential: 'externalCredentials',
  namedCredential: 'namedCredentials',
}
const STATUSES: ReadonlySet<string> = new Set<CredentialStatus>([
  'not-configured',
  'pending',
  'authenticated',
  'needs-reauth',
  'error',
])
const MAX_KEY_LENGTH = 255
const MAX_TTL_MS = 24 * 60 * 60 * 1000
const SCHEMA_VERSION_KEY = 'schema_version'
/** The schema version that introduced integrity tags (migration 0002). */
const INTEGRITY_VERSION = 2

type AnyDefinition = AuthProvider | ExternalCredential | NamedCredential
/** All three definition tables share one shape; typed through one name. */
type DefinitionTableName = 'auth_providers'
type CredentialRow = Selectable<CredentialsTable>

/** The row id a credential's secrets are bound to: its key, JSON-encoded. */
export function credentialRowId(key: CredentialKey): string {
  return JSON.stringify([key.externalCredential, key.principal, key.userId])
}

/**
 * The store over Kysely. Open it with {@link KyselyStore.open} (or `openStore`), which migrates
 * the schema and checks the master key before anything is written.
 *
 * @example
 * const store = await KyselyStore.open({ database: openSqlite({ path: ':memory:' }), masterKey })
 */
export class KyselyStore implements Store {
  readonly #database: SqlDatabase
  readonly #clock: Clock
  #ring: KeyRing
  #clientKeys: ClientKeyStore | undefined

  private constructor(database: SqlDatabase, ring: KeyRing, clock: Clock) {
    this.#database = database
    this.#ring = ring
    this.#clock = clock
  }

  /**
   * Opens a store over an opened database: refuses a store from a newer schema, checks that the
   * master key matches the stored data keys (`MASTER_KEY_INVALID`), migrates, and creates the
   * first data key. Closes the database when it fails.
   */
  static async open(options: KyselyStoreOptions): Promise<KyselyStore> {
    const { database, masterKey } = options
    const store = new KyselyStore(
      database,
      KeyRing.open(masterKey, []),
      options.clock ?? systemClock,
    )
    try {
      await store.#run('open', async () => {
        const version = await store.#schemaVersion(database.db)
        store.#refuseNewer(version)
        if (version >= 1) store.#ring.load(await readDataKeys(database.db))
      })
      await store.migrate(options.onMigrationProgress)
      await store.#run('create the first data key', () =>
        database.writeTransaction('callout.data_keys', async (trx) => {
          const records = await readDataKeys(trx)
          if (records.length > 0) {
            store.#ring.load(records)
            return
          }
          await insertDataKey(trx, store.#ring.createDataKey(store.#clock.now()))
        }),
      )
      return store
    } catch (error) {
      await database.close().catch(() => undefined)
      throw error
    }
  }

  get dialect(): 'sqlite' | 'postgres' {
    return this.#database.dialect
  }

  /** Where the store is (file path or URL without password), for messages. */
  get location(): string {
    return this.#database.location
  }

  /** The fingerprint of the master key in use. */
  get masterKeyId(): string {
    return this.#ring.masterKeyId
  }

  /** The proxy's client keys (`callout keys`, `callout serve`). */
  get clientKeys(): ClientKeyStore {
    return (this.#clientKeys ??= new KyselyClientKeys(this.#database, this.#clock))
  }

  /** A cheap stamp that changes whenever definitions change (see `definitionsStamp`). */
  definitionsStamp(): Promise<string> {
    return this.#run('read the definitions stamp', () => definitionsStamp(this.#database.db))
  }

  /* eslint-disable @typescript-eslint/no-explicit-any -- migrations are written against Kysely<any> */
  async migrate(onProgress?: (message: string) => void): Promise<void> {
    const report = onProgress ?? (() => undefined)
    await this.#run('migrate the schema', () =>
      this.#database.writeTransaction('callout.migrate', async (trx) => {
        await trx.schema
          .createTable('callout_meta')
          .ifNotExists()
          .addColumn('key', 'varchar(100)', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute()
        const current = await this.#schemaVersion(trx)
        this.#refuseNewer(current)
        if (current === LATEST_SCHEMA_VERSION) {
          report(`Schema is up to date (version ${current}).`)
          return
        }
        for (const migration of MIGRATIONS) {
          if (migration.version <= current) continue
          if (migration.version === INTEGRITY_VERSION && current >= 1) {
            // Rows written before integrity tags existed are signed once, now, with the key.
            await migration.up(trx as Kysely<any>)
            await this.#signExistingRows(trx)
            await setSchemaVersion(trx, migration.version)
            report(`Applied migration ${migration.name}: signed the existing rows.`)
            continue
          }
          report(
            `Applying migration ${migration.name} (${migration.version}/${LATEST_SCHEMA_VERSION})…`,
          )
          await migration.up(trx as Kysely<any>)
          await setSchemaVersion(trx, migration.version)
        }
        report(`Schema migrated to version ${LATEST_SCHEMA_VERSION}.`)
      }),
    )
  }
  /* eslint-enable @typescript-eslint/no-explicit-any */

  /**
   * Signs every definition and credential row of a store upgraded from schema version 1, in the
   * migration's transaction: those rows were written before integrity tags existed.
   */
  async #signExistingRows(trx: Kysely<Database>): Promise<void> {
    await this.#ensureKeys(trx, [])
    if (this.#ring.activeKeyId === undefined) {
      const records = await readDataKeys(trx)
      if (records.length > 0) this.#ring.load(records)
      else await insertDataKey(trx, this.#ring.createDataKey(this.#clock.now()))
    }
    for (const kind of KINDS) {
      const table = tableOf(kind)
      const rows = await trx.selectFrom(table).select(['name', 'definition', 'secrets']).execute()
      for (const row of rows) {
        const mac = this.#ring.sign(definitionMacInput(table, row))
        await trx.updateTable(table).set({ mac }).where('name', '=', row.name).execute()
      }
    }
    const credentials = await trx
      .selectFrom('credentials')
      .select(['external_credential', 'principal', 'user_id', 'instance_url'])
      .execute()
    for (const row of credentials) {
      const key = keyOfRow(row)
      const mac = this.#ring.sign(credentialMacInput(credentialRowId(key), row.instance_url))
      await trx
        .updateTable('credentials')
        .set({ mac })
        .where('external_credential', '=', key.externalCredential)
        .where('principal', '=', key.principal)
        .where('user_id', '=', key.userId)
        .execute()
    }
  }

  // ---- definitions -------------------------------------------------------------------------

  async loadDefinitions(): Promise<Definitions> {
    return this.#run('load definitions', async () => {
      const db = this.#database.db
      const rows = await Promise.all(
        KINDS.map((kind) => db.selectFrom(tableOf(kind)).selectAll().orderBy('name').execute()),
      )
      await this.#ensureKeys(
        db,
        rows.flat().flatMap((row) => [row.secrets, row.mac]),
      )
      const [authProviders, externalCredentials, namedCredentials] = KINDS.map(
        (kind, index) =>
          new Map((rows[index] ?? []).map((row) => [row.name, this.#decodeDefinition(kind, row)])),
      ) as [
        Map<string, AuthProvider>,
        Map<string, ExternalCredential>,
        Map<string, NamedCredential>,
      ]
      return { authProviders, externalCredentials, namedCredentials }
    })
  }

  async applyDefinitions(
    defs: Definitions,
    options: { prune?: boolean } = {},
  ): Promise<ApplyResult> {
    for (const kind of KINDS) {
      const map: unknown = (defs as unknown as Record<string, unknown> | null)?.[MAP_OF[kind]]
      if (!(map instanceof Map)) {
        throw new CalloutError('CONFIG_INVALID', `Definitions must have a ${MAP_OF[kind]} Map.`)
      }
    }
    const prune = options.prune === true
    return this.#run('apply definitions', () =>
      this.#database.writeTransaction('callout.definitions', async (trx) => {
        const created: string[] = []
        const updated: string[] = []
        const unchanged: string[] = []
        const deleted: string[] = []
        const now = this.#clock.now()
        for (const kind of KINDS) {
          const table = tableOf(kind)
          const existing = new Map(
            (await trx.selectFrom(table).selectAll().execute()).map((row) => [row.name, row]),
          )
          await this.#ensureKeys(
            trx,
            [...existing.values()].flatMap((row) => [row.secrets, row.mac]),
          )
          const wanted = defs[MAP_OF[kind]] as ReadonlyMap<string, AnyDefinition>
          for (const [key, def] of wanted) {
            assertDefinition(kind, key, def)
            const split = splitDefinition(def, `${kind} ${def.name}`)
            const previous = existing.get(def.name)
            const label = `${kind}:${def.name}`
            if (previous !== undefined && this.#sameDefinition(kind, previous, split)) {
              unchanged.push(label)
              continue
            }
            const values = this.#definitionValues(kind, def.name, split, now)
            if (previous === undefined) {
              await trx
                .insertInto(table)
                .values({ name: def.name, ...values })
                .execute()
              created.push(label)
            } else {
              await trx.updateTable(table).set(values).where('name', '=', def.name).execute()
              updated.push(label)
            }
          }
          if (prune) {
            for (const name of existing.keys()) {
              if (wanted.has(name)) continue
              await trx.deleteFrom(table).where('name', '=', name).execute()
              deleted.push(`${kind}:${name}`)
            }
          }
        }
        return { created, updated, unchanged, deleted }
      }),
    )
  }

  putAuthProvider(def: AuthProvider): Promise<void> {
    return this.#putDefinition('authProvider', def)
  }

  putExternalCredential(def: ExternalCredential): Promise<void> {
    return this.#putDefinition('externalCredential', def)
  }

  putNamedCredential(def: NamedCredential): Promise<void> {
    return this.#putDefinition('namedCredential', def)
  }

  async deleteDefinition(kind: DefinitionKind, name: string): Promise<boolean> {
    if (!Object.hasOwn(DEFINITION_TABLES, kind)) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        'The definition kind must be authProvider, externalCredential or namedCredential.',
      )
    }
    if (typeof name !== 'string')
      throw new CalloutError('INVALID_ARGUMENT', 'A definition name must be a string.')
    return this.#run('delete a definition', async () => {
      const result = await this.#database.write((db) =>
        db.deleteFrom(tableOf(kind)).where('name', '=', name).executeTakeFirst(),
      )
      return result.numDeletedRows > 0n
    })
  }

  // ---- credentials -------------------------------------------------------------------------

  async getCredential(key: CredentialKey): Promise<PrincipalCredential | undefined> {
    assertCredentialKey(key)
    return this.#run('read a credential', async () => {
      const db = this.#database.db
      const row = await db
        .selectFrom('credentials')
        .selectAll()
        .where('external_credential', '=', key.externalCredential)
        .where('principal', '=', key.principal)
        .where('user_id', '=', key.userId)
        .executeTakeFirst()
      if (row === undefined) return undefined
      await this.#ensureKeys(db, [row.access_token, row.refresh_token, row.mac])
      return this.#decodeCredential(row)
    })
  }

  async listCredentials(
    filter: { externalCredential?: string } = {},
  ): Promise<PrincipalCredential[]> {
    const ec = filter.externalCredential
    if (ec !== undefined && typeof ec !== 'string') {
      throw new CalloutError('INVALID_ARGUMENT', 'filter.externalCredential must be a string.')
    }
    return this.#run('list credentials', async () => {
      const db = this.#database.db
      let query = db.selectFrom('credentials').selectAll()
      if (ec !== undefined) query = query.where('external_credential', '=', ec)
      const rows = await query
        .orderBy('external_credential')
        .orderBy('principal')
        .orderBy('user_id')
        .execute()
      await this.#ensureKeys(
        db,
        rows.flatMap((row) => [row.access_token, row.refresh_token, row.mac]),
      )
      return rows.map((row) => this.#decodeCredential(row))
    })
  }

  async compareAndSetCredential(
    next: Omit<PrincipalCredential, 'version'>,
    expectedVersion: number,
  ): Promise<PrincipalCredential | undefined> {
    assertCredential(next)
    if (
      !Number.isSafeInteger(expectedVersion) ||
      expectedVersion < 0 ||
      expectedVersion >= 2 ** 31 - 1
    ) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        'expectedVersion must be an integer ≥ 0 (0 = absent).',
      )
    }
    return this.#run('write a credential', async () => {
      const row = credentialRowId(next)
      const seal = (secret: Secret | undefined, column: string): string | null =>
        secret === undefined
          ? null
          : this.#ring.encrypt(secret.reveal(), { table: 'credentials', column, row })
      // Access and refresh tokens go in the same statement: a rotation is atomic.
      const values = {
        status: next.status,
        access_token: seal(next.accessToken, 'access_token'),
        refresh_token: seal(next.refreshToken, 'refresh_token'),
        token_type: next.tokenType ?? null,
        issued_at: next.issuedAt ?? null,
        expires_at: next.expiresAt ?? null,
        scope: next.scope ?? null,
        instance_url: next.instanceUrl ?? null,
        mac: this.#ring.sign(credentialMacInput(row, next.instanceUrl ?? null)),
        identity: next.identity === undefined ? null : JSON.stringify(next.identity),
        last_refresh_at: next.lastRefreshAt ?? null,
        last_error: next.lastError === undefined ? null : JSON.stringify(next.lastError),
        updated_at: this.#clock.now(),
      }
      const stored = await this.#database.write((db) =>
        expectedVersion === 0
          ? db
              .insertInto('credentials')
              .values({
                external_credential: next.externalCredential,
                principal: next.principal,
                user_id: next.userId,
                ...values,
                version: 1,
              })
              .onConflict((oc) =>
                oc.columns(['external_credential', 'principal', 'user_id']).doNothing(),
              )
              .returningAll()
              .executeTakeFirst()
          : db
              .updateTable('credentials')
              .set({ ...values, version: expectedVersion + 1 })
              .where('external_credential', '=', next.externalCredential)
              .where('principal', '=', next.principal)
              .where('user_id', '=', next.userId)
              .where('version', '=', expectedVersion)
              .returningAll()
              .executeTakeFirst(),
      )
      return stored === undefined ? undefined : this.#decodeCredential(stored)
    })
  }

  async deleteCredential(key: CredentialKey): Promise<boolean> {
    assertCredentialKey(key)
    return this.#run('delete a credential', async () => {
      const result = await this.#database.write((db) =>
        db
          .deleteFrom('credentials')
          .where('external_credential', '=', key.externalCredential)
          .where('principal', '=', key.principal)
          .where('user_id', '=', key.userId)
          .executeTakeFirst(),
      )
      return result.numDeletedRows > 0n
    })
  }

  // ---- pending authorizations --------------------------------------------------------------

  async putPendingAuthorization(pending: PendingAuthorization): Promise<void> {
    assertPending(pending)
    await this.#run('store a pending authorization', async () => {
      const now = this.#clock.now()
      const codeVerifier =
        pending.codeVerifier === undefined
          ? null
          : this.#ring.encrypt(pending.codeVerifier.reveal(), {
              table: 'pending_authorizations',
              column: 'code_verifier',
              row: pending.state,
            })
      const inserted = await this.#database.write(async (db) => {
        // Housekeeping: expired authorizations can never be taken.
        await db.deleteFrom('pending_authorizations').where('expires_at', '<=', now).execute()
        return db
          .insertInto('pending_authorizations')
          .values({
            state: pending.state,
            named_credential: pending.namedCredential,
            external_credential: pending.externalCredential,
            principal: pending.principal,
            user_id: pending.userId,
            code_verifier: codeVerifier,
            nonce: pending.nonce ?? null,
            redirect_uri: pending.redirectUri,
            expires_at: pending.expiresAt,
            created_at: now,
          })
          .onConflict((oc) => oc.column('state').doNothing())
          .executeTakeFirst()
      })
      if (inserted.numInsertedOrUpdatedRows === 0n) {
        throw new CalloutError(
          'STORE_CONFLICT',
          'A pending authorization with this state already exists; start the authorization again.',
        )
      }
    })
  }

  async takePendingAuthorization(
    state: string,
    now: number,
  ): Promise<PendingAuthorization | undefined> {
    if (typeof state !== 'string' || state.length === 0 || state.length > MAX_KEY_LENGTH)
      return undefined
    if (!Number.isFinite(now))
      throw new CalloutError('INVALID_ARGUMENT', '`now` must be ms since epoch.')
    return this.#run('take a pending authorization', async () => {
      // DELETE … RETURNING: single use even when two callbacks race.
      const row = await this.#database.write((db) =>
        db
          .deleteFrom('pending_authorizations')
          .where('state', '=', state)
          .returningAll()
          .executeTakeFirst(),
      )
      if (row === undefined || toNumber(row.expires_at) <= now) return undefined
      await this.#ensureKeys(this.#database.db, [row.code_verifier])
      return strip<PendingAuthorization>({
        state: row.state,
        namedCredential: row.named_credential,
        externalCredential: row.external_credential,
        principal: row.principal,
        userId: row.user_id,
        codeVerifier:
          row.code_verifier === null
            ? undefined
            : this.#ring.decrypt(row.code_verifier, {
                table: 'pending_authorizations',
                column: 'code_verifier',
                row: row.state,
              }),
        nonce: row.nonce ?? undefined,
        redirectUri: row.redirect_uri,
        expiresAt: toNumber(row.expires_at),
      })
    })
  }

  // ---- leases ------------------------------------------------------------------------------

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    assertLease(name, holder, ttlMs)
    return this.#run('acquire a lease', async () => {
      // Expiry by the database's clock: hosts sharing a store may disagree about the time.
      const now = this.#database.nowMs()
      const expiresAt = sql<number>`${now} + ${ttlMs}`
      // One statement: insert, or take over an expired lease (or extend our own). Exactly one
      // concurrent caller gets a row back.
      const row = await this.#database.write((db) =>
        db
          .insertInto('leases')
          .values({ name, holder, expires_at: expiresAt })
          .onConflict((oc) =>
            oc
              .column('name')
              .doUpdateSet({ holder, expires_at: expiresAt })
              .where((eb) =>
                eb.or([eb('leases.expires_at', '<=', now), eb('leases.holder', '=', holder)]),
              ),
          )
          .returning('holder')
          .executeTakeFirst(),
      )
      return row !== undefined && row.holder === holder
    })
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    assertLease(name, holder, ttlMs)
    return this.#run('renew a lease', async () => {
      const expiresAt = sql<number>`${this.#database.nowMs()} + ${ttlMs}`
      const result = await this.#database.write((db) =>
        db
          .updateTable('leases')
          .set({ expires_at: expiresAt })
          .where('name', '=', name)
          .where('holder', '=', holder)
          .executeTakeFirst(),
      )
      return result.numUpdatedRows > 0n
    })
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    assertLease(name, holder, 1)
    await this.#run('release a lease', () =>
      this.#database.write((db) =>
        db.deleteFrom('leases').where('name', '=', name).where('holder', '=', holder).execute(),
      ),
    )
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
  async rotateMasterKey(newKey: MasterKey, options: RotateOptions = {}): Promise<RotateResult> {
    return this.#run('rotate the master key', () =>
      rotateKeys(
        {
          database: this.#database,
          ring: this.#ring,
          clock: this.#clock,
          ensureKeys: (db, c) => this.#ensureKeys(db, c),
        },
        newKey,
        options,
      ),
    )
  }

  async close(): Promise<void> {
    await this.#run('close', () => this.#database.close())
  }

  // ---- internals ---------------------------------------------------------------------------

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      throw toStoreError(error, operation, this.#database.location)
    }
  }

  async #schemaVersion(db: Kysely<Database>): Promise<number> {
    if (!(await this.#database.tableExists(db, 'callout_meta'))) return 0
    const row = await db
      .selectFrom('callout_meta')
      .select('value')
      .where('key', '=', SCHEMA_VERSION_KEY)
      .executeTakeFirst()
    const version = row === undefined ? 0 : Number(row.value)
    if (!Number.isSafeInteger(version) || version < 0) {
      throw new CalloutError(
        'STORE_ERROR',
        `The store at ${this.#database.location} has a malformed schema version; restore it from a backup.`,
      )
    }
    return version
  }

  #refuseNewer(version: number): void {
    if (version > LATEST_SCHEMA_VERSION) {
      throw new CalloutError(
        'STORE_ERROR',
        `The store at ${this.#database.location} has schema version ${version}, created by a newer ` +
          `Callout (this one knows up to version ${LATEST_SCHEMA_VERSION}). Upgrade Callout, or point ` +
          'CALLOUT_STORE at another store.',
        { details: { schemaVersion: version, supported: LATEST_SCHEMA_VERSION } },
      )
    }
  }

  /** Loads data keys that ciphertexts name but the ring lacks (created by another process). */
  async #ensureKeys(
    db: Kysely<Database>,
    ciphertexts: Iterable<string | null | undefined>,
  ): Promise<void> {
    let missing = false
    for (const text of ciphertexts) {
      if (text === null || text === undefined) continue
      const id = KeyRing.keyIdOf(text) ?? KeyRing.keyIdOfTag(text)
      if (id !== undefined && !this.#ring.has(id)) {
        missing = true
        break
      }
    }
    if (!missing) return
    const records = (await readDataKeys(db)).filter((record) => !this.#ring.has(record.id))
    this.#ring.load(records)
  }

  #encryptSecrets(kind: DefinitionKind, name: string, secrets: string | undefined): string | null {
    if (secrets === undefined) return null
    return this.#ring.encrypt(secrets, { table: tableOf(kind), column: 'secrets', row: name })
  }

  #decryptSecrets(kind: DefinitionKind, row: Selectable<DefinitionTable>): Secret | undefined {
    if (row.secrets === null) return undefined
    return this.#ring.decrypt(row.secrets, {
      table: tableOf(kind),
      column: 'secrets',
      row: row.name,
    })
  }

  /** The stored columns of a definition: document, encrypted secrets and their integrity tag. */
  #definitionValues(
    kind: DefinitionKind,
    name: string,
    split: { document: string; secrets: string | undefined },
    now: number,
  ): { definition: string; secrets: string | null; mac: string; updated_at: number } {
    const secrets = this.#encryptSecrets(kind, name, split.secrets)
    const mac = this.#ring.sign(
      definitionMacInput(tableOf(kind), { name, definition: split.document, secrets }),
    )
    return { definition: split.document, secrets, mac, updated_at: now }
  }

  #sameDefinition(
    kind: DefinitionKind,
    previous: Selectable<DefinitionTable>,
    split: { document: string; secrets: string | undefined },
  ): boolean {
    if (previous.definition !== split.document) return false
    // A row that fails its integrity check is rewritten (re-applying heals it).
    if (!this.#ring.verify(previous.mac, definitionMacInput(tableOf(kind), previous))) return false
    const stored = this.#decryptSecrets(kind, previous)
    if (stored === undefined || split.secrets === undefined) return stored === split.secrets
    return stored.equals(new Secret(split.secrets))
  }

  #decodeDefinition(kind: DefinitionKind, row: Selectable<DefinitionTable>): AnyDefinition {
    if (!this.#ring.verify(row.mac, definitionMacInput(tableOf(kind), row))) {
      throw tamperedDefinition(kind, row.name)
    }
    const def = joinDefinition<AnyDefinition>(
      row.definition,
      this.#decryptSecrets(kind, row),
      `${kind} ${row.name}`,
    )
    if (def.name !== row.name) {
      throw new CalloutError(
        'STORE_ERROR',
        `The stored ${kind} ${row.name} is malformed (its name does not match its row); re-apply it.`,
      )
    }
    checkStoredDefinition(kind, def)
    return def
  }

  async #putDefinition(kind: DefinitionKind, def: AnyDefinition): Promise<void> {
    assertDefinition(kind, undefined, def)
    const split = splitDefinition(def, `${kind} ${def.name}`)
    await this.#run(`store ${kind} ${def.name}`, async () => {
      const values = this.#definitionValues(kind, def.name, split, this.#clock.now())
      await this.#database.write((db) =>
        db
          .insertInto(tableOf(kind))
          .values({ name: def.name, ...values })
          .onConflict((oc) => oc.column('name').doUpdateSet(values))
          .execute(),
      )
    })
  }

  #decodeCredential(row: CredentialRow): PrincipalCredential {
    const key = keyOfRow(row)
    const rowId = credentialRowId(key)
    if (!this.#ring.verify(row.mac, credentialMacInput(rowId, row.instance_url))) {
      throw tamperedCredential(key, row.version)
    }
    const aad = (column: string): SecretAad => ({ table: 'credentials', column, row: rowId })
    return strip<PrincipalCredential>({
      externalCredential: row.external_credential,
      principal: row.principal,
      userId: row.user_id,
      status: row.status as CredentialStatus,
      accessToken:
        row.access_token === null
          ? undefined
          : this.#ring.decrypt(row.access_token, aad('access_token')),
      refreshToken:
        row.refresh_token === null
          ? undefined
          : this.#ring.decrypt(row.refresh_token, aad('refresh_token')),
      tokenType: row.token_type ?? undefined,
      issuedAt: toNumber(row.issued_at),
      expiresAt: toNumber(row.expires_at),
      scope: row.scope ?? undefined,
      instanceUrl: row.instance_url ?? undefined,
      identity: parseJsonColumn(row.identity, 'identity'),
      lastRefreshAt: toNumber(row.last_refresh_at),
      lastError: parseJsonColumn(row.last_error, 'last_error'),
      version: row.version,
    })
  }
}

/** Reads every data key record. */
export async function readDataKeys(db: Kysely<Database>): Promise<DataKeyRecord[]> {
  const rows = await db.selectFrom('data_keys').selectAll().orderBy('created_at').execute()
  return rows.map((row) => ({
    id: row.id,
    masterKeyId: row.master_key_id,
    wrappedKey: row.wrapped_key,
    createdAt: toNumber(row.created_at),
  }))
}

/** Inserts one data key record. */
export async function insertDataKey(db: Kysely<Database>, record: DataKeyRecord): Promise<void> {
  await db
    .insertInto('data_keys')
    .values({
      id: record.id,
      master_key_id: record.masterKeyId,
      wrapped_key: record.wrappedKey,
      created_at: record.createdAt,
    })
    .execute()
}

async function setSchemaVersion(db: Kysely<Database>, version: number): Promise<void> {
  await db
    .insertInto('callout_meta')
    .values({ key: SCHEMA_VERSION_KEY, value: String(version) })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(version) }))
    .execute()
}

function keyOfRow(row: {
  external_credential: string
  principal: string
  user_id: string
}): CredentialKey {
  return {
    externalCredential: row.external_credential,
    principal: row.principal,
    userId: row.user_id,
  }
}

function tableOf(kind: DefinitionKind): DefinitionTableName {
  return DEFINITION_TABLES[kind] as DefinitionTableName
}

/** Drops `undefined` properties (for `exactOptionalPropertyTypes`). */
function strip<T>(record: Record<string, unknown>): T {
  for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key]
  return record as T
}

function parseJsonColumn<T>(text: string | null, column: string): T | undefined {
  if (text === null) return undefined
  try {
    return JSON.parse(text) as T
  } catch (cause) {
    throw new CalloutError(
      'STORE_ERROR',
      `A stored credential has a malformed ${column}; re-authenticate it.`,
      {
        cause,
      },
    )
  }
}

function assertDefinition(
  kind: DefinitionKind,
  key: string | undefined,
  def: unknown,
): asserts def is AnyDefinition {
  const name =
    typeof def === 'object' && def !== null ? (def as { name?: unknown }).name : undefined
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.length > MAX_KEY_LENGTH) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `A ${kind} has an invalid name: names match [A-Za-z][A-Za-z0-9_]* (at most ${MAX_KEY_LENGTH} characters).`,
      { details: { kind } },
    )
  }
  if (key !== undefined && key !== name) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `The ${kind} ${name} is filed under another name; key the map by name.`,
      {
        details: { kind, name },
      },
    )
  }
}

function assertKeyPart(value: unknown, field: string, allowEmpty: boolean): void {
  if (
    typeof value !== 'string' ||
    (!allowEmpty && value.length === 0) ||
    value.length > MAX_KEY_LENGTH
  ) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `${field} must be a ${allowEmpty ? '' : 'non-empty '}string of at most ${MAX_KEY_LENGTH} characters.`,
    )
  }
}

function assertCredentialKey(key: CredentialKey): void {
  if (typeof key !== 'object' || key === null) {
    throw new CalloutError('INVALID_ARGUMENT', 'A credential key must be an object.')
  }
  assertKeyPart(key.externalCredential, 'externalCredential', false)
  assertKeyPart(key.principal, 'principal', false)
  assertKeyPart(key.userId, 'userId', true)
}

function assertCredential(next: Omit<PrincipalCredential, 'version'>): void {
  assertCredentialKey(next)
  if (!STATUSES.has(next.status)) {
    throw new CalloutError('INVALID_ARGUMENT', `status must be one of ${[...STATUSES].join(', ')}.`)
  }
  for (const field of ['accessToken', 'refreshToken'] as const) {
    const value: unknown = next[field]
    if (value !== undefined && !(value instanceof Secret)) {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be a Secret.`)
    }
  }
  for (const field of ['issuedAt', 'expiresAt', 'lastRefreshAt'] as const) {
    const value: unknown = next[field]
    if (value !== undefined && !Number.isSafeInteger(value)) {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be an integer (ms since epoch).`)
    }
  }
  for (const field of ['tokenType', 'scope', 'instanceUrl'] as const) {
    const value: unknown = next[field]
    if (value !== undefined && typeof value !== 'string') {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be a string.`)
    }
  }
  for (const field of ['identity', 'lastError'] as const) {
    const value: unknown = next[field]
    if (value === undefined) continue
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be an object.`)
    }
    try {
      JSON.stringify(value)
    } catch (cause) {
      throw new CalloutError('INVALID_ARGUMENT', `${field} must be JSON-serialisable.`, { cause })
    }
  }
}

function assertPending(pending: PendingAuthorization): void {
  if (typeof pending !== 'object' || pending === null) {
    throw new CalloutError('INVALID_ARGUMENT', 'A pending authorization must be an object.')
  }
  assertKeyPart(pending.state, 'state', false)
  assertKeyPart(pending.namedCredential, 'namedCredential', false)
  assertKeyPart(pending.externalCredential, 'externalCredential', false)
  assertKeyPart(pending.principal, 'principal', false)
  assertKeyPart(pending.userId, 'userId', true)
  if (typeof pending.redirectUri !== 'string') {
    throw new CalloutError('INVALID_ARGUMENT', 'redirectUri must be a string.')
  }
  if (pending.codeVerifier !== undefined && !(pending.codeVerifier instanceof Secret)) {
    throw new CalloutError('INVALID_ARGUMENT', 'codeVerifier must be a Secret.')
  }
  if (pending.nonce !== undefined && typeof pending.nonce !== 'string') {
    throw new CalloutError('INVALID_ARGUMENT', 'nonce must be a string.')
  }
  if (!Number.isSafeInteger(pending.expiresAt)) {
    throw new CalloutError('INVALID_ARGUMENT', 'expiresAt must be an integer (ms since epoch).')
  }
}

function assertLease(name: unknown, holder: unknown, ttlMs: unknown): void {
  assertKeyPart(name, 'lease name', false)
  assertKeyPart(holder, 'lease holder', false)
  if (
    typeof ttlMs !== 'number' ||
    !Number.isSafeInteger(ttlMs) ||
    ttlMs <= 0 ||
    ttlMs > MAX_TTL_MS
  ) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `ttlMs must be a positive integer of at most ${MAX_TTL_MS}.`,
    )
  }
}
