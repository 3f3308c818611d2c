/**
 * Salesforce REST error arrays and the one error class the data layer throws internally.
 * Every failure carries a stable Salesforce `errorCode` and an HTTP status; {@link toErrorResponse}
 * turns it into the `[{ message, errorCode, fields? }]` body Salesforce sends.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
 */

/** One element of a Salesforce REST error array. */
export interface SalesforceErrorItem {
  message: string
  errorCode: string
  fields?: string[]
}

/** The error codes this emulator produces. */
export type DataErrorCode =
  | 'NOT_FOUND'
  | 'MALFORMED_ID'
  | 'INVALID_FIELD'
  | 'INVALID_TYPE'
  | 'MALFORMED_QUERY'
  | 'MALFORMED_SEARCH'
  | 'INVALID_QUERY_LOCATOR'
  | 'REQUIRED_FIELD_MISSING'
  | 'ENTITY_IS_DELETED'
  | 'JSON_PARSER_ERROR'
  | 'INVALID_TYPE_ON_FIELD_IN_RECORD'
  | 'INVALID_FIELD_FOR_INSERT_UPDATE'
  | 'INVALID_EMAIL_ADDRESS'
  | 'INVALID_QUERY_FILTER_OPERATOR'
  | 'MISSING_ARGUMENT'
  | 'DUPLICATE_EXTERNAL_ID'
  | 'LIMIT_EXCEEDED'
  | 'FIELD_INTEGRITY_EXCEPTION'
  | 'INVALID_CROSS_REFERENCE_KEY'
  | 'STRING_TOO_LONG'
  | 'DUPLICATE_VALUE'
  | 'METHOD_NOT_ALLOWED'
  | 'PROCESSING_HALTED'
  | 'ALL_OR_NONE_OPERATION_ROLLED_BACK'
  | 'INVALID_OPERATION'
  | 'INVALID_REPLICATION_DATE'
  | 'INVALID_ID_FIELD'
  | 'EXCEEDED_ID_LIMIT'
  | 'UNKNOWN_EXCEPTION'

const BRAND = Symbol.for('callout.salesforce-emulator.DataApiError')

/**
 * A failure that maps to one Salesforce error response. Thrown inside the data layer and caught
 * at the `handleDataRequest` boundary (rest/data-api.ts). Match on `errorCode`, not on the message.
 */
export class DataApiError extends Error {
  /** HTTP status of the response. */
  readonly status: number
  /** Salesforce `errorCode` of the first (usually only) error. */
  readonly errorCode: DataErrorCode
  /** Field names, for errors Salesforce reports with `fields`. */
  readonly fields: string[] | undefined
  readonly [BRAND] = true

  constructor(
    status: number,
    errorCode: DataErrorCode,
    message: string,
    fields?: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'DataApiError'
    this.status = status
    this.errorCode = errorCode
    this.fields = fields
  }

  /** Brand check that survives duplicate installs. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && BRAND in value
  }

  /** The Salesforce error array element for this error. */
  toItem(): SalesforceErrorItem {
    return this.fields === undefined
      ? { message: this.message, errorCode: this.errorCode }
      : { message: this.message, errorCode: this.errorCode, fields: this.fields }
  }
}

/** True when `value` is a {@link DataApiError} (brand check). */
export function isDataApiError(value: unknown): value is DataApiError {
  return value instanceof DataApiError
}

/** The `{ status, body }` of a Salesforce error array for `err`. */
export function toErrorResponse(err: DataApiError): {
  status: number
  body: SalesforceErrorItem[]
} {
  return { status: err.status, body: [err.toItem()] }
}

/** 404 `NOT_FOUND` "The requested resource does not exist". */
export function notFound(): DataApiError {
  return new DataApiError(404, 'NOT_FOUND', 'The requested resource does not exist')
}

/** 404 `NOT_FOUND` for a path segment that is neither an id nor an external id field. */
export function externalIdFieldNotFound(segment: string): DataApiError {
  return new DataApiError(
    404,
    'NOT_FOUND',
    `Provided external ID field does not exist or is not accessible: ${segment}`,
  )
}

/** 400 `MALFORMED_ID` "Account ID: id value of incorrect type: xyz" with `fields: ['Id']`. */
export function malformedId(label: string, id: string): DataApiError {
  return new DataApiError(400, 'MALFORMED_ID', `${label} ID: id value of incorrect type: ${id}`, [
    'Id',
  ])
}

/** 404 `ENTITY_IS_DELETED` "entity is deleted". */
export function entityIsDeleted(): DataApiError {
  return new DataApiError(404, 'ENTITY_IS_DELETED', 'entity is deleted')
}

/** 400 `INVALID_FIELD` for an unknown field in a record body. */
export function noSuchColumnOnSObject(field: string, type: string): DataApiError {
  return new DataApiError(
    400,
    'INVALID_FIELD',
    `No such column '${field}' on sobject of type ${type}`,
  )
}

/** 400 `REQUIRED_FIELD_MISSING` "Required fields are missing: [Name]". */
export function requiredFieldMissing(fields: string[]): DataApiError {
  return new DataApiError(
    400,
    'REQUIRED_FIELD_MISSING',
    `Required fields are missing: [${fields.join(', ')}]`,
    fields,
  )
}

/** 400 `JSON_PARSER_ERROR` with a parser-like message. */
export function jsonParserError(message: string): DataApiError {
  return new DataApiError(400, 'JSON_PARSER_ERROR', message)
}

/** 400 `MALFORMED_QUERY`. */
export function malformedQuery(message: string): DataApiError {
  return new DataApiError(400, 'MALFORMED_QUERY', message)
}

/** 400 `INVALID_TYPE` "sObject type 'Foo' is not supported. …" (SOQL). */
export function sObjectTypeNotSupported(type: string): DataApiError {
  return new DataApiError(
    400,
    'INVALID_TYPE',
    `sObject type '${type}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
  )
}

/** 400 `INVALID_FIELD` "No such column 'Foo' on entity 'Account'. …" (SOQL). */
export function noSuchColumnOnEntity(field: string, entity: string): DataApiError {
  return new DataApiError(
    400,
    'INVALID_FIELD',
    `No such column '${field}' on entity '${entity}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
  )
}

/** 400 `INVALID_QUERY_LOCATOR` "invalid query locator". */
export function invalidQueryLocator(): DataApiError {
  return new DataApiError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator')
}

/** 405 `METHOD_NOT_ALLOWED` "HTTP Method 'PUT' not allowed. Allowed are GET,PATCH,DELETE". */
export function methodNotAllowed(method: string, allowed: readonly string[]): DataApiError {
  return new DataApiError(
    405,
    'METHOD_NOT_ALLOWED',
    `HTTP Method '${method}' not allowed. Allowed are ${allowed.join(',')}`,
  )
}

/** 500 `UNKNOWN_EXCEPTION` for anything unexpected; the cause is kept but never sent. */
export function unknownException(cause: unknown): DataApiError {
  return new DataApiError(
    500,
    'UNKNOWN_EXCEPTION',
    'An unexpected error occurred. Please include this ErrorId if you contact support: 0000000000-00000 (0000000000)',
    undefined,
    { cause },
  )
}
