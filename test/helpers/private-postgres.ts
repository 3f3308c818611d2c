/**
 * A PostgreSQL cluster of a test's own, for fault tests that stop, restart or cut off the
 * database (never the shared one at 127.0.0.1:5432): `initdb` into a temp directory, `pg_ctl`
 * on a free port with its socket in that directory, trust authentication, durability off for
 * speed. Run as the `postgres` user when the tests run as root (initdb refuses root).
 */
import { execFile } from 'node:child_process'
import { chownSync, existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Where Debian's PostgreSQL 15 keeps initdb and pg_ctl (override with `CALLOUT_TEST_PG_BIN`). */
export const PG_BIN = process.env.CALLOUT_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin'

/** Why a private cluster cannot be started here, or undefined when it can. */
export function privatePostgresUnavailable(): string | undefined {
  if (!existsSync(join(PG_BIN, 'initdb'))) {
    return `initdb is not at ${PG_BIN}/initdb (install PostgreSQL's server binaries or set CALLOUT_TEST_PG_BIN)`
  }
  return undefined
}

/** A running private cluster. */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  readonly url: string
  readonly port: number
  stop(): Promise<void>
  start(): Promise<void>
  /** Fast restart: active connections are cut, as in a failover. */
  restart(): Promise<void>
  destroy(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  return typeof address === 'object' && address !== null ? address.port : 0
}

/**
 * Creates and starts a cluster. Call `destroy()` in `afterAll`.
 *
 * @example
 * const pg = await startPrivatePostgres()
 * await pg.restart()
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'callout-pg-'))
  const data = join(dir, 'data')
  const root = userInfo().uid === 0
  if (root) chownSync(dir, ...(await postgresIds()))
  const as = async (command: string, args: readonly string[]): Promise<void> => {
    const line = [join(PG_BIN, command), ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`)
    await (root
      ? run('su', ['postgres', '-s', '/bin/sh', '-c', line.join(' ')])
      : run(join(PG_BIN, command), [...args]))
  }
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  const port = await freePort()
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`
  const ctl = (action: string, extra: readonly string[] = []) =>
    as('pg_ctl', [
      '-D',
      data,
      '-o',
      options,
      '-l',
      join(dir, 'log'),
      '-w',
      '-t',
      '30',
      ...extra,
      action,
    ])
  await ctl('start')
  let running = true
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await ctl('stop', ['-m', 'fast'])
      running = false
    },
    async start() {
      await ctl('start')
      running = true
    },
    async restart() {
      await ctl('restart', ['-m', 'fast'])
      running = true
    },
    async destroy() {
      if (running) await ctl('stop', ['-m', 'immediate']).catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

async function postgresIds(): Promise<[number, number]> {
  const { stdout } = await run('id', ['-u', 'postgres'])
  const { stdout: group } = await run('id', ['-g', 'postgres'])
  return [Number(stdout.trim()), Number(group.trim())]
}
