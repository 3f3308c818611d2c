/**
 * Opens the configured store: `CALLOUT_STORE` (or `url`) selects SQLite or PostgreSQL; the
 * default is SQLite at `<home>/callout.db` (WAL; lock waits never block the event loop).
 */
import { existsSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import type { Clock } from '../clock.ts'
import { CalloutError, isCalloutError } from '../errors.ts'
import { MASTER_KEY_FILE, loadMasterKey } from '../secrets/master-key.ts'
import type { CalloutEnv, MasterKey } from '../secrets/master-key.ts'
import { locationKey, sameStore } from './copy-store.ts'
import type { CopyOptions, CopyResult } from './copy-store.ts'
import { KyselyStore } from './kysely-store.ts'
import { openPostgres, redactStoreUrl } from './postgres.ts'
import type { RotateOptions, RotateResult } from './rotate-master-key.ts'
import { openSqlite } from './sqlite.ts'
import type { SqlDatabase } from './sql-database.ts'
import { toStoreError } from './store-error.ts'

/** The default SQLite file name inside the Callout home. */
export const DEFAULT_DATABASE_FILE = 'callout.db'

/** Options for {@link openStore}. */
export interface OpenStoreOptions {
  /**
   * `sqlite:<path>`, `:memory:` (or `sqlite::memory:`), or `postgres://…`/`postgresql://…`.
   * Default: `CALLOUT_STORE`, else `sqlite:<home>/callout.db`.
   */
  readonly url?: string
  /** The Callout home (see `resolveHome`). */
  readonly home: string
  /** The master key; default: loaded from `CALLOUT_MASTER_KEY` or `<home>/master.key`. */
  readonly masterKey?: MasterKey
  readonly clock?: Clock
  /** Environment to read `CALLOUT_STORE` and the master key from. Default `process.env`. */
  readonly env?: CalloutEnv
  /** PostgreSQL only: a schema to use (created if missing), e.g. one per test run. */
  readonly schema?: string
  /** SQLite only: how long a writer waits (asynchronously) for another process's lock. Default 5 000 ms. */
  readonly busyTimeoutMs?: number
  /** Migration progress messages. */
  readonly onMigrationProgress?: (message: string) => void
}

/** A parsed store location. */
export type StoreLocation =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | { readonly dialect: 'postgres'; readonly url: string }

/**
 * Parses a store URL. Anything unrecognised is `CONFIG_INVALID` (the message never echoes a
 * password).
 *
 * @example
 * parseStoreUrl('sqlite:./data/callout.db', '/srv/app/.callout') // { dialect: 'sqlite', path: './data/callout.db' }
 */
export function parseStoreUrl(url: string | undefined, home: string): StoreLocation {
  const value = url?.trim() ?? ''
  if (value === '') return { dialect: 'sqlite', path: join(home, DEFAULT_DATABASE_FILE) }
  if (value === ':memory:' || value === 'sqlite::memory:')
    return { dialect: 'sqlite', path: ':memory:' }
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
    if (path === '' || path.includes('\0')) {
      throw new CalloutError(
        'CONFIG_INVALID',
        'CALLOUT_STORE=sqlite:<path> needs a file path, e.g. sqlite:./.callout/callout.db.',
      )
    }
    return { dialect: 'sqlite', path }
  }
  if (/^postgres(ql)?:\/\//i.test(value)) {
    try {
      new URL(value)
    } catch {
      throw new CalloutError(
        'CONFIG_INVALID',
        'CALLOUT_STORE is not a valid postgres:// URL (percent-encode special characters in the password).',
      )
    }
    return { dialect: 'postgres', url: value }
  }
  throw new CalloutError(
    'CONFIG_INVALID',
    'CALLOUT_STORE must be sqlite:<path>, :memory: or postgres://user:password@host:port/database.',
  )
}

/**
 * Opens the store: loads the master key (unless given), opens the database, refuses a newer
 * schema or a wrong master key, and migrates.
 *
 * @example
 * const home = resolveHome(process.env)
 * const store = await openStore({ home })
 * const defs = await store.loadDefinitions()
 */
export async function openStore(options: OpenStoreOptions): Promise<KyselyStore> {
  const env = options.env ?? process.env
  const location = parseStoreUrl(options.url ?? env.CALLOUT_STORE, options.home)
  const masterKey = options.masterKey ?? (await loadMasterKey({ env, home: options.home }))
  const where = location.dialect === 'sqlite' ? location.path : redactStoreUrl(location.url)
  let database: SqlDatabase
  try {
    database =
      location.dialect === 'sqlite'
        ? openSqlite({
            path: location.path,
            ...(options.busyTimeoutMs === undefined
              ? {}
              : { busyTimeoutMs: options.busyTimeoutMs }),
          })
        : await openPostgres({
            url: location.url,
            ...(options.schema === undefined ? {} : { schema: options.schema }),
          })
  } catch (error) {
    throw toStoreError(error, 'open', where)
  }
  const fromKeyFile =
    options.masterKey === undefined && (env.CALLOUT_MASTER_KEY ?? '').trim() === ''
  return KyselyStore.open({
    database,
    masterKey,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.onMigrationProgress === undefined
      ? {}
      : { onMigrationProgress: options.onMigrationProgress }),
  }).catch((error: unknown) => {
    throw fromKeyFile ? interruptedRotation(error, options.home) : error
  })
}

/**
 * A wrong master key from `<home>/master.key` while `master.key.next` exists means a
 * `callout rotate-key` stopped after re-wrapping the data keys: say how to finish it.
 */
function interruptedRotation(error: unknown, home: string): unknown {
  const keyFile = join(home, MASTER_KEY_FILE)
  const next = `${keyFile}.next`
  if (!isCalloutError(error, 'MASTER_KEY_INVALID') || !existsSync(next)) return error
  return new CalloutError(
    'MASTER_KEY_INVALID',
    `The master key in ${keyFile} does not open this store, and ${next} exists: a ` +
      '`callout rotate-key` was interrupted after it re-wrapped the data keys under the new key. ' +
      'Finish it with `callout rotate-key --resume` (it opens the store with master.key.next, ' +
      're-encrypts every secret, then moves master.key to master.key.previous and ' +
      'master.key.next to master.key). Do not delete master.key.next.',
    { cause: error, details: { path: keyFile, next } },
  )
}

/**
 * Rotates the master key of an open store (`callout rotate-key`): re-wraps the data keys and,
 * with `reencrypt`, re-encrypts every secret in batches with `onProgress({ done, total })`.
 * Afterwards, save the new key (CALLOUT_MASTER_KEY or master.key) and restart other instances.
 *
 * @example
 * const next = MasterKey.generate()
 * await rotateMasterKey(store, next, { reencrypt: true, onProgress: (p) => console.log(p) })
 */
export function rotateMasterKey(
  store: KyselyStore,
  newKey: MasterKey,
  options: RotateOptions = {},
): Promise<RotateResult> {
  return store.rotateMasterKey(newKey, options)
}

/** Options for {@link copyStore}. */
export interface CopyStoreOptions extends CopyOptions {
  /** The store to copy from: `sqlite:<path>` (an existing file) or `postgres://…`. */
  readonly from: string
  /** The store to copy into: `sqlite:<path>` or `postgres://…` (empty unless `overwrite`). */
  readonly to: string
  /** The Callout home (for the master key file). */
  readonly home: string
  /** The master key both stores use; default: loaded like {@link openStore} does. */
  readonly masterKey?: MasterKey
  readonly env?: CalloutEnv
  /** The folder relative SQLite paths are resolved against. Default `process.cwd()`. */
  readonly cwd?: string
  /** Schema migration messages of either store. */
  readonly onMigrationProgress?: (store: 'from' | 'to', message: string) => void
}

/**
 * Copies one store into another (`callout migrate --from <store> --to <store>`): SQLite to
 * PostgreSQL and back. Both are opened (and migrated) with one master key; rows move as stored,
 * secrets still encrypted; then row counts and integrity tags are verified on the target. Refuses
 * the same store twice (`INVALID_ARGUMENT`), a non-empty target without `overwrite`
 * (`STORE_NOT_EMPTY`), and a store created with another master key (`MASTER_KEY_INVALID`).
 *
 * @example
 * const result = await copyStore({
 *   from: 'sqlite:./.callout/callout.db',
 *   to: 'postgres://callout@db.internal:5432/callout',
 *   home: resolveHome(process.env),
 *   onProgress: ({ table, copied, total }) => console.log(`${table} ${copied}/${total}`),
 * })
 */
export async function copyStore(options: CopyStoreOptions): Promise<CopyResult> {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const from = parseCopyLocation(options.from, '--from', options.home)
  const to = parseCopyLocation(options.to, '--to', options.home)
  if (locationKey(from, cwd) === locationKey(to, cwd)) throw sameStore(describe(from))
  if (from.dialect === 'sqlite' && !existsSync(resolvePath(cwd, from.path))) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--from names no store: ${from.path} does not exist. Give the path of an existing Callout ` +
        'SQLite file (the default is <home>/callout.db).',
    )
  }
  const masterKey = options.masterKey ?? (await loadMasterKey({ env, home: options.home }))
  const open = async (side: 'from' | 'to', url: string): Promise<KyselyStore> => {
    const location = side === 'from' ? from : to
    try {
      return await openStore({
        url: location.dialect === 'sqlite' ? `sqlite:${resolvePath(cwd, location.path)}` : url,
        home: options.home,
        env,
        masterKey,
        onMigrationProgress: (message) => options.onMigrationProgress?.(side, message),
      })
    } catch (error) {
      throw isCalloutError(error, 'MASTER_KEY_INVALID')
        ? otherMasterKey(side, describe(location), error)
        : error
    }
  }
  const source = await open('from', options.from)
  try {
    const target = await open('to', options.to)
    try {
      return await KyselyStore.copy(source, target, options)
    } finally {
      await target.close()
    }
  } finally {
    await source.close()
  }
}

function parseCopyLocation(url: string, flag: string, home: string): StoreLocation {
  if (typeof url !== 'string' || url.trim() === '' || url.trim().endsWith(':memory:')) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `${flag} needs a store: sqlite:<path> or postgres://user:password@host:port/database.`,
    )
  }
  try {
    return parseStoreUrl(url, home)
  } catch (cause) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `${flag} is not a store URL: write sqlite:<path> or postgres://user:password@host:port/database ` +
        '(percent-encode special characters in the password).',
      { cause },
    )
  }
}

function describe(location: StoreLocation): string {
  return location.dialect === 'sqlite' ? location.path : redactStoreUrl(location.url)
}

function resolvePath(cwd: string, path: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path)
}

/** `MASTER_KEY_INVALID` naming which store was created with another key, and what to do. */
function otherMasterKey(side: 'from' | 'to', where: string, cause: unknown): CalloutError {
  const flag = side === 'from' ? '--from' : '--to'
  return new CalloutError(
    'MASTER_KEY_INVALID',
    `The ${flag} store (${where}) was created with another master key. Both stores must be opened ` +
      'with one key: run the copy with the key of the --from store (CALLOUT_MASTER_KEY, or ' +
      '--home <dir> whose master.key opens it), into an empty store or one created with that key. ' +
      'To change the key afterwards, run `callout rotate-key` with CALLOUT_STORE set to the new store.',
    { cause, details: { store: side } },
  )
}
