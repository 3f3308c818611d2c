/**
 * Change tracking for replication: `GET /sobjects/<T>/updated?start=&end=` (ids of records
 * created or changed in the window, by `SystemModstamp`) and `GET /sobjects/<T>/deleted?start=&end=`
 * (deleted records with their `deletedDate`). Both answer `latestDateCovered` (the end, or now if
 * earlier, down to the minute); `deleted` also `earliestDateAvailable` (15 days back, Salesforce's
 * recycle-bin retention). Dates are ISO 8601 with a zone; a `+` must be sent as `%2B`.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm
 */

import type { RequestContext } from '../data/context.ts'
import { formatDateTime, parseDateTime } from '../data/datetime.ts'
import { DataApiError } from '../data/errors.ts'
import { objectOrNotFound } from '../data/lookups.ts'
import type { StoredRecord } from '../data/records.ts'
import type { Route, RouteRequest, RouteResponse } from '../http/route-types.ts'

const MINUTE_MS = 60_000
const DAY_MS = 86_400_000
/** How far back `start` may reach. */
export const REPLICATION_WINDOW_DAYS = 30
/** How long deleted records stay listed. */
export const DELETED_RETENTION_DAYS = 15

function replicationError(message: string): DataApiError {
  return new DataApiError(400, 'INVALID_REPLICATION_DATE', message)
}

function dateParam(req: RouteRequest, name: 'start' | 'end'): number {
  const text = req.query.get(name)
  if (text === null || text.trim() === '') {
    throw new DataApiError(
      400,
      'MISSING_ARGUMENT',
      `The '${name}' parameter is required, e.g. ?start=2026-11-01T00:00:00%2B00:00&end=2026-11-02T00:00:00%2B00:00`,
    )
  }
  const ms = parseDateTime(text)
  if (ms === undefined) {
    throw replicationError(
      `'${text}' is not a valid ${name} date: use ISO 8601 with a zone, e.g. 2026-11-01T00:00:00Z (send '+' as %2B)`,
    )
  }
  return ms
}

interface Window {
  readonly start: number
  /** `latestDateCovered`: the end (or now, if earlier) down to the minute. */
  readonly latest: number
}

function window(ctx: RequestContext, req: RouteRequest): Window {
  const start = dateParam(req, 'start')
  const end = dateParam(req, 'end')
  const now = ctx.org.now()
  if (end - start <= MINUTE_MS) {
    throw replicationError('startDate must chronologically precede endDate by more than one minute')
  }
  if (start < now - REPLICATION_WINDOW_DAYS * DAY_MS) {
    throw replicationError(
      `startDate cannot be more than ${REPLICATION_WINDOW_DAYS} days ago (the earliest is ${formatDateTime(now - REPLICATION_WINDOW_DAYS * DAY_MS)})`,
    )
  }
  const latest = Math.floor(Math.min(end, now) / MINUTE_MS) * MINUTE_MS
  return { start, latest }
}

function modstamp(rec: StoredRecord): number {
  const text = rec.fields['SystemModstamp'] ?? rec.fields['LastModifiedDate']
  return typeof text === 'string' ? (parseDateTime(text) ?? 0) : 0
}

function updated(ctx: RequestContext, req: RouteRequest, params: readonly string[]): RouteResponse {
  const def = objectOrNotFound(ctx, params[0] ?? '')
  const { start, latest } = window(ctx, req)
  const ids = ctx.org.store
    .all(def.name)
    .filter((r) => {
      const at = modstamp(r)
      return at >= start && at < latest
    })
    .map((r) => r.id)
  return { status: 200, body: { ids, latestDateCovered: formatDateTime(latest) } }
}

function deleted(ctx: RequestContext, req: RouteRequest, params: readonly string[]): RouteResponse {
  const def = objectOrNotFound(ctx, params[0] ?? '')
  const { start, latest } = window(ctx, req)
  const earliest =
    Math.floor((ctx.org.now() - DELETED_RETENTION_DAYS * DAY_MS) / MINUTE_MS) * MINUTE_MS
  const deletedRecords = ctx.org.store
    .all(def.name, true)
    .filter((r) => r.deleted)
    .map((r) => ({ id: r.id, at: modstamp(r) }))
    .filter((r) => r.at >= Math.max(start, earliest) && r.at < latest)
    .map((r) => ({ id: r.id, deletedDate: formatDateTime(r.at) }))
  return {
    status: 200,
    body: {
      deletedRecords,
      earliestDateAvailable: formatDateTime(earliest),
      latestDateCovered: formatDateTime(latest),
    },
  }
}

/** Routes of `updated` and `deleted`; they go before `sobjects/<T>/<id>`. */
export const CHANGE_TRACKING_ROUTES: readonly Route[] = [
  { pattern: ['sobjects', ':type', 'updated'], methods: { GET: updated } },
  { pattern: ['sobjects', ':type', 'deleted'], methods: { GET: deleted } },
]
