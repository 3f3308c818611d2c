/**
 * The key ring: the unwrapped data keys of one store, and the {@link SecretCipher} the store uses
 * to encrypt and decrypt every secret column. Data keys are persisted by the store, wrapped under
 * the master key ({@link DataKeyRecord}); the key ring itself knows no SQL.
 */
import { randomBytes } from 'node:crypto'
import { CalloutError } from '../errors.ts'
import { dataKeyAadBytes, open, parseEnvelope, seal, secretAadBytes } from './envelope.ts'
import type { SecretAad } from './envelope.ts'
import { KEY_BYTES } from './master-key.ts'
import type { MasterKey } from './master-key.ts'
import { computeRowMac, rowMacKey, rowMacKeyId, sameRowMac } from './row-mac.ts'
import type { RowMacInput } from './row-mac.ts'
import { Secret } from './secret.ts'

/** Encrypts and decrypts one secret value bound to its table, column and row. */
export interface SecretCipher {
  /** Returns a `v1.<dataKeyId>.<iv>.<ct>.<tag>` string. */
  encrypt(plaintext: string, aad: SecretAad): string
  /** Decrypts; `SECRET_CORRUPT` when the ciphertext was altered or moved to another place. */
  decrypt(ciphertext: string, aad: SecretAad): Secret
}

/** A data key as stored: wrapped under the master key whose fingerprint is `masterKeyId`. */
export interface DataKeyRecord {
  /** `dk_…`. */
  readonly id: string
  /** Fingerprint of the master key that wraps it (never the key). */
  readonly masterKeyId: string
  /** `v1.<masterKeyId>.<iv>.<ct>.<tag>` of the 32 raw key bytes. */
  readonly wrappedKey: string
  /** ms since epoch; the newest data key is the active one. */
  readonly createdAt: number
}

/** A new random data key id, `dk_` + 16 hex digits. */
export function newDataKeyId(): string {
  return `dk_${randomBytes(8).toString('hex')}`
}

/**
 * Wraps a raw data key under the master key.
 *
 * @example
 * const record = wrapDataKey(masterKey, newDataKeyId(), randomBytes(32), Date.now())
 */
export function wrapDataKey(
  master: MasterKey,
  id: string,
  raw: Uint8Array,
  createdAt: number,
): DataKeyRecord {
  const wrappedKey = seal(master.reveal(), master.id, raw, dataKeyAadBytes(id, master.id))
  return { id, masterKeyId: master.id, wrappedKey, createdAt }
}

/**
 * Unwraps a data key. A record wrapped under another master key is `MASTER_KEY_INVALID`; a record
 * that fails authentication under the right key is `SECRET_CORRUPT`.
 */
export function unwrapDataKey(master: MasterKey, record: DataKeyRecord): Buffer {
  if (record.masterKeyId !== master.id) throw wrongMasterKey()
  const envelope = parseEnvelope(record.wrappedKey)
  if (envelope.keyId !== master.id) throw wrongMasterKey()
  const raw = open(master.reveal(), envelope, dataKeyAadBytes(record.id, master.id))
  if (raw.length !== KEY_BYTES) {
    throw new CalloutError(
      'SECRET_CORRUPT',
      `Data key ${record.id} has a wrong length; restore the store from a backup.`,
    )
  }
  return raw
}

/** The error for a master key that does not match the store. */
export function wrongMasterKey(): CalloutError {
  return new CalloutError(
    'MASTER_KEY_INVALID',
    'The master key does not match the one this store was created with. Set CALLOUT_MASTER_KEY ' +
      '(or <home>/master.key) to the original key; if the key was rotated with `callout rotate-key`, ' +
      'use the new key and restart. If a `callout rotate-key` was interrupted, finish it with ' +
      '`callout rotate-key --resume`: it takes the new key from <home>/master.key.next (with ' +
      'CALLOUT_MASTER_KEY, set it to the key in the --output file first).',
  )
}

/**
 * The unwrapped data keys of one store. Encrypts with the newest (active) key and decrypts with
 * whichever key a ciphertext names.
 *
 * @example
 * const ring = KeyRing.open(masterKey, await loadDataKeyRecords())
 * const ct = ring.encrypt('s3cr3t', { table: 'credentials', column: 'access_token', row: 'id' })
 * ring.decrypt(ct, { table: 'credentials', column: 'access_token', row: 'id' }).reveal()
 */
export class KeyRing implements SecretCipher {
  #master: MasterKey
  readonly #keys = new Map<string, Buffer>()
  readonly #createdAt = new Map<string, number>()
  readonly #macKeys = new Map<string, Buffer>()
  #activeId: string | undefined

  private constructor(master: MasterKey) {
    this.#master = master
  }

  /**
   * A key ring over the given records. Every record must be wrapped under `master`
   * (`MASTER_KEY_INVALID` otherwise), so a wrong key is found before anything is written.
   */
  static open(master: MasterKey, records: readonly DataKeyRecord[]): KeyRing {
    const ring = new KeyRing(master)
    ring.load(records)
    return ring
  }

  /** The master key's fingerprint. */
  get masterKeyId(): string {
    return this.#master.id
  }

  /** The master key in use (for re-wrapping during rotation). */
  get masterKey(): MasterKey {
    return this.#master
  }

  /** The id of the data key new ciphertexts are sealed with, if any. */
  get activeKeyId(): string | undefined {
    return this.#activeId
  }

  /** True when the ring holds the data key `id`. */
  has(id: string): boolean {
    return this.#keys.has(id)
  }

  /** Adds records (already persisted); the newest becomes active. */
  load(records: readonly DataKeyRecord[]): void {
    const unwrapped = records.map(
      (record) => [record, unwrapDataKey(this.#master, record)] as const,
    )
    for (const [record, raw] of unwrapped) {
      this.#keys.set(record.id, raw)
      this.#createdAt.set(record.id, record.createdAt)
    }
    this.#pickActive()
  }

  /**
   * Creates a new data key wrapped under the master key, makes it active and returns its record
   * (its `createdAt` is `now`, or later than every held key so that it sorts newest).
   */
  createDataKey(now: number): DataKeyRecord {
    const raw = randomBytes(KEY_BYTES)
    const createdAt = Math.max(now, ...[...this.#createdAt.values()].map((at) => at + 1))
    const record = wrapDataKey(this.#master, newDataKeyId(), raw, createdAt)
    this.#keys.set(record.id, raw)
    this.#createdAt.set(record.id, createdAt)
    this.#activeId = record.id
    return record
  }

  #pickActive(): void {
    let best: [string, number] | undefined
    for (const [id, at] of this.#createdAt) {
      if (best === undefined || at > best[1] || (at === best[1] && id > best[0])) best = [id, at]
    }
    this.#activeId = best?.[0]
  }

  /** Re-wraps every held data key under `next` (for rotation); returns the new records. */
  rewrapAll(next: MasterKey, records: readonly DataKeyRecord[]): DataKeyRecord[] {
    return records.map((record) => {
      const raw = this.#keys.get(record.id) ?? unwrapDataKey(this.#master, record)
      return wrapDataKey(next, record.id, raw, record.createdAt)
    })
  }

  /** Switches to a new master key after its re-wrapped records were persisted. */
  useMasterKey(next: MasterKey): void {
    this.#master = next
  }

  /** The active data key and its id; `INTERNAL` before the store created one. */
  #active(): [string, Buffer] {
    const id = this.#activeId
    const key = id === undefined ? undefined : this.#keys.get(id)
    if (id === undefined || key === undefined) {
      throw new CalloutError(
        'INTERNAL',
        'The key ring has no active data key; open the store first.',
      )
    }
    return [id, key]
  }

  encrypt(plaintext: string, aad: SecretAad): string {
    const [id, key] = this.#active()
    if (typeof plaintext !== 'string')
      throw new CalloutError('INTERNAL', 'Only strings can be encrypted.')
    return seal(key, id, Buffer.from(plaintext, 'utf8'), secretAadBytes(id, aad))
  }

  decrypt(ciphertext: string, aad: SecretAad): Secret {
    const envelope = parseEnvelope(ciphertext)
    const key = this.#keys.get(envelope.keyId)
    if (key === undefined) {
      throw new CalloutError(
        'SECRET_CORRUPT',
        `A stored secret names data key ${envelope.keyId}, which this store does not have. ` +
          'Restore the store (including its data_keys table) from a backup.',
        { details: { dataKeyId: envelope.keyId } },
      )
    }
    const bytes = open(key, envelope, secretAadBytes(envelope.keyId, aad))
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
    try {
      return new Secret(text.decode(bytes))
    } catch (cause) {
      throw new CalloutError('SECRET_CORRUPT', 'A stored secret is not valid UTF-8; re-enter it.', {
        cause,
      })
    }
  }

  /**
   * The integrity tag of a row under the active data key's MAC subkey (see `row-mac.ts`):
   * `m1.<dataKeyId>.<tag>`.
   */
  sign(input: RowMacInput): string {
    const [id, key] = this.#active()
    return computeRowMac(this.#macKey(id, key), id, input)
  }

  /**
   * True when `tag` is a genuine tag of `input` under one of the ring's data keys. False for a
   * missing, malformed or forged tag, or one that names a data key the ring lacks.
   */
  verify(tag: string | null | undefined, input: RowMacInput): boolean {
    if (typeof tag !== 'string') return false
    const id = rowMacKeyId(tag)
    const key = id === undefined ? undefined : this.#keys.get(id)
    if (id === undefined || key === undefined) return false
    return sameRowMac(tag, computeRowMac(this.#macKey(id, key), id, input))
  }

  #macKey(id: string, dataKey: Buffer): Buffer {
    let key = this.#macKeys.get(id)
    if (key === undefined) {
      key = rowMacKey(dataKey)
      this.#macKeys.set(id, key)
    }
    return key
  }

  /** The data key id a row tag names, or undefined if it is malformed. */
  static keyIdOfTag(tag: string): string | undefined {
    return rowMacKeyId(tag)
  }

  /** The data key id a ciphertext was sealed with, or undefined if it is malformed. */
  static keyIdOf(ciphertext: string): string | undefined {
    try {
      return parseEnvelope(ciphertext).keyId
    } catch {
      return undefined
    }
  }
}
