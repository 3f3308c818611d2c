/**
 * Coerces JSON values from request bodies to the stored wire form of a field's type, the way the
 * Salesforce REST API deserialises them. A JSON token of the wrong kind (object, array) is a
 * `JSON_PARSER_ERROR`; a scalar that cannot be read as the field's type is
 * `INVALID_TYPE_ON_FIELD_IN_RECORD`.
 */

import { formatDate, formatDateTime, parseDate, parseDateTime } from './datetime.ts'
import { DataApiError, jsonParserError } from './errors.ts'
import { isValidId, toId18 } from './ids.ts'
import type { FieldDef } from './schema.ts'

function tokenName(value: unknown): string {
  if (Array.isArray(value)) return 'START_ARRAY'
  if (typeof value === 'object') return 'START_OBJECT'
  if (typeof value === 'string') return 'VALUE_STRING'
  if (typeof value === 'boolean') return value ? 'VALUE_TRUE' : 'VALUE_FALSE'
  return Number.isInteger(value) ? 'VALUE_NUMBER_INT' : 'VALUE_NUMBER_FLOAT'
}

function notOfType(field: FieldDef, value: unknown): DataApiError {
  return new DataApiError(
    400,
    'INVALID_TYPE_ON_FIELD_IN_RECORD',
    `${field.label}: value not of required type: ${String(value)}`,
    [field.name],
  )
}

/**
 * The stored value of `value` for `field`. `null` stays `null` (required checks happen later).
 *
 * @throws {DataApiError} `JSON_PARSER_ERROR`, `INVALID_TYPE_ON_FIELD_IN_RECORD`,
 *   `STRING_TOO_LONG`, `MALFORMED_ID`, `INVALID_EMAIL_ADDRESS`-style `INVALID_FIELD`… (see code)
 */
export function coerceFieldValue(field: FieldDef, value: unknown): unknown {
  if (value === null) return null
  if (typeof value === 'object' || value === undefined) {
    throw jsonParserError(
      `Cannot deserialize instance of ${field.type} from ${tokenName(value)} value ${JSON.stringify(value) ?? 'undefined'} or request may be missing a required field`,
    )
  }
  switch (field.type) {
    case 'boolean': {
      if (typeof value === 'boolean') return value
      if (typeof value === 'string' && /^(true|false)$/i.test(value))
        return value.toLowerCase() === 'true'
      throw notOfType(field, value)
    }
    case 'double':
    case 'currency':
    case 'percent':
    case 'int': {
      const n =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && value.trim() !== ''
            ? Number(value)
            : NaN
      if (!Number.isFinite(n) || (field.type === 'int' && !Number.isInteger(n)))
        throw notOfType(field, value)
      return n
    }
    case 'date': {
      if (typeof value !== 'string') throw notOfType(field, value)
      const ms = parseDate(value) ?? parseDateTime(value)
      if (ms === undefined) throw notOfType(field, value)
      return formatDate(ms)
    }
    case 'datetime': {
      if (typeof value !== 'string') throw notOfType(field, value)
      const ms = parseDateTime(value) ?? parseDate(value)
      if (ms === undefined) throw notOfType(field, value)
      return formatDateTime(ms)
    }
    case 'id':
    case 'reference': {
      const text = String(value)
      if (text === '') return null
      if (!isValidId(text)) {
        throw new DataApiError(
          400,
          'MALFORMED_ID',
          `${field.label}: id value of incorrect type: ${text}`,
          [field.name],
        )
      }
      return toId18(text)
    }
    default: {
      const text = String(value)
      if (text.length > field.length && field.length > 0) {
        throw new DataApiError(
          400,
          'STRING_TOO_LONG',
          `${field.label}: data value too large: ${text.slice(0, 80)} (max length=${field.length})`,
          [field.name],
        )
      }
      if (field.type === 'email' && text !== '' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(text)) {
        throw new DataApiError(
          400,
          'INVALID_EMAIL_ADDRESS',
          `${field.label}: invalid email address: ${text}`,
          [field.name],
        )
      }
      return text === '' ? null : text
    }
  }
}
