/**
 * Copying one store into another (`callout migrate --from <store> --to <store>`), e.g. SQLite to
 * PostgreSQL and back. Both stores are opened with the same master key, so rows are copied as
 * they are stored: data keys still wrapped, secrets still encrypted, integrity tags unchanged (each
 * is bound to its table, column and row, which are the same in the target). No secret is ever
 * decrypted. The target must be empty unless `overwrite` is given; the copy is one transaction on
 * the target, then verified: row counts per table, and every integrity tag on the target.
 */
import { randomBytes } from 'node:crypto'
import { isAbsolute, resolve } from 'node:path'
import { realpathSync } from 'node:fs'
import type { Kysely } from 'kysely'
import { CalloutError, isCalloutError } from '../errors.ts'
import type { RepositoryContext } from './repository-context.ts'
import { tagInputOf } from './tagged-rows.ts'
import type { Database } from './schema.ts'
import type { StoreLocation } from './open-store.ts'
import type { RowMacInput } from '../secrets/row-mac.ts'

/** A table the copy carries, with its primary key (the order rows are read in). */
interface CopiedTable {
  readonly table: keyof Database
  readonly key: readonly string[]
  /** What the row's integrity tag covers, for tables that have one. */
  readonly macInput?: (row: Record<string, unknown>) => RowMacInput
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null)

/** Every table the copy carries, in insertion order (data keys first). */
export const COPIED_TABLES: readonly CopiedTable[] = Object.freeze(
  (
    [
      ['data_keys', ['id']],
      ['auth_providers', ['name']],
      ['external_credentials', ['name']],
      ['named_credentials', ['name']],
      ['credentials', ['external_credential', 'principal', 'user_id']],
      ['pending_authorizations', ['state']],
      ['client_keys', ['id']],
      ['admin_users', ['id']],
      ['admin_sessions', ['id_hash']],
      ['admin_tokens', ['id']],
      ['admin_audit', ['id']],
      ['connect_links', ['id_hash']],
    ] as const
  ).map(([table, key]): CopiedTable => {
    const macInput = tagInputOf(table)
    return { table, key, ...(macInput === undefined ? {} : { macInput }) }
  }),
)

/**
 * Tables the copy leaves alone: `callout_meta` (each store records its own schema version, and
 * both are migrated to the latest before copying), `leases` (held by running processes) and
 * `rate_limits` (counters of the current minute).
 */
export const TABLES_NOT_COPIED: readonly string[] = Object.freeze([
  'callout_meta',
  'leases',
  'rate_limits',
])

/** Progress of a copy: one line's worth. */
export interface CopyProgress {
  readonly table: string
  /** Rows copied so far in this table. */
  readonly copied: number
  /** Rows in the source table. */
  readonly total: number
}

/** What was copied, per table, and what the verification found. */
export interface CopyResult {
  readonly tables: readonly {
    readonly table: string
    readonly source: number
    readonly target: number
  }[]
  /** Rows on the target whose integrity tags verify. */
  readonly tagsVerified: number
  /**
   * Rows whose tags do not verify (they failed on the source already: changed outside Callout);
   * copied as they were, and refused on the target as on the source.
   */
  readonly tagsFailed: readonly string[]
}

/** Options of a copy. */
export interface CopyOptions {
  /** Replace whatever the target holds. Default false: a non-empty target is refused. */
  readonly overwrite?: boolean
  /** Rows read per batch. Default 500. */
  readonly batchSize?: number
  readonly onProgress?: (progress: CopyProgress) => void
}

/**
 * Copies every row of {@link COPIED_TABLES} from `source` to `target` (contexts of two opened
 * stores, migrated, opened with the same master key). The target's context must not be used for
 * writes afterwards (its data keys are replaced): close it. Prefer `copyStore` in `open-store.ts`.
 */
export async function copyRows(
  source: RepositoryContext,
  target: RepositoryContext,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const batchSize = options.batchSize ?? 500
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 5_000) {
    throw new CalloutError('INVALID_ARGUMENT', 'batchSize must be an integer from 1 to 5 000.')
  }
  await refuseSameStore(source, target)
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one loop over tables of different shapes
  const from = source.database.db as unknown as Kysely<any>
  const totals = new Map<string, number>()
  for (const { table } of COPIED_TABLES) totals.set(table, await countRows(from, table))

  await target.run('copy into the target store', () =>
    target.database.writeTransaction('callout.copy', async (trx) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const to = trx as unknown as Kysely<any>
      const occupied: string[] = []
      for (const { table } of COPIED_TABLES) {
        if (table === 'data_keys') continue
        const n = await countRows(to, table)
        if (n > 0) occupied.push(`${table} (${n})`)
      }
      if (occupied.length > 0 && options.overwrite !== true) {
        throw new CalloutError(
          'STORE_NOT_EMPTY',
          `The target store at ${target.database.location} is not empty: ${occupied.join(', ')}. ` +
            'Copy into an empty store, or pass --overwrite to replace everything it holds.',
          { details: { tables: occupied } },
        )
      }
      // The target's own data keys (its first open created one) give way to the source's.
      for (const { table } of [...COPIED_TABLES].reverse()) await to.deleteFrom(table).execute()
      for (const { table, key } of COPIED_TABLES) {
        const total = totals.get(table) ?? 0
        let copied = 0
        options.onProgress?.({ table, copied, total })
        for (;;) {
          let page = from.selectFrom(table).selectAll()
          for (const column of key) page = page.orderBy(column)
          const rows = (await page.limit(batchSize).offset(copied).execute()) as Record<
            string,
            unknown
          >[]
          if (rows.length === 0) break
          await to.insertInto(table).values(rows).execute()
          copied += rows.length
          options.onProgress?.({ table, copied, total })
          if (rows.length < batchSize) break
        }
      }
    }),
  )
  return verify(source, target, totals)
}

/** Counts rows on both sides and checks every integrity tag on the target. */
async function verify(
  source: RepositoryContext,
  target: RepositoryContext,
  before: ReadonlyMap<string, number>,
): Promise<CopyResult> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const from = source.database.db as unknown as Kysely<any>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const to = target.database.db as unknown as Kysely<any>
  const tables: { table: string; source: number; target: number }[] = []
  const mismatched: string[] = []
  for (const { table } of COPIED_TABLES) {
    const counts = {
      table,
      source: await countRows(from, table),
      target: await countRows(to, table),
    }
    tables.push(counts)
    if (counts.source !== counts.target || counts.source !== before.get(table)) {
      mismatched.push(`${table}: source ${counts.source}, target ${counts.target}`)
    }
  }
  if (mismatched.length > 0) {
    throw new CalloutError(
      'STORE_ERROR',
      `The copy did not verify (${mismatched.join('; ')}): the source changed while it was being ` +
        'copied. Stop every process that writes to it (callout serve, apply), then copy again ' +
        'with --overwrite.',
      { details: { mismatched } },
    )
  }
  let tagsVerified = 0
  const tagsFailed: string[] = []
  for (const { table, key, macInput } of COPIED_TABLES) {
    if (macInput === undefined) continue
    const rows = (await to.selectFrom(table).selectAll().execute()) as Record<string, unknown>[]
    await target.ensureKeys(
      target.database.db,
      rows.map((row) => text(row['mac'])),
    )
    for (const row of rows) {
      if (target.ring.verify(text(row['mac']), macInput(row))) tagsVerified++
      else tagsFailed.push(`${table}:${key.map((column) => String(row[column])).join('/')}`)
    }
  }
  return { tables, tagsVerified, tagsFailed }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function countRows(db: Kysely<any>, table: string): Promise<number> {
  const row = (await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirst()) as { n?: unknown } | undefined
  return Number(row?.n ?? 0)
}

/**
 * Refuses to copy a store onto itself (which, with `overwrite`, would empty it): a marker written
 * to the target must not be visible in the source.
 */
async function refuseSameStore(
  source: RepositoryContext,
  target: RepositoryContext,
): Promise<void> {
  const probe = `copy_probe_${randomBytes(8).toString('hex')}`
  await target.run('write to the target store', () =>
    target.database.write((db) =>
      db.insertInto('callout_meta').values({ key: probe, value: 'probe' }).execute(),
    ),
  )
  try {
    const seen = await source.run('read the source store', () =>
      source.database.db
        .selectFrom('callout_meta')
        .select('key')
        .where('key', '=', probe)
        .executeTakeFirst(),
    )
    if (seen !== undefined) throw sameStore(source.database.location)
  } finally {
    await target
      .run('write to the target store', () =>
        target.database.write((db) =>
          db.deleteFrom('callout_meta').where('key', '=', probe).execute(),
        ),
      )
      .catch((error: unknown) => {
        if (!isCalloutError(error)) throw error
      })
  }
}

/** `INVALID_ARGUMENT` for a copy whose source and target are one store. */
export function sameStore(location: string): CalloutError {
  return new CalloutError(
    'INVALID_ARGUMENT',
    `--from and --to name the same store (${location}): give the store to copy from and another ` +
      'one to copy into.',
  )
}

/**
 * A comparable form of a store location: the real path of a SQLite file, or the host, port,
 * database and options of a PostgreSQL URL. Two equal keys are one store for certain; two
 * different keys may still be one store (a symlink, a host alias), which the copy checks too.
 */
export function locationKey(location: StoreLocation, cwd: string): string {
  if (location.dialect === 'sqlite') {
    if (location.path === ':memory:') return `sqlite::memory:${randomBytes(8).toString('hex')}`
    const path = isAbsolute(location.path) ? location.path : resolve(cwd, location.path)
    try {
      return `sqlite:${realpathSync(path)}`
    } catch {
      return `sqlite:${path}`
    }
  }
  const url = new URL(location.url)
  const database = url.pathname.replace(/^\//, '') || decodeURIComponent(url.username)
  return `postgres://${url.hostname.toLowerCase()}:${url.port || '5432'}/${database}?${url.searchParams.get('options') ?? ''}`
}
