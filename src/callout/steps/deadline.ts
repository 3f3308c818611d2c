import { CalloutError } from '../../errors.ts'

/** A running total deadline of one callout: where it came from, and a signal that fires at it. */
export interface Deadline {
  readonly ms: number
  /** `definition`: the Named Credential's `deadlineMs`; `option`: the call's `deadlineMs`. */
  readonly source: 'definition' | 'option'
  readonly signal: AbortSignal
}

/**
 * Starts the total deadline of a callout: the shorter of the Named Credential's `deadlineMs` and
 * the call's `deadlineMs` option, or `undefined` when neither is set. A call option that is not
 * a positive integer is `INVALID_ARGUMENT`.
 *
 * @example
 * const deadline = startDeadline(nc.deadlineMs, options.deadlineMs) // fires 30 s from now
 */
export function startDeadline(
  definitionMs: number | undefined,
  optionMs: unknown,
): Deadline | undefined {
  if (optionMs !== undefined && (!Number.isSafeInteger(optionMs) || (optionMs as number) < 1)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `deadlineMs must be a positive whole number of milliseconds; got ${JSON.stringify(optionMs)}.`,
    )
  }
  const option = optionMs as number | undefined
  if (definitionMs === undefined && option === undefined) return undefined
  const fromOption = option !== undefined && (definitionMs === undefined || option < definitionMs)
  const ms = fromOption ? option : (definitionMs as number)
  return { ms, source: fromOption ? 'option' : 'definition', signal: AbortSignal.timeout(ms) }
}

/**
 * The signal `send` gives undici: the caller's, the deadline's, or both combined.
 *
 * @example
 * dispatcher.request({ ..., signal: requestSignal(request.signal, deadline) })
 */
export function requestSignal(
  caller: AbortSignal | undefined,
  deadline: Deadline | undefined,
): AbortSignal | undefined {
  if (deadline === undefined) return caller
  return caller === undefined ? deadline.signal : AbortSignal.any([caller, deadline.signal])
}

/**
 * `UPSTREAM_TIMEOUT` for a passed deadline, with `details.timeout: 'deadline'`, `deadlineMs` and
 * `deadlineSource`.
 *
 * @example
 * throw deadlineError(deadline, { target: 'Api', origin: 'https://api.example.com' }, cause)
 */
export function deadlineError(
  deadline: Deadline,
  context: { readonly target: string; readonly origin: string },
  cause: unknown,
): CalloutError {
  const raise =
    deadline.source === 'definition'
      ? `raise deadlineMs on the Named Credential (max 86400000)`
      : 'pass a larger deadlineMs'
  return new CalloutError(
    'UPSTREAM_TIMEOUT',
    `${context.origin} did not finish within the ${deadline.ms} ms deadline (${context.target}); ${raise}, or check the upstream.`,
    {
      cause,
      details: {
        target: context.target,
        origin: context.origin,
        timeout: 'deadline',
        deadlineMs: deadline.ms,
        deadlineSource: deadline.source,
      },
    },
  )
}
