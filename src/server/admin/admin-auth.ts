/**
 * Admin authentication for the console and admin API: password logins with lockout, sessions in
 * the database (any instance on the same store accepts them), admin API tokens, and the audit
 * log. The session cookie holds 256 random bits; the store keeps only their SHA-256.
 */
import { randomBytes } from 'node:crypto'
import type { Clock } from '../../clock.ts'
import { CalloutError } from '../../errors.ts'
import type {
  AdminSessionRecord,
  AdminStore,
  AuditDetails,
  AuditEntry,
  AuditRecord,
  LockoutPolicy,
  LoginFailure,
} from '../../store/admin.ts'
import { hashClientKey } from '../client-key.ts'
import { adminTokenId, generateAdminToken, verifyAdminToken } from './admin-tokens.ts'
import { hashPassword, verifyNobody, verifyPassword, type ScryptCost } from './passwords.ts'

/** Defaults of {@link AdminAuthOptions}. */
export const ADMIN_AUTH_DEFAULTS = Object.freeze({
  /** Five failures in a row lock the account for 15 minutes. */
  lockout: Object.freeze({ maxFailures: 5, lockMs: 15 * 60_000 }) as LockoutPolicy,
  /** A session ends after 30 minutes without a request… */
  sessionIdleMs: 30 * 60_000,
  /** …and after 12 hours in any case. */
  sessionMaxMs: 12 * 60 * 60_000,
})

/** Options for {@link AdminAuth}. */
export interface AdminAuthOptions {
  readonly store: AdminStore
  readonly clock: Clock
  readonly lockout?: LockoutPolicy
  readonly sessionIdleMs?: number
  readonly sessionMaxMs?: number
  /**
   * The scrypt cost of the password hashes this instance writes (default `SCRYPT_PARAMS`, N =
   * 2^15). A lower cost makes passwords cheaper to guess from a stolen database: tests only.
   */
  readonly scryptCost?: ScryptCost
}

/** What an audit entry says; its time is added by {@link AdminAuth}. Never a secret. */
export interface AuditInput {
  readonly actor: string
  readonly action: string
  readonly target: string
  readonly details?: AuditDetails
  readonly remote?: string
}

/** Who made a request: an admin (by session) or an admin API token. */
export interface AdminActor {
  /** `admin:<username>` or `token:<id>`: what the audit log records. */
  readonly actor: string
  readonly username: string
}

/** A new session: the cookie value to set (shown to the browser only) and its record. */
export interface NewSession {
  readonly cookie: string
  readonly session: AdminSessionRecord
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/

/**
 * Checks an admin username: 1–64 letters, digits, `.`, `_`, `@` or `-`, starting with a letter or
 * digit.
 *
 * @example
 * checkUsername('alice@example.com') // ok
 */
export function checkUsername(username: string): void {
  if (!USERNAME.test(username)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      'An admin username must have 1–64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit.',
      { details: { field: 'username' } },
    )
  }
}

/**
 * Logins, sessions, tokens and audit entries over an {@link AdminStore}.
 *
 * @example
 * const auth = new AdminAuth({ store: store.admin, clock: systemClock })
 * const { cookie } = await auth.login('alice', password, '127.0.0.1')
 */
export class AdminAuth {
  readonly #store: AdminStore
  readonly #clock: Clock
  readonly #lockout: LockoutPolicy
  readonly #idleMs: number
  readonly #maxMs: number
  readonly #scryptCost: ScryptCost | undefined

  constructor(options: AdminAuthOptions) {
    this.#store = options.store
    this.#clock = options.clock
    this.#lockout = options.lockout ?? ADMIN_AUTH_DEFAULTS.lockout
    this.#idleMs = options.sessionIdleMs ?? ADMIN_AUTH_DEFAULTS.sessionIdleMs
    this.#maxMs = options.sessionMaxMs ?? ADMIN_AUTH_DEFAULTS.sessionMaxMs
    this.#scryptCost = options.scryptCost
  }

  /** The store (for the audit page and token commands). */
  get store(): AdminStore {
    return this.#store
  }

  /** True when at least one admin exists (the login page says how to create the first). */
  async hasAdmins(): Promise<boolean> {
    return (await this.#store.countAdminUsers()) > 0
  }

  /**
   * Creates an admin user (scrypt hash), with its audit entry in the same transaction.
   *
   * @example
   * await auth.createAdmin('alice', 'correct horse battery staple', 'cli')
   */
  async createAdmin(username: string, password: string, actor: string): Promise<void> {
    checkUsername(username)
    const passwordHash = await hashPassword(password, this.#scryptCost)
    const now = this.#clock.now()
    await this.#store.createAdminUser(
      {
        id: `adm_${randomBytes(8).toString('hex')}`,
        username,
        passwordHash,
        createdAt: now,
        updatedAt: now,
      },
      { audit: this.entry({ actor, action: 'admin.create', target: `Admin/${username}` }) },
    )
  }

  /**
   * Sets a new password, clears a lockout and ends the user's sessions, with its audit entry in
   * the same transaction.
   *
   * @example
   * await auth.setPassword('alice', 'a new long passphrase', 'cli')
   */
  async setPassword(username: string, password: string, actor: string): Promise<void> {
    const passwordHash = await hashPassword(password, this.#scryptCost)
    const done = await this.#store.setAdminPassword(username, passwordHash, this.#clock.now(), {
      audit: this.entry({ actor, action: 'admin.password', target: `Admin/${username}` }),
    })
    if (!done) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `No admin is named ${JSON.stringify(username)}; create one with \`callout admin create --username ${username}\`.`,
        { details: { field: 'username' } },
      )
    }
  }

  /**
   * Checks a username and password and opens a session. A locked account is refused even with
   * the right password; failures count towards the lockout; every outcome is audited (never the
   * password), a stored change (a counted failure, a new session) in the change's transaction.
   * An unknown username costs the same time as a wrong password.
   *
   * @throws CalloutError `ADMIN_LOGIN_FAILED` or `ADMIN_LOCKED_OUT`.
   */
  async login(username: string, password: string, remote?: string): Promise<NewSession> {
    const now = this.#clock.now()
    const user = USERNAME.test(username) ? await this.#store.getAdminUser(username) : undefined
    const target = `Admin/${USERNAME.test(username) ? username : '?'}`
    const where = remote === undefined ? {} : { remote }
    if (user?.lockedUntil !== undefined && user.lockedUntil > now) {
      await this.audit({ actor: 'anonymous', action: 'admin.login-locked', target, ...where })
      throw lockedOut(user.lockedUntil)
    }
    const ok =
      user === undefined
        ? await verifyNobody(password)
        : await verifyPassword(password, user.passwordHash)
    if (user === undefined || !ok) {
      const failed = (locked: boolean) =>
        this.entry({
          actor: 'anonymous',
          action: 'admin.login-failed',
          target,
          ...where,
          ...(locked ? { details: { locked: true } } : {}),
        })
      // An unknown name changes nothing stored; a known one counts the failure with its entry.
      let state: LoginFailure | undefined
      if (user === undefined) await this.#store.appendAudit(failed(false))
      else {
        state = await this.#store.recordLoginFailure(user.id, now, this.#lockout, {
          audit: (counted) => failed(counted.lockedUntil !== undefined),
        })
      }
      if (state?.lockedUntil !== undefined) throw lockedOut(state.lockedUntil)
      throw new CalloutError(
        'ADMIN_LOGIN_FAILED',
        `Wrong username or password. After ${this.#lockout.maxFailures} failures in a row the account is locked for ${Math.round(this.#lockout.lockMs / 60_000)} minutes.`,
      )
    }
    const cookie = randomBytes(32).toString('base64url')
    const session: AdminSessionRecord = {
      idHash: hashClientKey(cookie),
      userId: user.id,
      username: user.username,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: Math.min(now + this.#idleMs, now + this.#maxMs),
    }
    await this.#store.openSession(session, {
      audit: this.entry({
        actor: `admin:${user.username}`,
        action: 'admin.login',
        target,
        ...where,
      }),
    })
    return { cookie, session }
  }

  /**
   * The admin behind a session cookie, or `undefined` (unknown, expired, malformed). Extends the
   * session's idle expiry (at most once a minute), never past its maximum age.
   */
  async session(cookie: string | undefined): Promise<AdminSessionRecord | undefined> {
    if (cookie === undefined || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) return undefined
    const now = this.#clock.now()
    const session = await this.#store.getSession(hashClientKey(cookie), now)
    if (session === undefined) return undefined
    if (now - session.lastSeenAt >= 60_000) {
      const expiresAt = Math.min(now + this.#idleMs, session.createdAt + this.#maxMs)
      await this.#store.touchSession(session.idHash, now, expiresAt)
      return { ...session, lastSeenAt: now, expiresAt }
    }
    return session
  }

  /** Ends a session (logout); audited, in the same transaction, when it existed. */
  async logout(cookie: string | undefined, remote?: string): Promise<void> {
    const session = await this.session(cookie)
    if (session === undefined) return
    await this.#store.deleteSession(session.idHash, {
      audit: this.entry({
        actor: `admin:${session.username}`,
        action: 'admin.logout',
        target: `Admin/${session.username}`,
        ...(remote === undefined ? {} : { remote }),
      }),
    })
  }

  /**
   * Creates an admin API token (only its SHA-256 is stored), with its audit entry
   * (`adminToken.create`) in the same transaction. The token is returned once, to be shown once.
   *
   * @example
   * const { id, token } = await auth.createToken('deploy-bot', 'cli', 30 * 24 * 3600_000)
   */
  async createToken(
    name: string,
    actor: string,
    expiresInMs?: number,
  ): Promise<{ readonly id: string; readonly token: string; readonly expiresAt?: number }> {
    const { id, token, hash } = generateAdminToken()
    const now = this.#clock.now()
    const expiresAt = expiresInMs === undefined ? undefined : now + expiresInMs
    await this.#store.createAdminToken(
      {
        id,
        name,
        tokenHash: hash,
        createdBy: actor,
        createdAt: now,
        ...(expiresAt === undefined ? {} : { expiresAt }),
      },
      {
        audit: this.entry({
          actor,
          action: 'adminToken.create',
          target: `AdminToken/${id}`,
          details: { name },
        }),
      },
    )
    return { id, token, ...(expiresAt === undefined ? {} : { expiresAt }) }
  }

  /**
   * Revokes an admin API token, with its audit entry (`adminToken.revoke`) in the same
   * transaction; false (and no entry) when no active token has this id.
   *
   * @example
   * await auth.revokeToken('3f2a1b0c9d8e', 'cli')
   */
  revokeToken(id: string, actor: string): Promise<boolean> {
    return this.#store.revokeAdminToken(id, this.#clock.now(), {
      audit: this.entry({ actor, action: 'adminToken.revoke', target: `AdminToken/${id}` }),
    })
  }

  /**
   * The actor behind an admin API token (`Authorization: Bearer cat_…`).
   *
   * @throws CalloutError `ADMIN_AUTH_REQUIRED` for a missing, malformed, unknown, expired or
   *   revoked token.
   */
  async token(authorization: string | undefined): Promise<AdminActor> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '')
    const token = match?.[1]
    const id = token === undefined ? undefined : adminTokenId(token)
    const record = id === undefined ? undefined : await this.#store.getAdminToken(id)
    if (token === undefined || record === undefined || !verifyAdminToken(token, record.tokenHash)) {
      throw new CalloutError(
        'ADMIN_AUTH_REQUIRED',
        'The admin API needs Authorization: Bearer cat_… (create a token with `callout admin token create --name <name>`).',
      )
    }
    const now = this.#clock.now()
    if (
      record.revokedAt !== undefined ||
      (record.expiresAt !== undefined && record.expiresAt <= now)
    ) {
      throw new CalloutError(
        'ADMIN_AUTH_REQUIRED',
        `Admin API token ${record.id} is ${record.revokedAt === undefined ? 'expired' : 'revoked'}; create a new one with \`callout admin token create --name <name>\`.`,
        { details: { tokenId: record.id } },
      )
    }
    return { actor: `token:${record.id}`, username: record.createdBy }
  }

  /**
   * Appends an audit entry at the current time, on its own: for actions that change nothing
   * stored (a doctor run, a refused revocation). A change passes {@link AdminAuth.entry} to its
   * store write instead, so that the change and its entry are stored together or not at all.
   * Details never carry secrets.
   */
  audit(entry: AuditInput): Promise<AuditEntry> {
    return this.#store.appendAudit(this.entry(entry))
  }

  /**
   * The audit entry of a change at the current time, for the change's own store write (its
   * `audit` option).
   *
   * @example
   * await store.admin.revokeAdminToken(id, now, { audit: auth.entry({ actor: 'cli', action: 'adminToken.revoke', target }) })
   */
  entry(entry: AuditInput): AuditRecord {
    return { details: {}, ...entry, at: this.#clock.now() }
  }
}

function lockedOut(until: number): CalloutError {
  return new CalloutError(
    'ADMIN_LOCKED_OUT',
    `Too many failed logins: this account is locked until ${new Date(until).toISOString()}. Wait, or set a new password with \`callout admin password --username <name>\`.`,
    { details: { lockedUntil: new Date(until).toISOString() } },
  )
}
