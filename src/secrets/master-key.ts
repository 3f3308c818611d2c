/**
 * The master key: 32 random bytes that wrap every data key (DESIGN §6). It comes from
 * `CALLOUT_MASTER_KEY`, else from `<home>/master.key` (mode 0600), else Callout refuses to start.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { inspect } from 'node:util'
import { CalloutError } from '../errors.ts'

/** The length of a master key and of a data key, in bytes (AES-256). */
export const KEY_BYTES = 32

/** The file name of the master key inside the Callout home directory. */
export const MASTER_KEY_FILE = 'master.key'

const HOW_TO_GENERATE =
  'Generate one with `callout init` (writes <home>/master.key) or `openssl rand -base64 32` ' +
  '(then set CALLOUT_MASTER_KEY).'

/**
 * A master key. Holds the raw bytes privately; prints as `MasterKey(<fingerprint>)`, never the
 * bytes. `id` is a fingerprint (first 8 bytes of SHA-256, hex) stored beside each wrapped data key so
 * that a wrong key is detected at open.
 *
 * @example
 * const key = MasterKey.generate()
 * key.id // e.g. '3f2a9c0d5e6b7a81'
 */
export class MasterKey {
  /** Fingerprint of the key: hex of the first 8 bytes of its SHA-256. Not secret. */
  readonly id: string
  readonly #bytes: Buffer

  private constructor(bytes: Uint8Array) {
    this.#bytes = Buffer.from(bytes)
    this.id = masterKeyFingerprint(this.#bytes)
  }

  /** A key from 32 raw bytes (copied). */
  static fromBytes(bytes: Uint8Array): MasterKey {
    if (bytes.length !== KEY_BYTES) {
      throw new CalloutError(
        'MASTER_KEY_INVALID',
        `A master key must be exactly ${KEY_BYTES} bytes, got ${bytes.length}. ${HOW_TO_GENERATE}`,
      )
    }
    return new MasterKey(bytes)
  }

  /** A new random key. */
  static generate(): MasterKey {
    return new MasterKey(randomBytes(KEY_BYTES))
  }

  /** The raw key bytes. Call only where the key is used for wrapping. */
  reveal(): Buffer {
    return this.#bytes
  }

  /** The key as base64, for writing the key file or showing it once at `callout init`. */
  toBase64(): string {
    return this.#bytes.toString('base64')
  }

  toString(): string {
    return `MasterKey(${this.id})`
  }

  toJSON(): string {
    return `MasterKey(${this.id})`
  }

  [inspect.custom](): string {
    return `MasterKey(${this.id})`
  }
}

/**
 * The fingerprint of a key: hex of the first 8 bytes of its SHA-256. Safe to store and print.
 *
 * @example
 * masterKeyFingerprint(Buffer.alloc(32)) // '66687aadf862bd77'
 */
export function masterKeyFingerprint(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest().subarray(0, 8).toString('hex')
}

/**
 * Parses a master key written as hex (64 digits), base64 or base64url (43 or 44 characters) of
 * exactly 32 bytes. Surrounding whitespace is ignored. Anything else is `MASTER_KEY_INVALID`; the
 * message never echoes the input.
 *
 * @example
 * parseMasterKey(require('node:crypto').randomBytes(32).toString('base64'))
 */
export function parseMasterKey(text: string, source = 'CALLOUT_MASTER_KEY'): MasterKey {
  const value = typeof text === 'string' ? text.trim() : ''
  let bytes: Buffer | undefined
  if (/^[0-9a-fA-F]{64}$/.test(value)) {
    bytes = Buffer.from(value, 'hex')
  } else if (/^[A-Za-z0-9+/]{43}=?$/.test(value) || /^[A-Za-z0-9_-]{43}=?$/.test(value)) {
    const normalised = value.replace(/-/g, '+').replace(/_/g, '/').replace(/=$/, '')
    bytes = Buffer.from(normalised, 'base64')
    // Reject non-canonical encodings whose trailing bits are not zero.
    if (bytes.toString('base64').replace(/=$/, '') !== normalised) bytes = undefined
  }
  if (bytes === undefined || bytes.length !== KEY_BYTES) {
    throw new CalloutError(
      'MASTER_KEY_INVALID',
      `${source} is not a valid master key: expected ${KEY_BYTES} bytes written as base64, ` +
        `base64url or 64 hex digits. ${HOW_TO_GENERATE}`,
      { details: { source } },
    )
  }
  return MasterKey.fromBytes(bytes)
}

/** The environment variables Callout reads for its home and master key. */
export interface CalloutEnv {
  readonly CALLOUT_HOME?: string | undefined
  readonly CALLOUT_MASTER_KEY?: string | undefined
  readonly CALLOUT_STORE?: string | undefined
  readonly CALLOUT_CONSOLE_URL?: string | undefined
  readonly [name: string]: string | undefined
}

/**
 * The Callout home directory: `CALLOUT_HOME`, else `./.callout`, resolved to an absolute path.
 *
 * @example
 * resolveHome(process.env) // '/srv/app/.callout'
 */
export function resolveHome(env: CalloutEnv = process.env): string {
  const home = env.CALLOUT_HOME
  return resolve(home !== undefined && home.trim() !== '' ? home : '.callout')
}

/**
 * Loads the master key: `CALLOUT_MASTER_KEY` if set, else `<home>/master.key`, which must be a
 * regular file readable by its owner only (0600 or stricter). Fails with `MASTER_KEY_MISSING` when
 * neither exists and `MASTER_KEY_INVALID` when the value is malformed or the file too open.
 *
 * @example
 * const key = await loadMasterKey({ env: process.env, home: resolveHome(process.env) })
 */
export async function loadMasterKey(options: {
  env?: CalloutEnv
  home: string
}): Promise<MasterKey> {
  const env = options.env ?? process.env
  const fromEnv = env.CALLOUT_MASTER_KEY
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseMasterKey(fromEnv)

  const path = join(options.home, MASTER_KEY_FILE)
  let info
  try {
    info = await stat(path)
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CalloutError(
        'MASTER_KEY_MISSING',
        `No master key: CALLOUT_MASTER_KEY is not set and ${path} does not exist. ` +
          'Run `callout init` to create one, or set CALLOUT_MASTER_KEY ' +
          '(e.g. to the output of `openssl rand -base64 32`).',
        { details: { path } },
      )
    }
    throw new CalloutError(
      'MASTER_KEY_MISSING',
      `Cannot read the master key file ${path}; check its permissions or set CALLOUT_MASTER_KEY.`,
      { cause, details: { path } },
    )
  }
  if (!info.isFile()) {
    throw new CalloutError(
      'MASTER_KEY_INVALID',
      `${path} is not a regular file. Remove it and run \`callout init\`, or set CALLOUT_MASTER_KEY.`,
      { details: { path } },
    )
  }
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0')
    throw new CalloutError(
      'MASTER_KEY_INVALID',
      `The master key file ${path} has mode ${mode}: it is readable by group or others. ` +
        `Run \`chmod 600 ${path}\` and start again.`,
      { details: { path, mode } },
    )
  }
  const text = await readFile(path, 'utf8')
  return parseMasterKey(text, path)
}

/**
 * Creates `<home>/master.key` with a new random key for `callout init`: the directory is created
 * 0700 if missing, the file 0600 with exclusive create (`wx`), so an existing key is never
 * overwritten (that fails with `INVALID_ARGUMENT`).
 *
 * @example
 * const { path, key } = await createMasterKeyFile(resolveHome(process.env))
 */
export async function createMasterKeyFile(home: string): Promise<{ path: string; key: MasterKey }> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  const path = join(home, MASTER_KEY_FILE)
  const key = MasterKey.generate()
  await writeMasterKeyFile(path, key, 'To change keys, use `callout rotate-key`.')
  return { path, key }
}

/**
 * Writes `key` to a new file at `path`: mode 0600, exclusive create (`wx`), synced. An existing
 * file is never overwritten: that fails with `INVALID_ARGUMENT` and `ifExists` as the advice.
 *
 * @example
 * await writeMasterKeyFile('/secure/next.key', MasterKey.generate(), 'Choose another path.')
 */
export async function writeMasterKeyFile(
  path: string,
  key: MasterKey,
  ifExists: string,
): Promise<void> {
  let handle
  try {
    handle = await open(path, 'wx', 0o600)
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `A key file already exists at ${path}; Callout never overwrites it. ${ifExists}`,
        { details: { path } },
      )
    }
    throw new CalloutError('INTERNAL', `Cannot create the key file ${path}.`, {
      cause,
      details: { path },
    })
  }
  try {
    await handle.writeFile(`${key.toBase64()}\n`, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
}
