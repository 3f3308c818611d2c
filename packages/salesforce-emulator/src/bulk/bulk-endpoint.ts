/**
 * Bulk API 2.0 over HTTP, under `/services/data/vNN.0/jobs/`:
 *
 * | method and path | answer |
 * |---|---|
 * | `POST /jobs/ingest` (JSON) | 200 job info, state `Open` |
 * | `PUT /jobs/ingest/<id>/batches` (`text/csv`) | 201, no body |
 * | `PATCH /jobs/ingest/<id>` `{state: UploadComplete \| Aborted}` | 200 job info |
 * | `GET /jobs/ingest[/<id>]` | all jobs, or one job's info |
 * | `GET /jobs/ingest/<id>/successfulResults \| failedResults \| unprocessedrecords` | CSV |
 * | `DELETE /jobs/ingest/<id>` | 204 |
 * | `POST /jobs/query` (JSON) | 200 job info, state `UploadComplete` |
 * | `GET /jobs/query[/<id>]` | all jobs, or one job's info |
 * | `GET /jobs/query/<id>/results?locator=&maxRecords=` | CSV; `Sforce-Locator`, `Sforce-NumberOfRecords` |
 * | `PATCH /jobs/query/<id>` `{state: Aborted}`, `DELETE /jobs/query/<id>` | job info, 204 |
 *
 * Errors are Salesforce error arrays (bulk-error.ts). The gateway has already authenticated the
 * caller and counted the request.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0.htm
 */
import type { ServerResponse } from 'node:http'
import type { RequestContext } from '../data/context.ts'
import { formatDateTime } from '../data/datetime.ts'
import { isDataApiError } from '../data/errors.ts'
import { parseVersionSegment } from '../http/api-versions.ts'
import { BodyTooLargeError, mediaType, readBody } from '../http/body.ts'
import type { Call } from '../http/call.ts'
import { parseJsonBody } from '../http/json-body.ts'
import { sendErrors, sendJson } from '../http/respond.ts'
import type { OrgState } from '../org/org-state.ts'
import type { AccessTokenRecord } from '../org/token-store.ts'
import { BulkApiError, invalidJobState, jobNotFound } from './bulk-error.ts'
import {
  acceptUpload,
  changeIngestState,
  IngestJob,
  newIngestJob,
  processIngestJob,
} from './ingest-job.ts'
import { newQueryJob, type QueryJob } from './query-job.ts'

/** The Bulk API 2.0 jobs of one org. */
interface BulkJobs {
  readonly ingest: Map<string, IngestJob>
  readonly query: Map<string, QueryJob>
}

const JOBS = new WeakMap<OrgState, BulkJobs>()

function jobsOf(org: OrgState): BulkJobs {
  let jobs = JOBS.get(org)
  if (jobs === undefined) {
    jobs = { ingest: new Map(), query: new Map() }
    JOBS.set(org, jobs)
  }
  return jobs
}

/** True for a path Bulk API 2.0 answers: `/services/data/vNN.0/jobs[/…]`. */
export function isBulkPath(path: string): boolean {
  return /^\/services\/data\/[^/]+\/jobs(\/|$)/.test(path)
}

type Answer =
  | { kind: 'json'; status: number; body?: unknown }
  | { kind: 'csv'; text: string; headers?: Record<string, string> }

/** Answers an authenticated Bulk API 2.0 request; `limitHeader` goes on every answer. */
export async function handleBulk(
  call: Call,
  access: AccessTokenRecord,
  limitHeader: Record<string, string>,
): Promise<void> {
  const segments = call.path.split('/').slice(3)
  const version = parseVersionSegment(segments[0] ?? '')
  if (version === undefined) {
    return sendErrors(
      call.res,
      404,
      'NOT_FOUND',
      'The requested resource does not exist',
      limitHeader,
    )
  }
  const ctx: RequestContext = {
    org: call.org.data.context,
    version,
    userId: access.userId,
    headers: {},
  }
  try {
    const answer = await route(call, ctx, segments.slice(2))
    if (answer.kind === 'csv')
      return sendCsv(call.res, answer.text, { ...answer.headers, ...limitHeader })
    sendJson(call.res, answer.status, answer.body, limitHeader)
  } catch (err) {
    if (err instanceof BulkApiError || isDataApiError(err)) {
      return sendErrors(call.res, err.status, err.errorCode, err.message, limitHeader)
    }
    throw err
  }
}

async function route(call: Call, ctx: RequestContext, rest: string[]): Promise<Answer> {
  const [kind, id, sub, ...extra] = rest
  if (kind === undefined && call.method === 'GET') {
    const base = `/services/data/v${ctx.version}/jobs`
    return { kind: 'json', status: 200, body: { ingest: `${base}/ingest`, query: `${base}/query` } }
  }
  const jobs = jobsOf(call.org)
  if ((kind !== 'ingest' && kind !== 'query') || extra.length > 0) throw jobNotFound()
  const method = call.method
  if (id === undefined) {
    if (method === 'POST') {
      const body = await jsonBody(call)
      const jobId = ctx.org.store.nextId('750')
      if (kind === 'ingest') {
        const job = newIngestJob(ctx, body, jobId)
        jobs.ingest.set(job.id, job)
        return { kind: 'json', status: 200, body: job.info() }
      }
      const job = newQueryJob(ctx, body, jobId)
      jobs.query.set(job.id, job)
      return { kind: 'json', status: 200, body: job.info() }
    }
    if (method === 'GET') {
      const list = kind === 'ingest' ? [...jobs.ingest.values()] : [...jobs.query.values()]
      for (const job of list) settle(ctx, job)
      return {
        kind: 'json',
        status: 200,
        body: { done: true, records: list.map((j) => j.info()), nextRecordsUrl: null },
      }
    }
    throw notAllowed(method, ['GET', 'POST'])
  }
  const job = kind === 'ingest' ? jobs.ingest.get(id) : jobs.query.get(id)
  if (job === undefined) throw jobNotFound()
  if (sub === undefined && method === 'GET') {
    settle(ctx, job)
    return { kind: 'json', status: 200, body: job.info() }
  }
  return job instanceof IngestJob
    ? ingestJobRoute(call, ctx, jobs, job, sub)
    : queryJobRoute(call, ctx, jobs, job, sub)
}

async function ingestJobRoute(
  call: Call,
  ctx: RequestContext,
  jobs: BulkJobs,
  job: IngestJob,
  sub: string | undefined,
): Promise<Answer> {
  const method = call.method
  if (sub === undefined) {
    if (method === 'PATCH') {
      const body = await jsonBody(call)
      const state =
        typeof body === 'object' && body !== null ? (body as { state?: unknown }).state : undefined
      changeIngestState(ctx, job, state)
      const info = job.info()
      settle(ctx, job)
      return { kind: 'json', status: 200, body: info }
    }
    if (method === 'DELETE') {
      if (job.state === 'Open' || job.state === 'InProgress') {
        throw invalidJobState(
          `Job ${job.id} is in state ${job.state}; close or abort it before deleting it`,
        )
      }
      jobs.ingest.delete(job.id)
      return { kind: 'json', status: 204 }
    }
    throw notAllowed(method, ['GET', 'PATCH', 'DELETE'])
  }
  if (sub === 'batches') {
    if (method !== 'PUT') throw notAllowed(method, ['PUT'])
    const csv = await csvBody(call, job)
    acceptUpload(job, csv, formatDateTime(ctx.org.now()))
    return { kind: 'json', status: 201 }
  }
  const results: Record<string, (j: IngestJob) => string> = {
    successfulResults: (j) => j.successfulResults(),
    failedResults: (j) => j.failedResults(),
    unprocessedrecords: (j) => j.unprocessedRecords(),
  }
  const read = results[sub]
  if (read === undefined) throw jobNotFound()
  if (method !== 'GET') throw notAllowed(method, ['GET'])
  settle(ctx, job)
  if (job.state !== 'JobComplete' && job.state !== 'Failed' && job.state !== 'Aborted') {
    throw invalidJobState(
      `Job ${job.id} is in state ${job.state}; results are available once it is JobComplete, Failed or Aborted`,
    )
  }
  return { kind: 'csv', text: read(job) }
}

function queryJobRoute(
  call: Call,
  ctx: RequestContext,
  jobs: BulkJobs,
  job: QueryJob,
  sub: string | undefined,
): Promise<Answer> | Answer {
  const method = call.method
  if (sub === undefined) {
    if (method === 'PATCH') {
      return jsonBody(call).then((body) => {
        const state =
          typeof body === 'object' && body !== null
            ? (body as { state?: unknown }).state
            : undefined
        if (state !== 'Aborted')
          throw invalidJobState(
            `Invalid state: ${JSON.stringify(state) ?? 'undefined'}; a query job accepts Aborted`,
          )
        if (job.state === 'JobComplete' || job.state === 'Failed' || job.state === 'Aborted')
          throw invalidJobState(
            `Job ${job.id} is in state ${job.state} and can no longer be aborted`,
          )
        job.state = 'Aborted'
        return { kind: 'json', status: 200, body: job.info() }
      })
    }
    if (method === 'DELETE') {
      jobs.query.delete(job.id)
      return { kind: 'json', status: 204 }
    }
    throw notAllowed(method, ['GET', 'PATCH', 'DELETE'])
  }
  if (sub !== 'results') throw jobNotFound()
  if (method !== 'GET') throw notAllowed(method, ['GET'])
  settle(ctx, job)
  if (String(job.apiVersion.toFixed(1)) !== ctx.version) {
    throw new BulkApiError(
      409,
      'API_VERSION_MISMATCH',
      `Job ${job.id} was created with API version ${job.apiVersion.toFixed(1)}; read its results with the same version`,
    )
  }
  const page = job.page(
    call.query.get('locator'),
    call.query.get('maxRecords'),
    call.org.bulkQueryPageSize,
  )
  return {
    kind: 'csv',
    text: page.csv,
    headers: { 'sforce-locator': page.locator, 'sforce-numberofrecords': String(page.count) },
  }
}

/** Moves a job past `UploadComplete`: the emulator processes a closed job on its next read. */
function settle(ctx: RequestContext, job: IngestJob | QueryJob): void {
  if (job.state !== 'UploadComplete') return
  if (job instanceof IngestJob) processIngestJob(ctx, job)
  else job.state = 'JobComplete'
}

async function jsonBody(call: Call): Promise<unknown> {
  const parsed = await parseJsonBody(call, false)
  if (parsed.ok) return parsed.body
  const { status, errorCode, message } = parsed.problem
  throw new BulkApiError(status, errorCode, message)
}

async function csvBody(call: Call, job: IngestJob): Promise<string> {
  const type = mediaType(call.req.headers['content-type'])
  if (type !== 'text/csv') {
    call.req.resume()
    throw new BulkApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `Content type '${type}' is not supported for job data; use text/csv`,
    )
  }
  try {
    return (await readBody(call.req, call.org.bulkUploadMaxBytes)).toString('utf8')
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      throw new BulkApiError(
        413,
        'CLIENTINPUTERROR',
        `The upload to job ${job.id} exceeds the maximum of ${err.limitBytes} bytes; split the data across several jobs`,
      )
    }
    throw err
  }
}

function notAllowed(method: string, allowed: readonly string[]): BulkApiError {
  return new BulkApiError(
    405,
    'METHOD_NOT_ALLOWED',
    `HTTP Method '${method}' not allowed. Allowed are ${allowed.join(',')}`,
  )
}

function sendCsv(res: ServerResponse, text: string, headers: Record<string, string>): void {
  if (res.headersSent) return
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
  res.statusCode = 200
  res.setHeader('content-type', 'text/csv')
  res.setHeader('content-length', Buffer.byteLength(text))
  res.end(text)
}
