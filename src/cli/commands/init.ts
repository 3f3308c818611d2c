import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createMasterKeyFile, MASTER_KEY_FILE, resolveHome } from '../../secrets/index.ts'
import { openStore, parseStoreUrl, redactStoreUrl } from '../../store/index.ts'
import { systemClock } from '../../clock.ts'
import { AdminAuth, checkUsername } from '../../server/admin/admin-auth.ts'
import { println, type CliIo } from '../io.ts'
import { readPassword } from '../read-password.ts'

/** The home's `.gitignore`: nothing in it (master key, SQLite store) belongs in a repository. */
const GITIGNORE =
  '# Written by `callout init`: the master key and the store never belong in git.\n*\n'

/**
 * `callout init`: creates the Callout home (0700), a master key file (0600) unless
 * `CALLOUT_MASTER_KEY` is set or a key file exists, the store with its schema, and a `.gitignore`
 * in the home so that git never commits the key.
 *
 * @example
 * // $ callout init
 * // created /srv/app/.callout/master.key (mode 0600): back it up; without it the stored secrets cannot be read
 */
export async function initCommand(
  io: CliIo,
  options: { readonly admin?: string; readonly passwordStdin?: boolean } = {},
): Promise<void> {
  const home = resolveHome(io.env)
  const keyPath = join(home, MASTER_KEY_FILE)
  const envKey = io.env.CALLOUT_MASTER_KEY
  if (envKey !== undefined && envKey.trim() !== '') {
    println(io, 'master key: from CALLOUT_MASTER_KEY')
  } else if (existsSync(keyPath)) {
    println(io, `master key: ${keyPath} (kept)`)
  } else {
    const { path } = await createMasterKeyFile(home)
    println(
      io,
      `created ${path} (mode 0600): back it up; without it the stored secrets cannot be read`,
    )
  }
  const location = parseStoreUrl(io.env.CALLOUT_STORE, home)
  const where =
    location.dialect === 'sqlite' ? `sqlite:${location.path}` : redactStoreUrl(location.url)
  const store = await openStore({
    home,
    env: io.env,
    onMigrationProgress: (message) => println(io, `  ${message}`),
  })
  let admins: number
  try {
    const auth = new AdminAuth({ store: store.admin, clock: systemClock })
    if (options.admin !== undefined) {
      checkUsername(options.admin)
      const password = await readPassword(io, { fromStdin: options.passwordStdin === true })
      await auth.createAdmin(options.admin, password, 'cli')
      println(io, `created console admin ${options.admin}`)
    }
    admins = await store.admin.countAdminUsers()
  } finally {
    await store.close()
  }
  println(io, `store: ${where} (ready)`)
  const ignore = join(home, '.gitignore')
  if (!existsSync(ignore)) {
    await writeFile(ignore, GITIGNORE, { mode: 0o644 })
    println(io, `created ${ignore}: git ignores everything in the home, the master key included`)
  }
  println(
    io,
    'next: write callout.yaml (see docs/configuration.md), then `callout apply -f callout.yaml`',
  )
  if (admins === 0) {
    println(
      io,
      'the setup console of `callout serve` needs an admin: `callout admin create --username <name>`',
    )
  }
}
