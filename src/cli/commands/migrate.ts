import { CalloutError } from '../../errors.ts'
import { LATEST_SCHEMA_VERSION, copyStore, openStore } from '../../store/index.ts'
import { resolveHome } from '../../secrets/index.ts'
import { println, type CliIo } from '../io.ts'

/** Options of `callout migrate`. */
export interface MigrateOptions {
  /** Copy from this store (with `to`). */
  readonly from?: string
  /** Copy into this store (with `from`). */
  readonly to?: string
  /** Replace whatever the `to` store holds. */
  readonly overwrite?: boolean
}

/**
 * `callout migrate`: brings the store's schema up to date, printing each step. Opening the store
 * anywhere else migrates too; this command does it explicitly (e.g. before a rolling deploy).
 *
 * `callout migrate --from <store> --to <store> [--overwrite]`: copies one store into another
 * (SQLite to PostgreSQL and back) with the one master key of the home, secrets still encrypted,
 * printing progress and the row counts of both stores per table.
 *
 * @example
 * // $ callout migrate
 * // schema version 5 (up to date)
 * // $ callout migrate --from sqlite:./.callout/callout.db --to postgres://callout@db:5432/callout
 */
export async function migrateCommand(io: CliIo, options: MigrateOptions = {}): Promise<void> {
  if (options.from !== undefined || options.to !== undefined) return copyCommand(io, options)
  if (options.overwrite === true) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      '--overwrite is for copying a store: give it with --from <store> --to <store>.',
    )
  }
  const store = await openStore({
    home: resolveHome(io.env),
    env: io.env,
    onMigrationProgress: (message) => println(io, message),
  })
  await store.close()
  println(io, `schema version ${LATEST_SCHEMA_VERSION} (up to date)`)
}

async function copyCommand(io: CliIo, options: MigrateOptions): Promise<void> {
  if (options.from === undefined || options.to === undefined) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `Copying a store needs both --from <store> and --to <store> (${options.from === undefined ? '--from' : '--to'} is missing).`,
    )
  }
  const lastShown = new Map<string, number>()
  const result = await copyStore({
    from: options.from,
    to: options.to,
    home: resolveHome(io.env),
    env: io.env,
    cwd: io.cwd,
    overwrite: options.overwrite === true,
    onMigrationProgress: (side, message) =>
      println(io, `${side === 'from' ? 'from' : 'to'}: ${message}`),
    onProgress: ({ table, copied, total }) => {
      // The first and last line of each table, and one per batch in between.
      if (lastShown.get(table) === copied) return
      lastShown.set(table, copied)
      println(io, `copying ${table}: ${copied}/${total}`)
    },
  })
  println(io, 'verification (rows in the source / in the target):')
  const width = Math.max(...result.tables.map((t) => t.table.length))
  for (const t of result.tables) {
    println(io, `  ${t.table.padEnd(width)}  ${t.source} / ${t.target}  ok`)
  }
  println(io, `integrity tags verified on the target: ${result.tagsVerified} rows`)
  if (result.tagsFailed.length > 0) {
    io.stderr.write(
      `warning: ${result.tagsFailed.length} rows failed their integrity check in the source already ` +
        `(changed outside Callout) and stay refused in the target: ${result.tagsFailed.join(', ')}\n`,
    )
  }
  const rows = result.tables.reduce((sum, t) => sum + t.target, 0)
  println(
    io,
    `Copied ${rows} rows in ${result.tables.length} tables. Point CALLOUT_STORE at the new store and restart every instance.`,
  )
}
