import { existsSync } from 'node:fs'
import { readFile, rename } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CalloutError, isCalloutError } from '../../errors.ts'
import {
  MASTER_KEY_FILE,
  MasterKey,
  parseMasterKey,
  resolveHome,
  writeMasterKeyFile,
} from '../../secrets/index.ts'
import { openStore } from '../../store/index.ts'
import type { KyselyStore, RotateResult } from '../../store/index.ts'
import { println, type CliIo } from '../io.ts'

/** Options of `callout rotate-key`. */
export interface RotateKeyOptions {
  /**
   * Where to write the new key when the current one comes from `CALLOUT_MASTER_KEY`
   * (created 0600; never overwritten).
   */
  readonly output?: string
  /** Rows per transaction. */
  readonly batchSize?: string
  /**
   * Finish an interrupted rotation: with a key file, the new key in `master.key.next`; with
   * `CALLOUT_MASTER_KEY`, the key it holds (set it to the new key first).
   */
  readonly resume?: boolean
}

/**
 * `callout rotate-key`: a new master key; every data key re-wrapped and every secret re-encrypted
 * under a new data key, online, in batches, with progress. With a key file the new key replaces
 * `master.key` (the previous one is kept as `master.key.previous` until you delete it); with
 * `CALLOUT_MASTER_KEY` the new key is written to `--output` for you to deploy. `--resume` finishes
 * a rotation that was interrupted (the store then only opens with the new key).
 *
 * @example
 * // $ callout rotate-key
 * // re-encrypted 3/3 rows
 * // rotated: master key 1a2b… → 9f8e…; restart other instances with the new key
 */
export async function rotateKeyCommand(io: CliIo, options: RotateKeyOptions): Promise<void> {
  const home = resolveHome(io.env)
  const fromEnv = (io.env.CALLOUT_MASTER_KEY ?? '').trim() !== ''
  const batchSize = options.batchSize === undefined ? 100 : Number(options.batchSize)
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      '--batch-size must be a whole number from 1 to 10000.',
    )
  }
  const keyFile = join(home, MASTER_KEY_FILE)
  if (options.resume === true) {
    await resumeRotation(io, { home, keyFile, fromEnv, batchSize })
    return
  }
  let target: string
  if (fromEnv) {
    if (options.output === undefined) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        'The master key comes from CALLOUT_MASTER_KEY: pass --output <file> to receive the new key (written 0600).',
      )
    }
    target = resolve(io.cwd, options.output)
  } else {
    if (!existsSync(keyFile)) {
      throw new CalloutError(
        'MASTER_KEY_MISSING',
        `No master key at ${keyFile}: run \`callout init\` first.`,
        { details: { path: keyFile } },
      )
    }
    target = `${keyFile}.next`
  }
  const store = await openStore({ home, env: io.env })
  const next = MasterKey.generate()
  const ifExists = fromEnv
    ? 'Move it away or choose another path.'
    : 'A previous `callout rotate-key` was interrupted: finish it with `callout rotate-key --resume`.'
  let result: RotateResult
  try {
    await writeMasterKeyFile(target, next, ifExists)
    result = await rotateAndReport(io, store, next, batchSize)
  } finally {
    await store.close()
  }
  if (!fromEnv) {
    await installNextKey(
      io,
      keyFile,
      `rotated: master key ${result.previousMasterKeyId} → ${result.masterKeyId}`,
    )
  } else {
    println(
      io,
      `rotated: master key ${result.previousMasterKeyId} → ${result.masterKeyId}; the new key is in ${target}`,
    )
    println(io, 'set CALLOUT_MASTER_KEY to its contents everywhere Callout runs, then restart')
  }
  println(io, 'restart other running instances so they load the new key')
}

/**
 * Finishes an interrupted rotation. The new key either already wraps the data keys (the rotation
 * was killed after re-wrapping them) or not yet (killed before): either way, rotating to it again
 * re-wraps, re-encrypts every secret under a fresh data key and re-signs every row.
 */
async function resumeRotation(
  io: CliIo,
  where: { home: string; keyFile: string; fromEnv: boolean; batchSize: number },
): Promise<void> {
  const { home, keyFile, fromEnv, batchSize } = where
  const nextFile = `${keyFile}.next`
  let next: MasterKey
  if (fromEnv) {
    next = parseMasterKey(io.env.CALLOUT_MASTER_KEY ?? '')
  } else {
    if (!existsSync(nextFile)) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `There is no interrupted rotation to resume: ${nextFile} does not exist. Run \`callout rotate-key\` to rotate the key.`,
      )
    }
    next = parseMasterKey(await readFile(nextFile, 'utf8'), nextFile)
  }
  let store: KyselyStore
  try {
    store = await openStore({ home, env: io.env, masterKey: next })
  } catch (error) {
    if (!isCalloutError(error, 'MASTER_KEY_INVALID') || fromEnv) {
      if (fromEnv && isCalloutError(error, 'MASTER_KEY_INVALID')) {
        throw new CalloutError(
          'MASTER_KEY_INVALID',
          'CALLOUT_MASTER_KEY does not open this store. To resume an interrupted rotation, set ' +
            'CALLOUT_MASTER_KEY to the new key (the file given to --output), then run ' +
            '`callout rotate-key --resume` again.',
          { cause: error },
        )
      }
      throw error
    }
    // Interrupted before the data keys were re-wrapped: the current key still opens the store.
    store = await openStore({ home, env: io.env })
  }
  let result: RotateResult
  try {
    result = await rotateAndReport(io, store, next, batchSize)
  } finally {
    await store.close()
  }
  if (!fromEnv) {
    await installNextKey(io, keyFile, `rotation finished: master key ${result.masterKeyId}`)
  } else println(io, `rotation finished: master key ${result.masterKeyId}`)
  println(io, 'restart other running instances so they load the new key')
}

async function rotateAndReport(
  io: CliIo,
  store: KyselyStore,
  next: MasterKey,
  batchSize: number,
): Promise<RotateResult> {
  const result = await store.rotateMasterKey(next, {
    reencrypt: true,
    batchSize,
    onProgress: ({ done, total }) => println(io, `re-encrypted ${done}/${total} rows`),
  })
  println(
    io,
    `re-wrapped ${result.dataKeysRewrapped} data key(s), re-encrypted ${result.rowsReencrypted} row(s)`,
  )
  if (result.rowsTampered > 0) {
    println(
      io,
      `warning: ${result.rowsTampered} row(s) failed their integrity check (changed without the master key) and were left as they were; ` +
        'they stay refused (STORE_TAMPERED): re-apply definitions with `callout apply -f <config file>`, re-authenticate credentials',
    )
  }
  return result
}

/** Moves `master.key` to `master.key.previous` and `master.key.next` into its place. */
async function installNextKey(io: CliIo, keyFile: string, headline: string): Promise<void> {
  await rename(keyFile, `${keyFile}.previous`)
  await rename(`${keyFile}.next`, keyFile)
  println(io, `${headline} in ${keyFile}`)
  println(
    io,
    `the previous key is in ${keyFile}.previous: delete it once backups no longer need it`,
  )
}
