/**
 * The state shared by every data route of one org, and the per-request view of it.
 */

import type { QueryLocatorStore } from './query-locators.ts'
import type { RecordStore } from './records.ts'
import type { Schema } from './schema.ts'

/** Everything the routes of one org share. */
export interface OrgContext {
  readonly schema: Schema
  readonly store: RecordStore
  readonly locators: QueryLocatorStore
  /** Epoch milliseconds. */
  readonly now: () => number
  /** Batch size of query results when the request names none. */
  readonly defaultBatchSize: number
  /** The instance origin, for the absolute URLs describe answers (`uiDetailTemplate`). */
  readonly instanceUrl: string
}

/** One request's view of the org: who acts, with which API version. */
export interface RequestContext {
  readonly org: OrgContext
  /** API version of the request, e.g. `'61.0'`. */
  readonly version: string
  /** 18-character id of the acting user. */
  readonly userId: string
  /** Lower-case request headers (may be empty). */
  readonly headers: Readonly<Record<string, string | undefined>>
}
