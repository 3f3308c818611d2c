/**
 * Argument checks shared by the repositories of the store: the bounds of a key column, and the
 * mapping of optional columns onto `exactOptionalPropertyTypes` records.
 */
import { CalloutError } from '../errors.ts'

/** The longest value a key column (a name, a principal, a user id, a state) accepts. */
export const MAX_KEY_LENGTH = 255

/**
 * Throws `INVALID_ARGUMENT` unless `value` is a string of at most {@link MAX_KEY_LENGTH}
 * characters (and not empty, unless `allowEmpty`).
 */
export function assertKeyPart(value: unknown, field: string, allowEmpty: boolean): void {
  if (
    typeof value !== 'string' ||
    (!allowEmpty && value.length === 0) ||
    value.length > MAX_KEY_LENGTH
  ) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `${field} must be a ${allowEmpty ? '' : 'non-empty '}string of at most ${MAX_KEY_LENGTH} characters.`,
    )
  }
}

/** Drops `undefined` properties (for `exactOptionalPropertyTypes`). */
export function withoutUndefined<T>(record: Record<string, unknown>): T {
  for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key]
  return record as T
}
