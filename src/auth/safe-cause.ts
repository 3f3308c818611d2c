/**
 * Causes without payloads. Errors from oauth4webapi keep the parsed response (`cause: { body }`,
 * `response`) — a token response body holds access and refresh tokens — and a `CalloutError`
 * keeps its `cause` for `util.inspect`, logs and the cooldown that re-throws it. Every error from
 * an authorization-server exchange is reduced to this before it becomes a cause.
 */
import { sanitizeExcerpt } from './excerpt.ts'

const MAX_DEPTH = 4

/**
 * A copy of `error` with only its name, a short printable message and a string `code`, and the
 * same reduction of its `cause` when that is an `Error` (other causes, such as oauth4webapi's
 * `{ body }`, are dropped). Undefined for anything that is not an `Error`.
 *
 * @example
 * throw new CalloutError('TOKEN_RESPONSE_INVALID', 'The token response failed validation.', {
 *   cause: safeCause(error),
 * })
 */
export function safeCause(error: unknown, depth = 0): Error | undefined {
  if (!(error instanceof Error) || depth > MAX_DEPTH) return undefined
  const inner = safeCause(error.cause, depth + 1)
  const copy = new Error(
    sanitizeExcerpt(error.message, 300),
    inner === undefined ? undefined : { cause: inner },
  )
  copy.name = error.name
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') (copy as Error & { code?: string }).code = code
  return copy
}
