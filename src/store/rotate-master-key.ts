/**
 * Master key rotation (`callout rotate-key`, DESIGN §6): re-wraps every data key under the new
 * master key in one transaction, then optionally re-encrypts every secret under a fresh data key,
 * online, one transaction per batch, reporting progress.
 */
import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { CalloutError } from '../errors.ts'
import { KeyRing, newDataKeyId, wrapDataKey } from '../secrets/key-ring.ts'
import { KEY_BYTES } from '../secrets/master-key.ts'
import type { MasterKey } from '../secrets/master-key.ts'
import type { RowMacInput } from '../secrets/row-mac.ts'
import { insertDataKey, readDataKeys } from './repository-context.ts'
import type { RepositoryContext } from './repository-context.ts'
import { TAG_INPUTS, credentialRowIdOf } from './tagged-rows.ts'
import type { Database } from './schema.ts'

/** Progress of a re-encryption: rows done out of rows holding secrets. */
export interface RotateProgress {
  readonly done: number
  readonly total: number
}

/** Options for a master key rotation. */
export interface RotateOptions {
  /** Also re-encrypt every secret under a new data key. Default false (re-wrap only). */
  readonly reencrypt?: boolean
  /** Rows per transaction when re-encrypting. Default 100. */
  readonly batchSize?: number
  readonly onProgress?: (progress: RotateProgress) => void
}

/** What a rotation did. */
export interface RotateResult {
  /** Fingerprint of the previous master key. */
  readonly previousMasterKeyId: string
  /** Fingerprint of the new master key. */
  readonly masterKeyId: string
  readonly dataKeysRewrapped: number
  /** Rows whose secrets were re-encrypted and integrity tags re-computed. */
  readonly rowsReencrypted: number
  /**
   * Rows left as they were because they failed their integrity check (changed outside Callout):
   * they stay refused (`STORE_TAMPERED`) until re-applied or re-authenticated.
   */
  readonly rowsTampered: number
}

interface Target {
  readonly table: keyof Database
  readonly key: readonly string[]
  readonly columns: readonly string[]
  /** The AAD row id of a row. */
  readonly rowId: (row: Record<string, unknown>) => string
  /** What the row's integrity tag (`mac`) covers, for tables that have one. */
  readonly macInput?: (row: Record<string, unknown>) => RowMacInput
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null
}

const TARGETS: readonly Target[] = [
  ...(['auth_providers', 'external_credentials', 'named_credentials'] as const).map(
    (table): Target => ({
      table,
      key: ['name'],
      columns: ['secrets'],
      rowId: (row) => String(row['name']),
      macInput: TAG_INPUTS[table],
    }),
  ),
  {
    table: 'credentials',
    key: ['external_credential', 'principal', 'user_id'],
    columns: ['access_token', 'refresh_token'],
    rowId: credentialRowIdOf,
    macInput: TAG_INPUTS.credentials,
  },
  {
    table: 'client_keys',
    key: ['id'],
    columns: [],
    rowId: (row) => String(row['id']),
    macInput: TAG_INPUTS.client_keys,
  },
  {
    table: 'pending_authorizations',
    key: ['state'],
    columns: ['code_verifier'],
    rowId: (row) => String(row['state']),
  },
]

/**
 * Rotates the master key of an open store. Prefer `store.rotateMasterKey(...)` or
 * `rotateMasterKey(store, ...)` from `open-store.ts`.
 */
export async function rotateKeys(
  context: RepositoryContext,
  newKey: MasterKey,
  options: RotateOptions,
): Promise<RotateResult> {
  const { database, ring, clock } = context
  const batchSize = options.batchSize ?? 100
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new CalloutError('INVALID_ARGUMENT', 'batchSize must be an integer from 1 to 10 000.')
  }
  const previousMasterKeyId = ring.masterKeyId
  let freshRecordId: string | undefined
  const dataKeysRewrapped = await database.writeTransaction('callout.data_keys', async (trx) => {
    const records = await readDataKeys(trx)
    ring.load(records.filter((record) => !ring.has(record.id)))
    for (const record of ring.rewrapAll(newKey, records)) {
      await trx
        .updateTable('data_keys')
        .set({ master_key_id: record.masterKeyId, wrapped_key: record.wrappedKey })
        .where('id', '=', record.id)
        .execute()
    }
    if (options.reencrypt === true) {
      const createdAt = Math.max(clock.now(), ...records.map((record) => record.createdAt + 1))
      const fresh = wrapDataKey(newKey, newDataKeyId(), randomBytes(KEY_BYTES), createdAt)
      await insertDataKey(trx, fresh)
      freshRecordId = fresh.id
    }
    return records.length
  })
  ring.useMasterKey(newKey)
  if (freshRecordId === undefined) {
    return {
      previousMasterKeyId,
      masterKeyId: newKey.id,
      dataKeysRewrapped,
      rowsReencrypted: 0,
      rowsTampered: 0,
    }
  }
  // Load the fresh key (now wrapped under the new master key) and make it active.
  ring.load((await readDataKeys(database.db)).filter((record) => record.id === freshRecordId))
  const rows = await reencryptAll(context, batchSize, options.onProgress)
  return { previousMasterKeyId, masterKeyId: newKey.id, dataKeysRewrapped, ...rows }
}

async function reencryptAll(
  context: RepositoryContext,
  batchSize: number,
  onProgress: ((progress: RotateProgress) => void) | undefined,
): Promise<{ rowsReencrypted: number; rowsTampered: number }> {
  const { database, ring } = context
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const db = database.db as unknown as Kysely<any>
  const work: { target: Target; key: Record<string, unknown> }[] = []
  for (const target of TARGETS) {
    let query = db.selectFrom(target.table).select([...target.key])
    // Tables with integrity tags: every row is re-signed under the new data key.
    if (target.macInput === undefined) {
      query = query.where((eb) => eb.or(target.columns.map((column) => eb(column, 'is not', null))))
    }
    for (const row of (await query.execute()) as Record<string, unknown>[])
      work.push({ target, key: row })
  }
  const total = work.length
  let done = 0
  let rowsTampered = 0
  onProgress?.({ done, total })
  for (let start = 0; start < total; start += batchSize) {
    const batch = work.slice(start, start + batchSize)
    rowsTampered += await database.writeTransaction('callout.rotate', async (trx) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const tx = trx as unknown as Kysely<any>
      let tampered = 0
      for (const { target, key } of batch) {
        let select = tx.selectFrom(target.table).selectAll()
        for (const column of target.key) select = select.where(column, '=', key[column])
        const row = (await select.executeTakeFirst()) as Record<string, unknown> | undefined
        if (row === undefined) continue
        const mac = text(row['mac'])
        await context.ensureKeys(trx, [...target.columns.map((column) => text(row[column])), mac])
        // A row changed outside Callout keeps its (failing) tag: re-signing would launder it.
        if (target.macInput !== undefined && !ring.verify(mac, target.macInput(row))) {
          tampered++
          continue
        }
        const rowId = target.rowId(row)
        const values: Record<string, string> = {}
        const old: Record<string, string | null> = {}
        for (const column of target.columns) {
          const value = row[column]
          if (typeof value !== 'string' || KeyRing.keyIdOf(value) === ring.activeKeyId) continue
          const aad = { table: target.table, column, row: rowId }
          values[column] = ring.encrypt(ring.decrypt(value, aad).reveal(), aad)
          old[column] = value
        }
        if (
          target.macInput !== undefined &&
          (Object.keys(values).length > 0 || KeyRing.keyIdOfTag(mac ?? '') !== ring.activeKeyId)
        ) {
          values['mac'] = ring.sign(target.macInput({ ...row, ...values }))
          old['mac'] = mac
        }
        if (Object.keys(values).length === 0) continue
        let update = tx.updateTable(target.table).set(values)
        for (const column of target.key) update = update.where(column, '=', key[column])
        // Compare-and-set on the old values: a concurrent writer's newer value wins.
        for (const [column, value] of Object.entries(old)) {
          update = update.where(column, value === null ? 'is' : '=', value)
        }
        await update.execute()
      }
      return tampered
    })
    done += batch.length
    onProgress?.({ done, total })
  }
  return { rowsReencrypted: total - rowsTampered, rowsTampered }
}
