/**
 * `GET /recent?limit=n`: the records the org changed most recently, newest first, as
 * `[{attributes, Id, Name}]` (at most 200). Salesforce lists recently *viewed* records; the
 * emulator does not track views, so creating or changing a record is what makes it recent.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_recent_items.htm
 */

import type { RequestContext } from '../data/context.ts'
import { parseDateTime } from '../data/datetime.ts'
import { DataApiError } from '../data/errors.ts'
import { recordAttributes } from '../data/serialize.ts'
import type { Route, RouteRequest, RouteResponse } from '../http/route-types.ts'

/** Most records `recent` lists, and the default. */
export const RECENT_MAX = 200

function recent(ctx: RequestContext, req: RouteRequest): RouteResponse {
  const text = req.query.get('limit')
  const limit = text === null ? RECENT_MAX : Number(text)
  if (!Number.isInteger(limit) || limit < 1 || limit > RECENT_MAX) {
    throw new DataApiError(
      400,
      'INVALID_OPERATION',
      `limit must be an integer from 1 to ${RECENT_MAX}, not '${text ?? ''}'`,
    )
  }
  const rows: { at: number; order: number; row: Record<string, unknown> }[] = []
  let order = 0
  for (const def of ctx.org.schema.list()) {
    if (!def.queryable || def.name === 'Organization' || def.name === 'User') continue
    const hasName = def.fields.some((f) => f.name === 'Name')
    for (const rec of ctx.org.store.all(def.name)) {
      const stamp = rec.fields['LastModifiedDate'] ?? rec.fields['CreatedDate']
      rows.push({
        at: typeof stamp === 'string' ? (parseDateTime(stamp) ?? 0) : 0,
        order: order++,
        row: {
          attributes: recordAttributes(ctx.version, rec),
          Id: rec.id,
          Name: hasName ? (rec.fields['Name'] ?? null) : null,
        },
      })
    }
  }
  rows.sort((a, b) => b.at - a.at || b.order - a.order)
  return { status: 200, body: rows.slice(0, limit).map((r) => r.row) }
}

/** Route of the recent-items resource. */
export const RECENT_ROUTES: readonly Route[] = [{ pattern: ['recent'], methods: { GET: recent } }]
