/**
 * SQLite over better-sqlite3: WAL, the database file created 0600 and its directory 0700. Writers
 * take `BEGIN IMMEDIATE`, so they serialise across processes; within one process, writers on the
 * same file also queue on an in-process mutex.
 *
 * better-sqlite3 is synchronous: its `busy_timeout` sleeps on the event loop. So the driver waits
 * at most {@link SQLITE_BUSY_SLICE_MS} for a lock held by another process; the wait beyond that is
 * an asynchronous retry of `BEGIN IMMEDIATE` with backoff, up to `busyTimeoutMs`, during which the
 * event loop keeps running.
 */
import { closeSync, mkdirSync, openSync, realpathSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import type { RawBuilder } from 'kysely'
import type { Database } from './schema.ts'
import type { SqlDatabase } from './sql-database.ts'

/** Options for {@link openSqlite}. */
export interface SqliteOptions {
  /** A file path or `:memory:`. */
  readonly path: string
  /**
   * How long a writer waits for another process's write lock, in total, before the write fails
   * with `SQLITE_BUSY` (the store's `STORE_BUSY`). Default 5 000 ms. The wait never blocks the
   * event loop for more than {@link SQLITE_BUSY_SLICE_MS} at a time.
   */
  readonly busyTimeoutMs?: number
}

/** The longest synchronous wait for a lock inside the driver (SQLite's `busy_timeout`), in ms. */
export const SQLITE_BUSY_SLICE_MS = 2
/** Backoff between attempts to take the write lock: from the first to the longest pause, in ms. */
const RETRY_FIRST_MS = 2
const RETRY_MAX_MS = 50

const fileQueues = new Map<string, { tail: Promise<void>; users: number }>()

/**
 * Opens (creating if needed) a SQLite database. Throws the driver's error as is; the store
 * translates it.
 *
 * @example
 * const database = openSqlite({ path: '/srv/app/.callout/callout.db' })
 */
export function openSqlite(options: SqliteOptions): SqlDatabase {
  const memory = options.path === ':memory:'
  let path = options.path
  if (!memory) {
    path = resolve(options.path)
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    // Create the file owner-only before SQLite does (its -wal and -shm files copy the mode).
    closeSync(openSync(path, 'a', 0o600))
    path = realpathSync(path)
  }
  const sqlite = new BetterSqlite3(path)
  try {
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_SLICE_MS}`)
    if (!memory) sqlite.pragma('journal_mode = WAL')
    sqlite.pragma('synchronous = NORMAL')
    sqlite.pragma('foreign_keys = ON')
    sqlite.pragma('secure_delete = ON')
  } catch (error) {
    sqlite.close()
    throw error
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) })
  const queueKey = memory ? undefined : path
  if (queueKey !== undefined) {
    const entry = fileQueues.get(queueKey) ?? { tail: Promise.resolve(), users: 0 }
    entry.users++
    fileQueues.set(queueKey, entry)
  }

  async function inFileQueue<T>(fn: () => Promise<T>): Promise<T> {
    const entry = queueKey === undefined ? undefined : fileQueues.get(queueKey)
    if (entry === undefined) return fn()
    const previous = entry.tail
    let release!: () => void
    entry.tail = new Promise<void>((r) => (release = r))
    await previous
    try {
      return await fn()
    } finally {
      release()
    }
  }

  const waitMs = Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5_000))

  /** Runs `fn` in a `BEGIN IMMEDIATE` transaction, waiting asynchronously for the write lock. */
  function immediate<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return inFileQueue(() =>
      db.connection().execute(async (conn) => {
        await beginImmediate(conn, waitMs)
        try {
          const result = await fn(conn)
          await sql`commit`.execute(conn)
          return result
        } catch (error) {
          await sql`rollback`.execute(conn).catch(() => undefined)
          throw error
        }
      }),
    )
  }

  let closed = false
  return {
    dialect: 'sqlite',
    db,
    location: memory ? ':memory:' : path,
    writeTransaction<T>(_lock: string, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
      return immediate(fn)
    },
    write<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
      // A transaction too: the lock is then only ever waited for at BEGIN, where a retry is safe.
      return immediate(fn)
    },
    nowMs(): RawBuilder<number> {
      return sql<number>`cast(round((julianday('now') - 2440587.5) * 86400000) as integer)`
    },
    async tableExists(db: Kysely<Database>, name: string): Promise<boolean> {
      const row = await sql<{
        n: number
      }>`select count(*) as n from sqlite_master where type = 'table' and name = ${name}`.execute(
        db,
      )
      return Number(row.rows[0]?.n ?? 0) > 0
    },
    async close(): Promise<void> {
      if (closed) return
      closed = true
      if (queueKey !== undefined) {
        const entry = fileQueues.get(queueKey)
        if (entry !== undefined && --entry.users === 0) fileQueues.delete(queueKey)
      }
      await db.destroy()
    },
  }
}

/**
 * `BEGIN IMMEDIATE`, retried with backoff while another connection holds the write lock, until
 * `waitMs` have passed; then the last `SQLITE_BUSY` error is thrown. Each attempt blocks for at most
 * {@link SQLITE_BUSY_SLICE_MS}; the pauses between attempts are timers.
 */
async function beginImmediate(conn: Kysely<Database>, waitMs: number): Promise<void> {
  const deadline = performance.now() + waitMs
  let pause = RETRY_FIRST_MS
  for (;;) {
    try {
      await sql`begin immediate`.execute(conn)
      return
    } catch (error) {
      const left = deadline - performance.now()
      if (!isBusy(error) || left <= 0) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)))
      pause = Math.min(pause * 2, RETRY_MAX_MS)
    }
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return (
    typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
  )
}
