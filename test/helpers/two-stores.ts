/**
 * Two stores on one new database of a dialect (SQLite in a temp dir, or a fresh schema of the
 * test PostgreSQL), as two `callout serve` instances share one; `cleanup` drops what was made.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MasterKey } from '../../src/secrets/master-key.ts'
import type { KyselyStore } from '../../src/store/kysely-store.ts'
import { openStore } from '../../src/store/open-store.ts'
import { dropTestSchemas, requirePostgres, testPostgresUrl, testSchemaName } from './postgres.ts'

/** Opens pairs of stores and removes their databases in {@link TwoStores.cleanup}. */
export interface TwoStores {
  open(dialect: 'sqlite' | 'postgres'): Promise<[KyselyStore, KyselyStore]>
  cleanup(): Promise<void>
}

/** Makes a {@link TwoStores}; `prefix` names the temp dirs and schemas. */
export function twoStores(prefix: string): TwoStores {
  const schemas: string[] = []
  const dirs: string[] = []
  return {
    open: async (dialect) => {
      const masterKey = MasterKey.generate()
      const dir = await mkdtemp(join(tmpdir(), `${prefix.replace(/_/g, '-')}-`))
      dirs.push(dir)
      let options: { url: string; schema?: string }
      if (dialect === 'postgres') {
        await requirePostgres()
        const schema = testSchemaName(prefix)
        schemas.push(schema)
        options = { url: testPostgresUrl(), schema }
      } else {
        options = { url: `sqlite:${join(dir, 'callout.db')}` }
      }
      const open = () => openStore({ ...options, home: dir, masterKey, env: {} })
      const first = await open()
      return [first, await open()]
    },
    cleanup: async () => {
      await dropTestSchemas(schemas)
      for (const dir of dirs) await rm(dir, { recursive: true, force: true })
    },
  }
}
