/**
 * Raw SQL against a test store's database, bypassing Callout entirely (as someone with database
 * access would): `?` placeholders on both dialects.
 */
import BetterSqlite3 from 'better-sqlite3'
import { withPostgres } from './postgres.ts'

/** Runs one statement on a SQLite file; returns the rows of a query, `[]` otherwise. */
export function rawSqlite(
  path: string,
  sql: string,
  params: unknown[] = [],
): Record<string, unknown>[] {
  const db = new BetterSqlite3(path)
  try {
    db.pragma('busy_timeout = 5000')
    const stmt = db.prepare(sql)
    return stmt.reader
      ? (stmt.all(...params) as Record<string, unknown>[])
      : (stmt.run(...params), [])
  } finally {
    db.close()
  }
}

/** Runs one statement in a schema of the test PostgreSQL; returns its rows. */
export function rawPostgres(
  schema: string,
  sql: string,
  params: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  return withPostgres(async (client) => {
    let i = 0
    const result = await client.query(
      sql.replace(/\?/g, () => `$${++i}`),
      params,
    )
    return result.rows as Record<string, unknown>[]
  }, schema)
}
