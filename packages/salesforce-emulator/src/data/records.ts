/**
 * The in-memory record store: records keyed by 18-character id, in insertion order, with soft
 * deletion (`IsDeleted`) and whole-store snapshots for all-or-none rollback.
 */

import { makeId } from './ids.ts'

/** One stored record. `fields` uses canonical field names and wire-format values. */
export interface StoredRecord {
  /** Canonical sObject name. */
  readonly type: string
  /** 18-character id. */
  readonly id: string
  fields: Record<string, unknown>
  deleted: boolean
}

/** A restore point returned by {@link RecordStore.snapshot}. */
export interface StoreSnapshot {
  readonly records: ReadonlyMap<string, StoredRecord>
}

/** In-memory records of one org. */
export class RecordStore {
  #byId = new Map<string, StoredRecord>()
  #counters = new Map<string, number>()

  /** A fresh 18-character id for the key prefix. */
  nextId(keyPrefix: string): string {
    const n = (this.#counters.get(keyPrefix) ?? 0) + 1
    this.#counters.set(keyPrefix, n)
    return makeId(keyPrefix, n)
  }

  /** The next value of a per-object sequence (auto-number fields such as CaseNumber). */
  nextSequence(name: string): number {
    const key = `seq:${name}`
    const n = (this.#counters.get(key) ?? 0) + 1
    this.#counters.set(key, n)
    return n
  }

  /** Adds a record; the id must be new. */
  add(record: StoredRecord): void {
    if (this.#byId.has(record.id)) throw new Error(`duplicate id ${record.id}`)
    this.#byId.set(record.id, record)
  }

  /** The record with this 18-character id (deleted ones included), or undefined. */
  byId(id18: string): StoredRecord | undefined {
    return this.#byId.get(id18)
  }

  /** Records of `type` in insertion order; deleted ones only when `includeDeleted`. */
  all(type: string, includeDeleted = false): StoredRecord[] {
    const out: StoredRecord[] = []
    for (const r of this.#byId.values()) {
      if (r.type === type && (includeDeleted || !r.deleted)) out.push(r)
    }
    return out
  }

  /** A deep-enough copy of the store to undo every change made after it. */
  snapshot(): StoreSnapshot {
    const records = new Map<string, StoredRecord>()
    for (const [id, r] of this.#byId) records.set(id, { ...r, fields: { ...r.fields } })
    return { records }
  }

  /** Restores a snapshot. Ids and auto-numbers handed out since stay used, as in Salesforce. */
  restore(snapshot: StoreSnapshot): void {
    this.#byId = new Map()
    for (const [id, r] of snapshot.records) this.#byId.set(id, { ...r, fields: { ...r.fields } })
  }
}
