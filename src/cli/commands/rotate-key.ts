import { existsSync } from 'node:fs'
import { rename } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CalloutError } from '../../errors.ts'
import { MASTER_KEY_FILE, MasterKey, resolveHome, writeMasterKeyFile } from '../../secrets/index.ts'
import { openStore } from '../../store/index.ts'
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
}

/**
 * `callout rotate-key`: a new master key; every data key re-wrapped and every secret re-encrypted
 * under a new data key, online, in batches, with progress. With a key file the new key replaces
 * `master.key` (the previous one is kept as `master.key.previous` until you delete it); with
 * `CALLOUT_MASTER_KEY` the new key is written to `--output` for you to deploy.
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
      )
    }
    target = `${keyFile}.next`
  }
  const store = await openStore({ home, env: io.env })
  const next = MasterKey.generate()
  await writeMasterKeyFile(target, next, 'Move it away or choose another path.')
  try {
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
    if (!fromEnv) {
      await rename(keyFile, `${keyFile}.previous`)
      await rename(target, keyFile)
      println(
        io,
        `rotated: master key ${result.previousMasterKeyId} → ${result.masterKeyId} in ${keyFile}`,
      )
      println(
        io,
        `the previous key is in ${keyFile}.previous: delete it once backups no longer need it`,
      )
    } else {
      println(
        io,
        `rotated: master key ${result.previousMasterKeyId} → ${result.masterKeyId}; the new key is in ${target}`,
      )
      println(io, 'set CALLOUT_MASTER_KEY to its contents everywhere Callout runs, then restart')
    }
    println(io, 'restart other running instances so they load the new key')
  } finally {
    await store.close()
  }
}
