import { resolveHome } from '../../secrets/index.ts'
import { CalloutError } from '../../errors.ts'
import { openStore } from '../../store/index.ts'
import { clientKeyId, newClientKey } from '../../server/client-key.ts'
import { formatKeyRule, parseKeyRules } from '../../server/key-rules.ts'
import { println, type CliIo } from '../io.ts'

/** Options of `callout keys create`. */
export interface KeysCreateOptions {
  /** Comma-separated rules (`Target`, `Target:GET`, `Target:GET|HEAD:/services/data/*`). */
  readonly allow: string
  readonly anyUser?: boolean
  /** A duration such as `30d`, `12h` or `90m`. */
  readonly expires?: string
  readonly name?: string
}

const UNIT_MS: Readonly<Record<string, number>> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/**
 * Parses `--expires` (`30d`, `12h`, `90m`, `2w`) into milliseconds.
 *
 * @example
 * parseDuration('30d') // 2592000000
 */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})([mhdw])$/.exec(text.trim())
  if (match === null) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--expires ${JSON.stringify(text)} is not a duration: write a number and a unit, e.g. 90m, 12h, 30d or 2w.`,
    )
  }
  return Number(match[1]) * UNIT_MS[match[2]!]!
}

/**
 * Opens the home's store for one command and closes it afterwards.
 *
 * @example
 * const keys = await withStore(io, (store) => store.clientKeys.listClientKeys())
 */
export async function withStore<T>(
  io: CliIo,
  fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>,
): Promise<T> {
  const store = await openStore({ home: resolveHome(io.env), env: io.env })
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

/**
 * `callout keys create --allow <rule>[,<rule>…] [--any-user] [--expires 30d] [--name ci-bot]`:
 * creates a client key for `callout serve` and prints it once (only its SHA-256 is stored).
 *
 * @example
 * // $ callout keys create --allow 'Target:GET:/services/data/*' --name ci-bot --expires 30d
 * // ck_3f2a1b0c9d8e_…
 */
export async function keysCreateCommand(io: CliIo, options: KeysCreateOptions): Promise<void> {
  const rules = parseKeyRules(options.allow).map(formatKeyRule)
  const expiresInMs = options.expires === undefined ? undefined : parseDuration(options.expires)
  const name = options.name ?? 'key'
  if (!/^[\w.@-]{1,64}$/.test(name)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      '--name must be 1–64 letters, digits, ".", "@", "_" or "-".',
    )
  }
  const { key, record } = newClientKey({
    name,
    rules,
    anyUser: options.anyUser === true,
    now: Date.now(),
    ...(expiresInMs === undefined ? {} : { expiresInMs }),
  })
  const { id } = record
  await withStore(io, (store) => store.clientKeys.createClientKey(record))
  println(io, key)
  io.stderr.write(
    `Created client key ${id} (${name}) allowing ${rules.join(', ')}${record.anyUser ? ', acting for any user' : ''}` +
      `${record.expiresAt === undefined ? '' : `, expiring ${new Date(record.expiresAt).toISOString()}`}.\n` +
      'The key is shown only now: store it where the client reads it (Proxy-Authorization: Bearer <key>).\n',
  )
}

/**
 * The state of a key or token at `now`.
 *
 * @example
 * stateOf({ revokedAt: 1 }, Date.now()) // 'revoked'
 */
export function stateOf(
  record: { readonly expiresAt?: number; readonly revokedAt?: number },
  now: number,
): 'active' | 'expired' | 'revoked' {
  if (record.revokedAt !== undefined) return 'revoked'
  if (record.expiresAt !== undefined && record.expiresAt <= now) return 'expired'
  return 'active'
}

/** A stored (untrusted) name, printable on one line. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?')
  return clean.length > 64 ? `${clean.slice(0, 63)}…` : clean
}

/**
 * `callout keys list [--json]`: every client key with its rules and state, never the key. A key
 * whose stored row fails its integrity check (changed outside Callout) is listed as `TAMPERED`
 * with the advice to revoke it, and the others are listed as usual.
 *
 * @example
 * // $ callout keys list
 * // 3f2a1b0c9d8e  ci-bot  active  Target:GET:/services/data/*  expires 2026-12-30T…
 */
export async function keysListCommand(io: CliIo, options: { json?: boolean }): Promise<void> {
  const { keys, tampered } = await withStore(io, (store) => store.clientKeys.inspectClientKeys())
  const now = Date.now()
  const rows = keys.map((r) => ({
    id: r.id,
    name: r.name,
    state: stateOf(r, now),
    rules: r.rules,
    anyUser: r.anyUser,
    createdAt: new Date(r.createdAt).toISOString(),
    ...(r.expiresAt === undefined ? {} : { expiresAt: new Date(r.expiresAt).toISOString() }),
    ...(r.revokedAt === undefined ? {} : { revokedAt: new Date(r.revokedAt).toISOString() }),
  }))
  const advice = (id: string): string =>
    `its stored row failed the integrity check (changed outside Callout, without the master key) and callout serve refuses it: revoke it with \`callout keys revoke ${id}\`, create a new key with \`callout keys create --allow <rule>\`, and check who can write the database`
  const bad = tampered.map((t) => ({ id: t.id, name: printable(t.name) }))
  if (options.json === true) {
    const marked = bad.map((t) => ({ ...t, state: 'tampered', advice: advice(t.id) }))
    println(io, JSON.stringify([...rows, ...marked], null, 2))
    return
  }
  if (rows.length === 0 && bad.length === 0) {
    println(io, 'no client keys yet: run `callout keys create --allow <Name>`')
    return
  }
  const width = Math.max(...rows.map((r) => r.name.length), ...bad.map((t) => t.name.length))
  for (const r of rows) {
    const extra = [
      r.anyUser ? 'any user' : '',
      r.expiresAt === undefined ? '' : `expires ${r.expiresAt}`,
    ].filter((s) => s !== '')
    println(
      io,
      `${r.id}  ${r.name.padEnd(width)}  ${r.state.padEnd(7)}  ${r.rules.join(',')}${extra.length > 0 ? `  (${extra.join(', ')})` : ''}`,
    )
  }
  for (const t of bad) {
    println(io, `${printable(t.id)}  ${t.name.padEnd(width)}  TAMPERED`)
    io.stderr.write(`warning: client key ${printable(t.id)}: ${advice(printable(t.id))}.\n`)
  }
}

/**
 * `callout keys revoke <id>`: revokes a client key (by its id, or the whole key). A running
 * `callout serve` refuses it within its key cache time (5 s), or at once after SIGHUP.
 *
 * @example
 * // $ callout keys revoke 3f2a1b0c9d8e
 */
export async function keysRevokeCommand(io: CliIo, idOrKey: string): Promise<void> {
  const id = clientKeyId(idOrKey) ?? idOrKey
  if (!/^[0-9a-f]{12}$/.test(id)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(idOrKey.slice(0, 20))} is not a key id: \`callout keys list\` shows the ids (12 hex digits).`,
    )
  }
  const done = await withStore(io, (store) => store.clientKeys.revokeClientKey(id))
  if (!done) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `No active client key has the id ${id}; \`callout keys list\` shows the keys and their state.`,
    )
  }
  println(io, `revoked ${id}`)
}
