/**
 * Bulk API 2.0 ingest jobs: the job record, its state machine (`Open` → `UploadComplete` →
 * `JobComplete` | `Failed`, or `Aborted`), and the processing of the uploaded CSV against the
 * org's records, one row at a time (a failed row never undoes another). Pure: the HTTP layer
 * (bulk-endpoint.ts) reads bodies and writes answers.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/create_job.htm
 */

import type { RequestContext } from '../data/context.ts'
import { formatDateTime } from '../data/datetime.ts'
import { DataApiError, isDataApiError, unknownException } from '../data/errors.ts'
import { externalIdField, findByExternalId } from '../data/lookups.ts'
import { createRecord, deleteRecord, findLiveRecord, updateRecord } from '../data/record-writes.ts'
import type { FieldDef, SObjectDef } from '../data/schema.ts'
import { invalidJob, invalidJobState } from './bulk-error.ts'
import { BulkJob, csvFormat, jobSpec, type JobInit, type JobState } from './bulk-job.ts'
import { CsvError, parseCsv, toCsv } from './csv.ts'

/** Ingest operations. `hardDelete` deletes like `delete` here (records stay in `queryAll`). */
export const INGEST_OPERATIONS = ['insert', 'update', 'upsert', 'delete', 'hardDelete'] as const

/** An ingest operation. */
export type IngestOperation = (typeof INGEST_OPERATIONS)[number]

/** The value that sets a field to null in uploaded CSV (an empty value leaves it unset). */
export const CSV_NULL = '#N/A'

interface RowOutcome {
  readonly row: readonly string[]
  readonly id: string
  readonly created?: boolean
  readonly error?: string
}

/** One ingest job of an org. */
export class IngestJob extends BulkJob {
  readonly operation: IngestOperation
  readonly externalIdFieldName: string | undefined
  state: JobState = 'Open'
  errorMessage: string | undefined
  /** Uploaded CSV (one upload per job, as Salesforce accepts). */
  upload: string | undefined
  uploads = 0
  header: readonly string[] = []
  outcomes: RowOutcome[] = []
  /** Rows read but not processed (a failed or aborted job). */
  unprocessed: readonly (readonly string[])[] = []

  constructor(
    init: JobInit & { operation: IngestOperation; externalIdFieldName: string | undefined },
  ) {
    super(init)
    this.operation = init.operation
    this.externalIdFieldName = init.externalIdFieldName
  }

  /** The job info document (`GET /jobs/ingest/<id>`). */
  info(): Record<string, unknown> {
    const info: Record<string, unknown> = {
      ...this.baseInfo('V2Ingest'),
      contentUrl: `services/data/v${this.apiVersion.toFixed(1)}/jobs/ingest/${this.id}/batches`,
      numberRecordsProcessed: this.outcomes.length,
      numberRecordsFailed: this.outcomes.filter((o) => o.error !== undefined).length,
      apiActiveProcessingTime: 0,
      apexProcessingTime: 0,
    }
    if (this.externalIdFieldName !== undefined)
      info['externalIdFieldName'] = this.externalIdFieldName
    if (this.errorMessage !== undefined) info['errorMessage'] = this.errorMessage
    return info
  }

  /** `successfulResults`: `sf__Id`, `sf__Created`, then the uploaded columns. */
  successfulResults(): string {
    const rows = this.outcomes
      .filter((o) => o.error === undefined)
      .map((o) => [o.id, String(o.created ?? false), ...o.row])
    return toCsv(['sf__Id', 'sf__Created', ...this.header], rows, this.format)
  }

  /** `failedResults`: `sf__Id`, `sf__Error`, then the uploaded columns. */
  failedResults(): string {
    const rows = this.outcomes
      .filter((o) => o.error !== undefined)
      .map((o) => [o.id, o.error ?? '', ...o.row])
    return toCsv(['sf__Id', 'sf__Error', ...this.header], rows, this.format)
  }

  /** `unprocessedrecords`: the uploaded columns of rows never processed; raw data if unreadable. */
  unprocessedRecords(): string {
    if (this.state === 'Failed' && this.header.length === 0) return this.upload ?? ''
    return toCsv(this.header, this.unprocessed, this.format)
  }
}

/** Reads a job-creation body into an {@link IngestJob}, or throws 400 `INVALIDJOB`. */
export function newIngestJob(ctx: RequestContext, body: unknown, id: string): IngestJob {
  const spec = jobSpec(body)
  const object = spec['object']
  if (typeof object !== 'string' || object === '')
    throw invalidJob('The object of the job is required, e.g. "object": "Account"')
  const def = ctx.org.schema.object(object)
  if (def === undefined) throw invalidJob(`Unable to find object: ${object}`)
  const operation = spec['operation']
  if (!INGEST_OPERATIONS.includes(operation as IngestOperation)) {
    throw invalidJob(
      `Invalid operation: ${String(operation)}; use one of ${INGEST_OPERATIONS.join(', ')}`,
    )
  }
  const contentType = spec['contentType'] ?? 'CSV'
  if (contentType !== 'CSV')
    throw invalidJob(`Invalid contentType: ${String(contentType)}; use CSV`)
  let externalIdFieldName: string | undefined
  if (operation === 'upsert') {
    const name = spec['externalIdFieldName']
    if (typeof name !== 'string' || name === '') {
      throw invalidJob(
        `External ID was blank for ${def.name}. An External ID must be specified for upsert.`,
      )
    }
    const field = ctx.org.schema.field(def, name)
    if (field === undefined || !(field.name === 'Id' || field.externalId)) {
      throw invalidJob(
        `The field name provided, ${name} is not an External ID or indexed field for ${def.name}`,
      )
    }
    externalIdFieldName = field.name
  }
  return new IngestJob({
    id,
    object: def.name,
    operation: operation as IngestOperation,
    externalIdFieldName,
    format: csvFormat(spec),
    apiVersion: Number(ctx.version),
    userId: ctx.userId,
    now: formatDateTime(ctx.org.now()),
  })
}

/** Takes a job's CSV upload; only an `Open` job accepts data. */
export function acceptUpload(job: IngestJob, csv: string, now: string): void {
  if (job.state !== 'Open') {
    throw invalidJobState(
      `Job ${job.id} is in state ${job.state}; data can only be uploaded to an Open job`,
    )
  }
  job.uploads++
  job.upload = csv
  job.systemModstamp = now
}

/**
 * Moves a job to `state` (`UploadComplete` or `Aborted`). Closing processes the upload: the job
 * answers `UploadComplete`, and is `JobComplete` (or `Failed`) on the next read.
 */
export function changeIngestState(ctx: RequestContext, job: IngestJob, state: unknown): void {
  if (state === 'UploadComplete') {
    if (job.state !== 'Open') {
      throw invalidJobState(
        `Job ${job.id} is in state ${job.state}; only an Open job can be closed`,
      )
    }
    if (job.uploads > 1) {
      throw invalidJob(
        `Found multipe contents for job: <${job.id}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.`,
      )
    }
    job.state = 'UploadComplete'
    job.systemModstamp = formatDateTime(ctx.org.now())
    return
  }
  if (state === 'Aborted') {
    if (job.state === 'JobComplete' || job.state === 'Failed' || job.state === 'Aborted') {
      throw invalidJobState(`Job ${job.id} is in state ${job.state} and can no longer be aborted`)
    }
    job.state = 'Aborted'
    job.systemModstamp = formatDateTime(ctx.org.now())
    if (job.upload !== undefined) {
      try {
        const table = parseCsv(job.upload, job.format)
        job.header = table.header
        job.unprocessed = table.rows
      } catch {
        // Unreadable data stays available raw through unprocessedrecords.
      }
    }
    return
  }
  throw invalidJobState(
    `Invalid state: ${JSON.stringify(state) ?? 'undefined'}; an ingest job accepts UploadComplete or Aborted`,
  )
}

/** Runs an `UploadComplete` job: the job ends `JobComplete`, or `Failed` with an `errorMessage`. */
export function processIngestJob(ctx: RequestContext, job: IngestJob): void {
  if (job.state !== 'UploadComplete') return
  job.systemModstamp = formatDateTime(ctx.org.now())
  const def = ctx.org.schema.object(job.object)
  if (def === undefined) return fail(job, `InvalidBatch : Unable to find object: ${job.object}`)
  if (job.upload === undefined || job.upload.trim() === '') {
    return fail(job, 'InvalidBatch : No data was uploaded to the job before it was closed')
  }
  let header: readonly string[]
  let rows: readonly (readonly string[])[]
  try {
    ;({ header, rows } = parseCsv(job.upload, job.format))
  } catch (err) {
    if (err instanceof CsvError) return fail(job, err.message)
    throw err
  }
  job.header = header
  const fields: FieldDef[] = []
  for (const name of header) {
    const field = ctx.org.schema.field(def, name)
    if (field === undefined) {
      job.unprocessed = rows
      return fail(job, `InvalidBatch : Field name not found : ${name}`)
    }
    fields.push(field)
  }
  const deleting = job.operation === 'delete' || job.operation === 'hardDelete'
  if (deleting && (fields.length !== 1 || fields[0]?.name !== 'Id')) {
    job.unprocessed = rows
    return fail(job, 'InvalidBatch : A delete job takes exactly one column: Id')
  }
  for (const row of rows) job.outcomes.push(processRow(ctx, job, def, fields, row))
  job.state = 'JobComplete'
}

function fail(job: IngestJob, message: string): void {
  job.state = 'Failed'
  job.errorMessage = message
}

function processRow(
  ctx: RequestContext,
  job: IngestJob,
  def: SObjectDef,
  fields: readonly FieldDef[],
  row: readonly string[],
): RowOutcome {
  const values: Record<string, unknown> = {}
  fields.forEach((f, i) => {
    const v = row[i] ?? ''
    if (v !== '') values[f.name] = v === CSV_NULL ? null : v
  })
  const givenId = typeof values['Id'] === 'string' ? values['Id'] : ''
  try {
    switch (job.operation) {
      case 'insert': {
        const rec = createRecord(ctx, def, values)
        return { row, id: rec.id, created: true }
      }
      case 'update': {
        if (givenId === '') throw missingId()
        const rec = findLiveRecord(ctx, def, givenId, 'write')
        const { Id: _id, ...rest } = values
        updateRecord(ctx, def, rec, rest)
        return { row, id: rec.id, created: false }
      }
      case 'upsert':
        return upsertRow(ctx, job, def, values, row)
      case 'delete':
      case 'hardDelete': {
        if (givenId === '') throw missingId()
        const rec = findLiveRecord(ctx, def, givenId, 'write')
        deleteRecord(ctx, def, rec)
        return { row, id: rec.id, created: false }
      }
    }
  } catch (err) {
    const e = isDataApiError(err) ? err : unknownException(err)
    const fieldList = e.fields !== undefined && e.fields.length > 0 ? `${e.fields.join(',')} ` : ''
    return { row, id: givenId, error: `${e.errorCode}:${e.message}:${fieldList}--` }
  }
}

function upsertRow(
  ctx: RequestContext,
  job: IngestJob,
  def: SObjectDef,
  values: Record<string, unknown>,
  row: readonly string[],
): RowOutcome {
  const key = externalIdField(ctx, def, job.externalIdFieldName ?? 'Id')
  const keyValue = values[key.name]
  if (keyValue === undefined || keyValue === null) {
    if (key.name === 'Id') {
      const rec = createRecord(ctx, def, values)
      return { row, id: rec.id, created: true }
    }
    throw new DataApiError(400, 'MISSING_ARGUMENT', `${key.name} not specified`, [key.name])
  }
  const matches =
    key.name === 'Id'
      ? [findLiveRecord(ctx, def, String(keyValue), 'write')]
      : findByExternalId(ctx, def, key, keyValue)
  if (matches.length > 1) {
    throw new DataApiError(
      300,
      'DUPLICATE_EXTERNAL_ID',
      `${key.label}: more than one record found for external id field: [${matches.map((m) => m.id).join(', ')}]`,
      [key.name],
    )
  }
  const existing = matches[0]
  if (existing === undefined) {
    const rec = createRecord(ctx, def, values)
    return { row, id: rec.id, created: true }
  }
  const { Id: _id, ...rest } = values
  updateRecord(ctx, def, existing, rest)
  return { row, id: existing.id, created: false }
}

function missingId(): DataApiError {
  return new DataApiError(400, 'MISSING_ARGUMENT', 'Id not specified in an update call', ['Id'])
}
