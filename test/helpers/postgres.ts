/**
 * The PostgreSQL every test uses: `CALLOUT_TEST_POSTGRES_URL`, default
 * `postgres://postgres@127.0.0.1:5432/test`. Each test file works in schemas of its own
 * ({@link testSchemaName}, dropped with {@link dropTestSchemas}). When the server cannot be
 * reached, {@link requirePostgres} fails the test with the URL it tried and what to do next:
 * PostgreSQL tests never skip silently.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { redactStoreUrl } from '../../src/store/postgres.ts'

/** The URL used when `CALLOUT_TEST_POSTGRES_URL` is unset. */
export const DEFAULT_TEST_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test'

/** The test PostgreSQL URL: `CALLOUT_TEST_POSTGRES_URL`, else {@link DEFAULT_TEST_POSTGRES_URL}. */
export function testPostgresUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.CALLOUT_TEST_POSTGRES_URL?.trim()
  return url === undefined || url === '' ? DEFAULT_TEST_POSTGRES_URL : url
}

/** The test server's URL with another database name (e.g. one that does not exist). */
export function testPostgresUrlForDatabase(database: string): string {
  const url = new URL(testPostgresUrl())
  url.pathname = `/${database}`
  return url.href
}

/** A schema name unique to this run: `<prefix>_<pid>_<random>` (a safe SQL identifier). */
export function testSchemaName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
}

let reachable: Promise<void> | undefined

/**
 * Resolves when the test PostgreSQL answers a query; otherwise rejects with an error naming the
 * URL (without its password), the driver's reason, and `CALLOUT_TEST_POSTGRES_URL`. Checked once
 * per process.
 */
export function requirePostgres(): Promise<void> {
  reachable ??= withPostgres(async (client) => {
    await client.query('select 1')
  }).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error)
    const code = (error as { code?: unknown }).code
    throw new Error(
      `The PostgreSQL tests cannot reach ${redactStoreUrl(testPostgresUrl())} ` +
        `(${typeof code === 'string' ? `${code}: ` : ''}${reason}). Start PostgreSQL there, or set ` +
        `CALLOUT_TEST_POSTGRES_URL to a database the tests may create schemas in ` +
        `(default ${DEFAULT_TEST_POSTGRES_URL}).`,
      { cause: error },
    )
  })
  return reachable
}

/**
 * Runs `fn` with a connected client on the test PostgreSQL (its `search_path` set to `schema`
 * when given), and ends the client afterwards.
 */
export async function withPostgres<T>(
  fn: (client: pg.Client) => Promise<T>,
  schema?: string,
): Promise<T> {
  const client = new pg.Client({
    connectionString: testPostgresUrl(),
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Drops the given schemas (and everything in them) from the test PostgreSQL. */
export async function dropTestSchemas(schemas: readonly string[]): Promise<void> {
  if (schemas.length === 0) return
  await withPostgres(async (client) => {
    for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`)
  })
}
