import { LATEST_SCHEMA_VERSION, openStore } from '../../store/index.ts'
import { resolveHome } from '../../secrets/index.ts'
import { println, type CliIo } from '../io.ts'

/**
 * `callout migrate`: brings the store's schema up to date, printing each step. Opening the store
 * anywhere else migrates too; this command does it explicitly (e.g. before a rolling deploy).
 *
 * @example
 * // $ callout migrate
 * // schema version 1 (up to date)
 */
export async function migrateCommand(io: CliIo): Promise<void> {
  const store = await openStore({
    home: resolveHome(io.env),
    env: io.env,
    onMigrationProgress: (message) => println(io, message),
  })
  await store.close()
  println(io, `schema version ${LATEST_SCHEMA_VERSION} (up to date)`)
}
