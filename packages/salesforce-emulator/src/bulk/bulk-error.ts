/**
 * Bulk API 2.0 failures: each answers a Salesforce error array `[{ errorCode, message }]` with an
 * HTTP status. Bulk API 2.0 writes its own codes in capitals without underscores
 * (`INVALIDJOB`, `INVALIDJOBSTATE`); resource and session errors keep the REST codes
 * (`NOT_FOUND`, `INVALID_SESSION_ID`).
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0_errors.htm
 */

/** The error codes Bulk API 2.0 answers with here. */
export type BulkErrorCode =
  | 'NOT_FOUND'
  | 'INVALIDJOB'
  | 'INVALIDJOBSTATE'
  | 'CLIENTINPUTERROR'
  | 'JSON_PARSER_ERROR'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'METHOD_NOT_ALLOWED'
  | 'INVALID_QUERY_LOCATOR'
  | 'API_VERSION_MISMATCH'

/** A Bulk API 2.0 failure with its HTTP status and Salesforce `errorCode`. */
export class BulkApiError extends Error {
  /** HTTP status of the answer. */
  readonly status: number
  /** Salesforce `errorCode`. */
  readonly errorCode: BulkErrorCode

  constructor(status: number, errorCode: BulkErrorCode, message: string) {
    super(message)
    this.name = 'BulkApiError'
    this.status = status
    this.errorCode = errorCode
  }
}

/** 404 `NOT_FOUND`: no job with this id (or no such resource under a job). */
export function jobNotFound(): BulkApiError {
  return new BulkApiError(404, 'NOT_FOUND', 'The requested resource does not exist')
}

/** 400 `INVALIDJOB`: the job definition or the request cannot be accepted. */
export function invalidJob(message: string): BulkApiError {
  return new BulkApiError(400, 'INVALIDJOB', message)
}

/** 409 `INVALIDJOBSTATE`: the job is not in a state that allows the request. */
export function invalidJobState(message: string): BulkApiError {
  return new BulkApiError(409, 'INVALIDJOBSTATE', message)
}
