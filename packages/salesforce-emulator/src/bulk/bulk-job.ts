/**
 * What ingest and query jobs share: identity, state, CSV format, and the common part of the job
 * info document; and the reading of the job-creation body's common fields.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_info.htm
 */
import { invalidJob } from './bulk-error.ts'
import { COLUMN_DELIMITERS, type ColumnDelimiter, type CsvFormat, type LineEnding } from './csv.ts'

/** States of a Bulk API 2.0 job. */
export type JobState =
  'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted'

/** The fields every job is created with. */
export interface JobInit {
  id: string
  object: string
  format: CsvFormat
  apiVersion: number
  userId: string
  now: string
}

/** A Bulk API 2.0 job of either kind. */
export abstract class BulkJob {
  readonly id: string
  readonly object: string
  readonly format: CsvFormat
  readonly apiVersion: number
  readonly createdById: string
  readonly createdDate: string
  systemModstamp: string
  abstract state: JobState
  abstract readonly operation: string

  constructor(init: JobInit) {
    this.id = init.id
    this.object = init.object
    this.format = init.format
    this.apiVersion = init.apiVersion
    this.createdById = init.userId
    this.createdDate = init.now
    this.systemModstamp = init.now
  }

  /** The job info document (`GET /jobs/<kind>/<id>`). */
  abstract info(): Record<string, unknown>

  /** The fields of the job info document both kinds share. */
  protected baseInfo(jobType: 'V2Ingest' | 'V2Query'): Record<string, unknown> {
    return {
      id: this.id,
      operation: this.operation,
      object: this.object,
      createdById: this.createdById,
      createdDate: this.createdDate,
      systemModstamp: this.systemModstamp,
      state: this.state,
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: this.apiVersion,
      jobType,
      lineEnding: this.format.lineEnding,
      columnDelimiter: this.format.columnDelimiter,
      retries: 0,
      totalProcessingTime: 0,
    }
  }
}

/** The JSON object of a job-creation body, or 400 `INVALIDJOB`. */
export function jobSpec(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidJob('The request body must be a JSON object describing the job')
  return body as Record<string, unknown>
}

/** The job's `columnDelimiter` and `lineEnding` (defaults COMMA and LF), or 400 `INVALIDJOB`. */
export function csvFormat(spec: Record<string, unknown>): CsvFormat {
  const columnDelimiter = spec['columnDelimiter'] ?? 'COMMA'
  if (typeof columnDelimiter !== 'string' || !(columnDelimiter in COLUMN_DELIMITERS)) {
    throw invalidJob(
      `Invalid columnDelimiter: ${String(columnDelimiter)}; use one of ${Object.keys(COLUMN_DELIMITERS).join(', ')}`,
    )
  }
  const lineEnding = spec['lineEnding'] ?? 'LF'
  if (lineEnding !== 'LF' && lineEnding !== 'CRLF')
    throw invalidJob(`Invalid lineEnding: ${String(lineEnding)}; use LF or CRLF`)
  return {
    columnDelimiter: columnDelimiter as ColumnDelimiter,
    lineEnding: lineEnding as LineEnding,
  }
}
