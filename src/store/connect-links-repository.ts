/**
 * The connect links repository: per-user connect links between the admin minting them and the
 * end user opening them. Only the SHA-256 of each link token is stored (`id_hash`), and, once
 * the link is opened, the SHA-256 of the cookie that binds the browser (`browser_hash`). Opening
 * a link is one conditional `UPDATE … RETURNING`: single use even when two browsers race.
 */
import type { Selectable } from 'kysely'
import { CalloutError } from '../errors.ts'
import { auditOf, writeAudited, type AuditedWrite } from './admin.ts'
import type { RepositoryContext } from './repository-context.ts'
import { toNumber, type ConnectLinksTable } from './schema.ts'
import { assertKeyPart, withoutUndefined } from './store-validation.ts'
import type { ConnectLink, ConnectLinkUse } from './types.ts'

/** Expired links are kept this long (so that a late visitor hears "expired", not "unknown"). */
const KEEP_EXPIRED_MS = 24 * 60 * 60 * 1000
const SHA256_HEX = /^[0-9a-f]{64}$/
/** The write lock of audited connect link changes. */
const LINKS_LOCK = 'callout.connect_links'

function linkFromRow(row: Selectable<ConnectLinksTable>): ConnectLink {
  return withoutUndefined<ConnectLink>({
    idHash: row.id_hash,
    namedCredential: row.named_credential,
    externalCredential: row.external_credential,
    principal: row.principal,
    userId: row.user_id,
    createdBy: row.created_by,
    createdAt: toNumber(row.created_at),
    expiresAt: toNumber(row.expires_at),
    usedAt: toNumber(row.used_at),
  })
}

/**
 * Reads and writes the `connect_links` table.
 *
 * @example
 * const links = new ConnectLinksRepository(context)
 * const use = await links.use(idHash, browserHash, Date.now())
 */
export class ConnectLinksRepository {
  readonly #context: RepositoryContext

  constructor(context: RepositoryContext) {
    this.#context = context
  }

  /**
   * Stores a new, unused link (and forgets links expired more than a day ago); with `audit`, in
   * one transaction with that entry.
   */
  async put(link: Omit<ConnectLink, 'usedAt'>, options: AuditedWrite = {}): Promise<void> {
    assertLink(link)
    await this.#context.run('store a connect link', async () => {
      await writeAudited(this.#context.database, LINKS_LOCK, options.audit, async (db) => {
        await db
          .deleteFrom('connect_links')
          .where('expires_at', '<=', link.createdAt - KEEP_EXPIRED_MS)
          .execute()
        return db
          .insertInto('connect_links')
          .values({
            id_hash: link.idHash,
            named_credential: link.namedCredential,
            external_credential: link.externalCredential,
            principal: link.principal,
            user_id: link.userId,
            created_by: link.createdBy,
            created_at: link.createdAt,
            expires_at: link.expiresAt,
            used_at: null,
            browser_hash: null,
          })
          .execute()
      })
    })
  }

  /** The link with this token hash, used or not; undefined when unknown. */
  get(idHash: string): Promise<ConnectLink | undefined> {
    return this.#find('id_hash', idHash)
  }

  /**
   * Opens a link once: marks it used and binds it to `browserHash`, atomically. A second opening,
   * an expired or an unknown link changes nothing and says why. With `audit`, the opening and
   * its entry are written in one transaction (no entry when nothing was opened).
   */
  async use(
    idHash: string,
    browserHash: string,
    now: number,
    options: AuditedWrite<ConnectLink> = {},
  ): Promise<ConnectLinkUse> {
    if (!SHA256_HEX.test(browserHash)) {
      throw new CalloutError('INVALID_ARGUMENT', 'browserHash must be a SHA-256 in hex.')
    }
    if (!SHA256_HEX.test(idHash)) return { ok: false, reason: 'unknown' }
    return this.#context.run('open a connect link', async () => {
      const { audit } = options
      const opened = await writeAudited<ConnectLink | undefined>(
        this.#context.database,
        LINKS_LOCK,
        // Asked only when a link was opened.
        audit === undefined ? undefined : (link) => auditOf(audit, link!),
        async (db) => {
          const row = await db
            .updateTable('connect_links')
            .set({ used_at: now, browser_hash: browserHash })
            .where('id_hash', '=', idHash)
            .where('used_at', 'is', null)
            .where('expires_at', '>', now)
            .returningAll()
            .executeTakeFirst()
          return row === undefined ? undefined : linkFromRow(row)
        },
        (link) => link !== undefined,
      )
      if (opened !== undefined) return { ok: true, link: opened }
      const link = await this.get(idHash)
      if (link === undefined) return { ok: false, reason: 'unknown' }
      return { ok: false, reason: link.usedAt !== undefined ? 'used' : 'expired' }
    })
  }

  /** The opened link bound to this browser cookie hash, if any. */
  ofBrowser(browserHash: string): Promise<ConnectLink | undefined> {
    return this.#find('browser_hash', browserHash)
  }

  async #find(column: 'id_hash' | 'browser_hash', hash: string): Promise<ConnectLink | undefined> {
    if (!SHA256_HEX.test(hash)) return undefined
    return this.#context.run('read a connect link', async () => {
      const row = await this.#context.database.db
        .selectFrom('connect_links')
        .selectAll()
        .where(column, '=', hash)
        .executeTakeFirst()
      return row === undefined ? undefined : linkFromRow(row)
    })
  }
}

function assertLink(link: Omit<ConnectLink, 'usedAt'>): void {
  if (typeof link !== 'object' || link === null) {
    throw new CalloutError('INVALID_ARGUMENT', 'A connect link must be an object.')
  }
  if (typeof link.idHash !== 'string' || !SHA256_HEX.test(link.idHash)) {
    throw new CalloutError('INVALID_ARGUMENT', 'idHash must be a SHA-256 in hex.')
  }
  assertKeyPart(link.namedCredential, 'namedCredential', false)
  assertKeyPart(link.externalCredential, 'externalCredential', false)
  assertKeyPart(link.principal, 'principal', false)
  assertKeyPart(link.userId, 'userId', false)
  assertKeyPart(link.createdBy, 'createdBy', false)
  if (!Number.isSafeInteger(link.createdAt) || !Number.isSafeInteger(link.expiresAt)) {
    throw new CalloutError('INVALID_ARGUMENT', 'createdAt and expiresAt must be integers (ms).')
  }
}
