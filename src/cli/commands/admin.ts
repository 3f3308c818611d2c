/**
 * `callout admin …`: console admins and admin API tokens.
 */
import { systemClock } from '../../clock.ts'
import { CalloutError } from '../../errors.ts'
import { AdminAuth } from '../../server/admin/admin-auth.ts'
import { adminTokenId } from '../../server/admin/admin-tokens.ts'
import type { openStore } from '../../store/index.ts'
import { println, type CliIo } from '../io.ts'
import { readPassword } from '../read-password.ts'
import { parseDuration, stateOf, withStore } from './keys.ts'

type OpenedStore = Awaited<ReturnType<typeof openStore>>

function authOf(store: OpenedStore): AdminAuth {
  return new AdminAuth({ store: store.admin, clock: systemClock })
}

/** Options of `callout admin create` and `callout admin password`. */
export interface AdminUserOptions {
  readonly username: string
  /** Read the password from standard input instead of a prompt. */
  readonly passwordStdin?: boolean
}

/**
 * `callout admin create --username <name> [--password-stdin]`: creates a console admin (scrypt
 * hash of the password); audited as `admin.create` by `cli`.
 *
 * @example
 * // $ printf '%s' "$ADMIN_PASSWORD" | callout admin create --username alice --password-stdin
 * // created admin alice: log in at /login on callout serve
 */
export async function adminCreateCommand(io: CliIo, options: AdminUserOptions): Promise<void> {
  const password = await readPassword(io, { fromStdin: options.passwordStdin === true })
  await withStore(io, (store) => authOf(store).createAdmin(options.username, password, 'cli'))
  println(io, `created admin ${options.username}: log in at /login on callout serve`)
}

/**
 * `callout admin password --username <name> [--password-stdin]`: sets a new password, clears a
 * lockout and ends the admin's sessions.
 *
 * @example
 * // $ callout admin password --username alice
 */
export async function adminPasswordCommand(io: CliIo, options: AdminUserOptions): Promise<void> {
  const password = await readPassword(io, { fromStdin: options.passwordStdin === true })
  await withStore(io, (store) => authOf(store).setPassword(options.username, password, 'cli'))
  println(io, `new password set for ${options.username}; its sessions were ended`)
}

/** Options of `callout admin token create`. */
export interface AdminTokenCreateOptions {
  readonly name: string
  /** A duration such as `30d`. */
  readonly expires?: string
}

/**
 * `callout admin token create --name <name> [--expires 30d]`: creates an admin API token for
 * `/admin/api` and prints it once (only its SHA-256 is stored).
 *
 * @example
 * // $ callout admin token create --name deploy-bot --expires 30d
 * // cat_3f2a1b0c9d8e_…
 */
export async function adminTokenCreateCommand(
  io: CliIo,
  options: AdminTokenCreateOptions,
): Promise<void> {
  if (!/^[\w.@-]{1,64}$/.test(options.name)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      '--name must be 1–64 letters, digits, ".", "@", "_" or "-".',
    )
  }
  const expiresInMs = options.expires === undefined ? undefined : parseDuration(options.expires)
  const { id, token, expiresAt } = await withStore(io, (store) =>
    authOf(store).createToken(options.name, 'cli', expiresInMs),
  )
  println(io, token)
  io.stderr.write(
    `Created admin API token ${id} (${options.name})` +
      `${expiresAt === undefined ? '' : `, expiring ${new Date(expiresAt).toISOString()}`}.\n` +
      'The token is shown only now: send it as Authorization: Bearer <token> to /admin/api.\n',
  )
}

/**
 * `callout admin token list [--json]`: every admin API token with its state, never the token.
 *
 * @example
 * // $ callout admin token list
 */
export async function adminTokenListCommand(io: CliIo, options: { json?: boolean }): Promise<void> {
  const records = await withStore(io, (store) => store.admin.listAdminTokens())
  const now = Date.now()
  const rows = records.map((r) => ({
    id: r.id,
    name: r.name,
    state: stateOf(r, now),
    createdAt: new Date(r.createdAt).toISOString(),
    ...(r.expiresAt === undefined ? {} : { expiresAt: new Date(r.expiresAt).toISOString() }),
  }))
  if (options.json === true) {
    println(io, JSON.stringify(rows, null, 2))
    return
  }
  if (rows.length === 0) {
    println(io, 'no admin API tokens yet: run `callout admin token create --name <name>`')
    return
  }
  for (const r of rows) {
    println(
      io,
      `${r.id}  ${r.name}  ${r.state}${r.expiresAt === undefined ? '' : `  expires ${r.expiresAt}`}`,
    )
  }
}

/**
 * `callout admin token revoke <id>`: revokes an admin API token at once (by id or whole token).
 *
 * @example
 * // $ callout admin token revoke 3f2a1b0c9d8e
 */
export async function adminTokenRevokeCommand(io: CliIo, idOrToken: string): Promise<void> {
  const id = adminTokenId(idOrToken) ?? idOrToken
  if (!/^[0-9a-f]{12}$/.test(id)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(idOrToken.slice(0, 20))} is not a token id: \`callout admin token list\` shows the ids (12 hex digits).`,
    )
  }
  await withStore(io, async (store) => {
    if (!(await authOf(store).revokeToken(id, 'cli'))) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `No active admin API token has the id ${id}; \`callout admin token list\` shows the tokens.`,
      )
    }
  })
  println(io, `revoked ${id}`)
}
