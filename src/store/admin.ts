/**
 * The admin repository of `callout serve`'s console and admin API: admin users (scrypt hashes,
 * failed-login counters and lockouts), sessions (only the SHA-256 of each cookie, so several
 * instances on one database share logins), admin API tokens (only their SHA-256) and the audit
 * log. Never a password, session cookie or token in clear.
 */
import type { Kysely, Selectable } from 'kysely'
import { randomBytes } from 'node:crypto'
import { CalloutError } from '../errors.ts'
import { toNumber } from './schema.ts'
import type {
  AdminAuditTable,
  AdminSessionsTable,
  AdminTokensTable,
  AdminUsersTable,
  Database,
} from './schema.ts'
import type { RepositoryContext } from './repository-context.ts'
import type { SqlDatabase } from './sql-database.ts'

/** One admin user. `passwordHash` is an scrypt hash in `scrypt$…` form. */
export interface AdminUserRecord {
  readonly id: string
  readonly username: string
  readonly passwordHash: string
  /** Consecutive failed logins since the last success or lockout. */
  readonly failedLogins: number
  /** ms since epoch; logins are refused until then. */
  readonly lockedUntil?: number
  readonly createdAt: number
  readonly updatedAt: number
}

/** One console session: the SHA-256 of its cookie, its user and its lifetime. */
export interface AdminSessionRecord {
  readonly idHash: string
  readonly userId: string
  /** The user's name (joined from `admin_users`). */
  readonly username: string
  readonly createdAt: number
  readonly lastSeenAt: number
  /** ms since epoch. */
  readonly expiresAt: number
}

/** One admin API token. Never the token itself: `tokenHash` is its SHA-256. */
export interface AdminTokenRecord {
  /** The public id (the part after `cat_`). */
  readonly id: string
  readonly name: string
  readonly tokenHash: string
  /** The admin who created it. */
  readonly createdBy: string
  readonly createdAt: number
  readonly expiresAt?: number
  readonly revokedAt?: number
}

/** Detail values an audit entry may carry: names, counts and flags, never secrets. */
export type AuditDetails = Readonly<Record<string, string | number | boolean | readonly string[]>>

/**
 * Inserts an audit entry through `db` — a change's own transaction, so that the change and its
 * entry are stored together or not at all.
 *
 * @example
 * await database.writeTransaction('callout.client_keys', async (trx) => { …; await insertAudit(trx, entry) })
 */
export async function insertAudit(db: Kysely<Database>, entry: AuditRecord): Promise<AuditEntry> {
  const id = `aud_${randomBytes(8).toString('hex')}`
  await db
    .insertInto('admin_audit')
    .values({
      id,
      at: entry.at,
      actor: entry.actor,
      action: entry.action,
      target: entry.target,
      details: JSON.stringify(entry.details),
      remote: entry.remote ?? null,
    })
    .execute()
  return { id, ...entry }
}

/** An audit entry to write (its id is generated). */
export type AuditRecord = Omit<AuditEntry, 'id'>

/**
 * The audit entry of one change, written in the change's own transaction: a fixed entry, or one
 * made from what the change did (a lockout, the link that was opened).
 */
export type ChangeAudit<T> = AuditRecord | ((result: T) => AuditRecord)

/** Options of a store write that may carry its audit entry (see {@link ChangeAudit}). */
export interface AuditedWrite<T = unknown> {
  /**
   * Written in the same transaction as the change: the change and its entry are stored together
   * or not at all (a failed entry rolls the change back). Not written when nothing changed.
   */
  readonly audit?: ChangeAudit<T>
}

/**
 * Runs `change`; with an audit entry, the change and the entry go in one write transaction
 * (holding `lock`), the entry only when `changed` says the change did something.
 *
 * @example
 * await writeAudited(database, 'callout.admin_tokens', options.audit, (db) => revoke(db), (n) => n > 0)
 */
export async function writeAudited<T>(
  database: SqlDatabase,
  lock: string,
  audit: ChangeAudit<T> | undefined,
  change: (db: Kysely<Database>) => Promise<T>,
  changed: (result: T) => boolean = () => true,
): Promise<T> {
  if (audit === undefined) return database.write(change)
  return database.writeTransaction(lock, async (trx) => {
    const result = await change(trx)
    if (changed(result)) await insertAudit(trx, auditOf(audit, result))
    return result
  })
}

/** The entry of a {@link ChangeAudit} for this result. */
export function auditOf<T>(audit: ChangeAudit<T>, result: T): AuditRecord {
  return typeof audit === 'function' ? audit(result) : audit
}

/** One audit entry: who did what to which target, when. */
export interface AuditEntry {
  readonly id: string
  /** ms since epoch. */
  readonly at: number
  /** `admin:<username>`, `token:<id>` or `cli`. */
  readonly actor: string
  /** e.g. `admin.login`, `authProvider.create`. */
  readonly action: string
  /** e.g. `AuthProvider/SalesforceLogin`. */
  readonly target: string
  readonly details: AuditDetails
  /** The client address, when the change came over HTTP. */
  readonly remote?: string
}

/** A user's failed-login state after one more failure. */
export interface LoginFailure {
  readonly failedLogins: number
  /** ms since epoch, when this failure locked the account (or it was already locked). */
  readonly lockedUntil?: number
}

/** How consecutive failed logins lock an account. */
export interface LockoutPolicy {
  /** Failures in a row that lock the account. */
  readonly maxFailures: number
  /** How long a lockout lasts. */
  readonly lockMs: number
}

/**
 * What the console and admin API need from storage.
 *
 * @example
 * const user = await admin.getAdminUser('alice')
 */
export interface AdminStore {
  /** Creates a user; `INVALID_ARGUMENT` when the name is taken. */
  createAdminUser(
    user: Omit<AdminUserRecord, 'failedLogins' | 'lockedUntil'>,
    options?: AuditedWrite,
  ): Promise<void>
  getAdminUser(username: string): Promise<AdminUserRecord | undefined>
  countAdminUsers(): Promise<number>
  /** Replaces a user's password hash, clears its lockout and ends its sessions. */
  setAdminPassword(
    username: string,
    passwordHash: string,
    now: number,
    options?: AuditedWrite,
  ): Promise<boolean>
  /**
   * Counts a failed login (atomically across instances); at `policy.maxFailures` in a row the
   * account locks for `policy.lockMs` and the counter restarts. Returns the new state.
   */
  recordLoginFailure(
    userId: string,
    now: number,
    policy: LockoutPolicy,
    options?: AuditedWrite<LoginFailure>,
  ): Promise<LoginFailure>
  /**
   * A successful login: clears the user's failure counter and stores the session, in one
   * transaction with the audit entry.
   */
  openSession(session: Omit<AdminSessionRecord, 'username'>, options?: AuditedWrite): Promise<void>
  /** The unexpired session with this cookie hash. */
  getSession(idHash: string, now: number): Promise<AdminSessionRecord | undefined>
  /** Extends a session's lifetime (sliding expiry). */
  touchSession(idHash: string, lastSeenAt: number, expiresAt: number): Promise<void>
  /** Ends a session; false when there was none (and then no audit entry is written). */
  deleteSession(idHash: string, options?: AuditedWrite): Promise<boolean>
  /** Deletes expired sessions; returns how many. */
  deleteExpiredSessions(now: number): Promise<number>

  createAdminToken(record: AdminTokenRecord, options?: AuditedWrite): Promise<void>
  getAdminToken(id: string): Promise<AdminTokenRecord | undefined>
  /** Every token, newest first, revoked ones included. */
  listAdminTokens(): Promise<AdminTokenRecord[]>
  /** Marks a token revoked; false when unknown or already revoked (then no audit entry). */
  revokeAdminToken(id: string, now: number, options?: AuditedWrite): Promise<boolean>

  /**
   * Appends an audit entry on its own (its id is generated): for actions that change nothing
   * stored, such as a refused login. A change passes its entry with the change instead.
   */
  appendAudit(entry: AuditRecord): Promise<AuditEntry>
  /** The newest entries first; `before` pages back from an entry time. */
  listAudit(options?: { limit?: number; before?: number }): Promise<AuditEntry[]>
}

function userFromRow(row: Selectable<AdminUsersTable>): AdminUserRecord {
  const lockedUntil = toNumber(row.locked_until)
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    failedLogins: Number(row.failed_logins),
    ...(lockedUntil === undefined ? {} : { lockedUntil }),
    createdAt: toNumber(row.created_at),
    updatedAt: toNumber(row.updated_at),
  }
}

function tokenFromRow(row: Selectable<AdminTokensTable>): AdminTokenRecord {
  const expiresAt = toNumber(row.expires_at)
  const revokedAt = toNumber(row.revoked_at)
  return {
    id: row.id,
    name: row.name,
    tokenHash: row.token_hash,
    createdBy: row.created_by,
    createdAt: toNumber(row.created_at),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(revokedAt === undefined ? {} : { revokedAt }),
  }
}

function auditFromRow(row: Selectable<AdminAuditTable>): AuditEntry {
  return {
    id: row.id,
    at: toNumber(row.at),
    actor: row.actor,
    action: row.action,
    target: row.target,
    details: JSON.parse(row.details) as AuditDetails,
    ...(row.remote === null ? {} : { remote: row.remote }),
  }
}

type SessionRow = Selectable<AdminSessionsTable> & { username: string }

function sessionFromRow(row: SessionRow): AdminSessionRecord {
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    username: row.username,
    createdAt: toNumber(row.created_at),
    lastSeenAt: toNumber(row.last_seen_at),
    expiresAt: toNumber(row.expires_at),
  }
}

/**
 * {@link AdminStore} over the store's database (SQLite or PostgreSQL).
 *
 * @example
 * const admin = new KyselyAdminStore(context)
 */
export class KyselyAdminStore implements AdminStore {
  readonly #context: RepositoryContext

  constructor(context: RepositoryContext) {
    this.#context = context
  }

  createAdminUser(
    user: Omit<AdminUserRecord, 'failedLogins' | 'lockedUntil'>,
    options: AuditedWrite = {},
  ): Promise<void> {
    return this.#run('create an admin user', () =>
      this.#context.database.writeTransaction('callout.admin_users', async (trx) => {
        const taken = await trx
          .selectFrom('admin_users')
          .select('id')
          .where('username', '=', user.username)
          .executeTakeFirst()
        if (taken !== undefined) {
          throw new CalloutError(
            'INVALID_ARGUMENT',
            `An admin named ${JSON.stringify(user.username)} already exists; choose another name.`,
            { details: { username: user.username } },
          )
        }
        await trx
          .insertInto('admin_users')
          .values({
            id: user.id,
            username: user.username,
            password_hash: user.passwordHash,
            failed_logins: 0,
            locked_until: null,
            created_at: user.createdAt,
            updated_at: user.updatedAt,
          })
          .execute()
        if (options.audit !== undefined) await insertAudit(trx, auditOf(options.audit, undefined))
      }),
    )
  }

  getAdminUser(username: string): Promise<AdminUserRecord | undefined> {
    return this.#run('read an admin user', async () => {
      const row = await this.#context.database.db
        .selectFrom('admin_users')
        .selectAll()
        .where('username', '=', username)
        .executeTakeFirst()
      return row === undefined ? undefined : userFromRow(row)
    })
  }

  countAdminUsers(): Promise<number> {
    return this.#run('count admin users', async () => {
      const row = await this.#context.database.db
        .selectFrom('admin_users')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst()
      return Number(row?.n ?? 0)
    })
  }

  setAdminPassword(
    username: string,
    passwordHash: string,
    now: number,
    options: AuditedWrite = {},
  ): Promise<boolean> {
    return this.#run('change an admin password', () =>
      this.#context.database.writeTransaction('callout.admin_users', async (trx) => {
        const row = await trx
          .selectFrom('admin_users')
          .select('id')
          .where('username', '=', username)
          .executeTakeFirst()
        if (row === undefined) return false
        await trx
          .updateTable('admin_users')
          .set({
            password_hash: passwordHash,
            failed_logins: 0,
            locked_until: null,
            updated_at: now,
          })
          .where('id', '=', row.id)
          .execute()
        await trx.deleteFrom('admin_sessions').where('user_id', '=', row.id).execute()
        if (options.audit !== undefined) await insertAudit(trx, auditOf(options.audit, true))
        return true
      }),
    )
  }

  recordLoginFailure(
    userId: string,
    now: number,
    policy: LockoutPolicy,
    options: AuditedWrite<LoginFailure> = {},
  ): Promise<LoginFailure> {
    return this.#run('record a failed login', () =>
      this.#context.database.writeTransaction('callout.admin_users', async (trx) => {
        const state = await countLoginFailure(trx, userId, now, policy)
        if (options.audit !== undefined) await insertAudit(trx, auditOf(options.audit, state))
        return state
      }),
    )
  }

  openSession(
    session: Omit<AdminSessionRecord, 'username'>,
    options: AuditedWrite = {},
  ): Promise<void> {
    return this.#run('open a session', () =>
      this.#context.database.writeTransaction('callout.admin_users', async (trx) => {
        await clearLoginFailures(trx, session.userId)
        await insertSession(trx, session)
        if (options.audit !== undefined) await insertAudit(trx, auditOf(options.audit, undefined))
      }),
    )
  }

  getSession(idHash: string, now: number): Promise<AdminSessionRecord | undefined> {
    return this.#run('read a session', async () => {
      const row = await this.#context.database.db
        .selectFrom('admin_sessions')
        .innerJoin('admin_users', 'admin_users.id', 'admin_sessions.user_id')
        .selectAll('admin_sessions')
        .select('admin_users.username')
        .where('admin_sessions.id_hash', '=', idHash)
        .where('admin_sessions.expires_at', '>', now)
        .executeTakeFirst()
      return row === undefined ? undefined : sessionFromRow(row)
    })
  }

  touchSession(idHash: string, lastSeenAt: number, expiresAt: number): Promise<void> {
    return this.#run('extend a session', async () => {
      await this.#context.database.write((db) =>
        db
          .updateTable('admin_sessions')
          .set({ last_seen_at: lastSeenAt, expires_at: expiresAt })
          .where('id_hash', '=', idHash)
          .execute(),
      )
    })
  }

  deleteSession(idHash: string, options: AuditedWrite = {}): Promise<boolean> {
    return this.#run('end a session', () =>
      writeAudited(
        this.#context.database,
        'callout.admin_sessions',
        options.audit,
        async (db) => {
          const result = await db
            .deleteFrom('admin_sessions')
            .where('id_hash', '=', idHash)
            .executeTakeFirst()
          return Number(result.numDeletedRows) > 0
        },
        (deleted) => deleted,
      ),
    )
  }

  deleteExpiredSessions(now: number): Promise<number> {
    return this.#run('delete expired sessions', async () => {
      const result = await this.#context.database.write((db) =>
        db.deleteFrom('admin_sessions').where('expires_at', '<=', now).executeTakeFirst(),
      )
      return Number(result.numDeletedRows)
    })
  }

  createAdminToken(record: AdminTokenRecord, options: AuditedWrite = {}): Promise<void> {
    return this.#run('store an admin token', async () => {
      await writeAudited(this.#context.database, 'callout.admin_tokens', options.audit, (db) =>
        db
          .insertInto('admin_tokens')
          .values({
            id: record.id,
            name: record.name,
            token_hash: record.tokenHash,
            created_by: record.createdBy,
            created_at: record.createdAt,
            expires_at: record.expiresAt ?? null,
            revoked_at: record.revokedAt ?? null,
          })
          .execute(),
      )
    })
  }

  getAdminToken(id: string): Promise<AdminTokenRecord | undefined> {
    return this.#run('read an admin token', async () => {
      const row = await this.#context.database.db
        .selectFrom('admin_tokens')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst()
      return row === undefined ? undefined : tokenFromRow(row)
    })
  }

  listAdminTokens(): Promise<AdminTokenRecord[]> {
    return this.#run('list admin tokens', async () => {
      const rows = await this.#context.database.db
        .selectFrom('admin_tokens')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .execute()
      return rows.map(tokenFromRow)
    })
  }

  revokeAdminToken(id: string, now: number, options: AuditedWrite = {}): Promise<boolean> {
    return this.#run('revoke an admin token', () =>
      writeAudited(
        this.#context.database,
        'callout.admin_tokens',
        options.audit,
        async (db) => {
          const result = await db
            .updateTable('admin_tokens')
            .set({ revoked_at: now })
            .where('id', '=', id)
            .where('revoked_at', 'is', null)
            .executeTakeFirst()
          return Number(result.numUpdatedRows) > 0
        },
        (revoked) => revoked,
      ),
    )
  }

  appendAudit(entry: AuditRecord): Promise<AuditEntry> {
    return this.#run('append to the audit log', () =>
      this.#context.database.write((db) => insertAudit(db, entry)),
    )
  }

  listAudit(options: { limit?: number; before?: number } = {}): Promise<AuditEntry[]> {
    return this.#run('read the audit log', async () => {
      let query = this.#context.database.db
        .selectFrom('admin_audit')
        .selectAll()
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(Math.min(Math.max(options.limit ?? 100, 1), 1000))
      if (options.before !== undefined) query = query.where('at', '<', options.before)
      return (await query.execute()).map(auditFromRow)
    })
  }

  #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.#context.run(operation, fn)
  }
}

/** Counts one failed login in `trx`; at `policy.maxFailures` in a row the account locks. */
async function countLoginFailure(
  trx: Kysely<Database>,
  userId: string,
  now: number,
  policy: LockoutPolicy,
): Promise<LoginFailure> {
  await trx
    .updateTable('admin_users')
    .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1) }))
    .where('id', '=', userId)
    .execute()
  const row = await trx
    .selectFrom('admin_users')
    .select(['failed_logins', 'locked_until'])
    .where('id', '=', userId)
    .executeTakeFirst()
  const failedLogins = Number(row?.failed_logins ?? 0)
  if (failedLogins < policy.maxFailures) {
    const lockedUntil = toNumber(row?.locked_until)
    return lockedUntil === undefined || lockedUntil <= now
      ? { failedLogins }
      : { failedLogins, lockedUntil }
  }
  const lockedUntil = now + policy.lockMs
  await trx
    .updateTable('admin_users')
    .set({ failed_logins: 0, locked_until: lockedUntil })
    .where('id', '=', userId)
    .execute()
  return { failedLogins, lockedUntil }
}

async function clearLoginFailures(db: Kysely<Database>, userId: string): Promise<void> {
  await db
    .updateTable('admin_users')
    .set({ failed_logins: 0, locked_until: null })
    .where('id', '=', userId)
    .execute()
}

async function insertSession(
  db: Kysely<Database>,
  session: Omit<AdminSessionRecord, 'username'>,
): Promise<void> {
  await db
    .insertInto('admin_sessions')
    .values({
      id_hash: session.idHash,
      user_id: session.userId,
      created_at: session.createdAt,
      last_seen_at: session.lastSeenAt,
      expires_at: session.expiresAt,
    })
    .execute()
}
