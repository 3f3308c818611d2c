/**
 * Server-side cursors for query results larger than one batch. A locator is `01g` plus 15
 * characters; `nextRecordsUrl` is `/services/data/vNN.0/query/<locator>-<offset>`, and the
 * locator part is version-independent (jsforce rebuilds the URL with its own version).
 * Locators expire after 15 minutes without use, like Salesforce's.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
 */

import { invalidQueryLocator } from './errors.ts'
import { KEY_PREFIXES, makeId } from './ids.ts'

/** Salesforce's batch size bounds for `Sforce-Query-Options: batchSize=N`. */
export const BATCH_SIZE_MIN = 200
/** Upper bound (and Salesforce's default) batch size. */
export const BATCH_SIZE_MAX = 2000

/** Idle lifetime of a locator. */
export const QUERY_LOCATOR_IDLE_MS = 15 * 60 * 1000

/** One page of a query result. */
export interface QueryPage {
  totalSize: number
  done: boolean
  nextRecordsUrl?: string
  records: unknown[]
}

interface Cursor {
  readonly rows: readonly unknown[]
  readonly batchSize: number
  lastUsedMs: number
}

const LOCATOR_SEGMENT_RE = /^(01g[0-9A-Za-z]{15})-(\d+)$/

/** Open query cursors of one org. */
export class QueryLocatorStore {
  readonly #cursors = new Map<string, Cursor>()
  readonly #now: () => number
  #counter = 0

  /** @param now - clock in epoch milliseconds */
  constructor(now: () => number) {
    this.#now = now
  }

  /**
   * The first page of `rows`; stores a cursor when more than `batchSize` rows remain.
   */
  firstPage(rows: readonly unknown[], batchSize: number, version: string): QueryPage {
    this.#evictExpired()
    if (rows.length <= batchSize) return { totalSize: rows.length, done: true, records: [...rows] }
    const locator = makeId(KEY_PREFIXES['QueryLocator'] ?? '01g', ++this.#counter)
    this.#cursors.set(locator, { rows, batchSize, lastUsedMs: this.#now() })
    return this.#page(locator, rows, batchSize, 0, version)
  }

  /**
   * The page at `<locator>-<offset>` (the last segment of a `nextRecordsUrl`).
   *
   * @throws {DataApiError} 400 `INVALID_QUERY_LOCATOR` for unknown, expired or malformed locators.
   */
  nextPage(segment: string, version: string): QueryPage {
    this.#evictExpired()
    const m = LOCATOR_SEGMENT_RE.exec(segment)
    const locator = m?.[1]
    const cursor = locator === undefined ? undefined : this.#cursors.get(locator)
    const offset = Number(m?.[2])
    if (locator === undefined || cursor === undefined || offset > cursor.rows.length) {
      throw invalidQueryLocator()
    }
    cursor.lastUsedMs = this.#now()
    return this.#page(locator, cursor.rows, cursor.batchSize, offset, version)
  }

  #page(
    locator: string,
    rows: readonly unknown[],
    size: number,
    offset: number,
    version: string,
  ): QueryPage {
    const end = offset + size
    const records = rows.slice(offset, end)
    // The cursor stays until it expires, so a retried GET of the last page still works.
    if (end >= rows.length) return { totalSize: rows.length, done: true, records }
    return {
      totalSize: rows.length,
      done: false,
      nextRecordsUrl: `/services/data/v${version}/query/${locator}-${end}`,
      records,
    }
  }

  #evictExpired(): void {
    const now = this.#now()
    for (const [id, c] of this.#cursors) {
      if (now - c.lastUsedMs > QUERY_LOCATOR_IDLE_MS) this.#cursors.delete(id)
    }
  }
}
