/**
 * Bulk API 2.0 query jobs: the query runs when the job is created (so a malformed query answers
 * at once, with the REST query's error), the job reads `UploadComplete` on creation and
 * `JobComplete` afterwards, and results come back as CSV pages: `maxRecords` rows at a time with
 * an opaque `Sforce-Locator` for the next page (`null` on the last one).
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_create_job.htm
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_job_results.htm
 */

import type { RequestContext } from '../data/context.ts'
import { formatDateTime } from '../data/datetime.ts'
import { DataApiError, invalidQueryLocator } from '../data/errors.ts'
import { evaluateSoql } from '../data/soql/evaluate.ts'
import { parseSoql } from '../data/soql/parser.ts'
import { BulkApiError, invalidJob, invalidJobState } from './bulk-error.ts'
import { BulkJob, csvFormat, jobSpec, type JobInit, type JobState } from './bulk-job.ts'
import { toCsv } from './csv.ts'

/** One page of query results. */
export interface ResultPage {
  /** CSV with a header row. */
  readonly csv: string
  /** `Sforce-Locator`: the next page's locator, or `'null'` on the last page. */
  readonly locator: string
  /** `Sforce-NumberOfRecords`: rows on this page. */
  readonly count: number
}

/** One query job of an org. */
export class QueryJob extends BulkJob {
  readonly operation: 'query' | 'queryAll'
  readonly query: string
  state: JobState = 'UploadComplete'
  readonly header: readonly string[]
  readonly rows: readonly (readonly string[])[]

  constructor(
    init: JobInit & {
      operation: 'query' | 'queryAll'
      query: string
      header: readonly string[]
      rows: readonly (readonly string[])[]
    },
  ) {
    super(init)
    this.operation = init.operation
    this.query = init.query
    this.header = init.header
    this.rows = init.rows
  }

  /** The job info document (`GET /jobs/query/<id>`). */
  info(): Record<string, unknown> {
    return {
      ...this.baseInfo('V2Query'),
      numberRecordsProcessed: this.state === 'JobComplete' ? this.rows.length : 0,
      isPkChunkingSupported: false,
    }
  }

  /**
   * One page of results from `locator` (none: the first page), at most `maxRecords` rows.
   *
   * @throws {BulkApiError} 409 `INVALIDJOBSTATE` before `JobComplete`; 400 `CLIENTINPUTERROR`
   *   for a bad `maxRecords`; 400 `INVALID_QUERY_LOCATOR` for a locator this job never gave.
   */
  page(locator: string | null, maxRecords: string | null, defaultPageSize: number): ResultPage {
    if (this.state !== 'JobComplete') {
      throw invalidJobState(`Job ${this.id} is in state ${this.state}; results need JobComplete`)
    }
    const size = maxRecords === null ? defaultPageSize : Number(maxRecords)
    if (!Number.isInteger(size) || size < 1) {
      throw new BulkApiError(
        400,
        'CLIENTINPUTERROR',
        `Invalid maxRecords: ${maxRecords ?? ''}; use a positive integer`,
      )
    }
    const start = locator === null || locator === '' ? 0 : decodeLocator(locator, this.rows.length)
    const rows = this.rows.slice(start, start + size)
    const next = start + rows.length
    return {
      csv: toCsv(this.header, rows, this.format),
      locator: next < this.rows.length ? encodeLocator(next) : 'null',
      count: rows.length,
    }
  }
}

function encodeLocator(offset: number): string {
  return Buffer.from(String(offset)).toString('base64')
}

function decodeLocator(locator: string, total: number): number {
  const text = /^[A-Za-z0-9+/]+=*$/.test(locator) ? Buffer.from(locator, 'base64').toString() : ''
  const offset = /^\d+$/.test(text) ? Number(text) : NaN
  if (!Number.isInteger(offset) || offset < 1 || offset >= total) {
    const err = invalidQueryLocator()
    throw new BulkApiError(400, 'INVALID_QUERY_LOCATOR', err.message)
  }
  return offset
}

/**
 * Creates a query job from its JSON body: runs the query now.
 *
 * @throws {BulkApiError} 400 `INVALIDJOB` for a bad body
 * @throws {DataApiError} the REST query's errors (`MALFORMED_QUERY`, `INVALID_FIELD`, …)
 */
export function newQueryJob(ctx: RequestContext, body: unknown, id: string): QueryJob {
  const spec = jobSpec(body)
  const operation = spec['operation'] ?? 'query'
  if (operation !== 'query' && operation !== 'queryAll')
    throw invalidJob(`Invalid operation: ${String(operation)}; use query or queryAll`)
  const query = spec['query']
  if (typeof query !== 'string' || query.trim() === '')
    throw invalidJob('The query of the job is required, e.g. "query": "SELECT Id FROM Account"')
  const format = csvFormat(spec)
  const parsed = parseSoql(query)
  const result = evaluateSoql(ctx, parsed, operation === 'queryAll')
  if (result.rows.some((r) => isAggregate(r))) {
    throw new DataApiError(
      400,
      'INVALID_OPERATION',
      'Aggregate queries are not supported by Bulk API 2.0 query jobs; use the REST query resource',
    )
  }
  const flat = result.rows.map((r) => flatten(r))
  const header = columns(flat, parsed.select)
  return new QueryJob({
    id,
    operation,
    query,
    object: ctx.org.schema.object(parsed.from.name)?.name ?? parsed.from.name,
    format,
    apiVersion: Number(ctx.version),
    userId: ctx.userId,
    now: formatDateTime(ctx.org.now()),
    header,
    rows: flat.map((r) => header.map((h) => cell(r.get(h)))),
  })
}

function isAggregate(row: Record<string, unknown>): boolean {
  const attributes = row['attributes'] as { type?: unknown } | undefined
  return attributes?.type === 'AggregateResult'
}

/** A REST record as dotted columns (`Account.Name`), without `attributes`. */
function flatten(record: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()) {
  for (const [key, value] of Object.entries(record)) {
    if (key === 'attributes') continue
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      flatten(value as Record<string, unknown>, `${prefix}${key}.`, out)
    else out.set(`${prefix}${key}`, value)
  }
  return out
}

/**
 * The columns: those of the rows, in order (a row whose parent is null shows empty values for
 * the parent's columns); with no rows, the selected paths as written.
 */
function columns(
  rows: readonly Map<string, unknown>[],
  select: ReturnType<typeof parseSoql>['select'],
): string[] {
  const seen: string[] = []
  for (const r of rows) for (const k of r.keys()) if (!seen.includes(k)) seen.push(k)
  const leaves = seen.filter((k) => !seen.some((other) => other.startsWith(`${k}.`)))
  if (leaves.length > 0) return leaves
  return select.flatMap((s) => (s.kind === 'field' ? [s.path.join('.')] : []))
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return ''
  return typeof value === 'string' ? value : JSON.stringify(value)
}
