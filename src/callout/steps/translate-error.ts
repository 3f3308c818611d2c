import { CalloutError, isCalloutError } from '../../errors.ts'
import { deadlineError, type Deadline } from './deadline.ts'

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
])
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
])
const TLS_CODE =
  /^(?:ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$)/

function codesOf(error: unknown): string[] {
  const codes: string[] = []
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string') codes.push(code)
    current = (current as { cause?: unknown }).cause
  }
  return codes
}

/**
 * Pipeline step 6: turns a transport failure into a `CalloutError` with a stable code and the
 * original as `cause` (fastify-reply-from's mapping): timeouts → `UPSTREAM_TIMEOUT` (504),
 * refused/DNS/reset → `UPSTREAM_UNREACHABLE` (502), TLS → `UPSTREAM_TLS_ERROR` (502). A
 * `CalloutError` passes through; an abort by the caller's signal rethrows the signal's reason.
 *
 * @example
 * try { await send(req) } catch (e) { throw translateUpstreamError(e, { target: 'Api', origin, timeoutMs, signal }) }
 */
export function translateUpstreamError(
  error: unknown,
  context: {
    readonly target: string
    readonly origin: string
    readonly timeoutMs: number
    readonly signal?: AbortSignal | undefined
    /** The callout's total deadline, if any. */
    readonly deadline?: Deadline | undefined
  },
): unknown {
  if (isCalloutError(error)) return error
  if (context.signal?.aborted === true) return context.signal.reason ?? error
  if (context.deadline?.signal.aborted === true)
    return deadlineError(context.deadline, context, error)
  const codes = codesOf(error)
  const details = { target: context.target, origin: context.origin, cause: codes[0] ?? 'unknown' }
  if (codes.some((c) => TIMEOUT_CODES.has(c))) {
    return new CalloutError(
      'UPSTREAM_TIMEOUT',
      `${context.origin} did not answer within ${context.timeoutMs} ms (${context.target}); raise timeoutMs on the Named Credential (max 120000) or check the upstream.`,
      { cause: error, details: { ...details, timeout: 'idle', timeoutMs: context.timeoutMs } },
    )
  }
  if (codes.some((c) => TLS_CODE.test(c))) {
    return new CalloutError(
      'UPSTREAM_TLS_ERROR',
      `TLS with ${context.origin} failed (${codes.find((c) => TLS_CODE.test(c))}); check its certificate, the CA bundle, or the client certificate of ${context.target}.`,
      { cause: error, details },
    )
  }
  if (codes.some((c) => UNREACHABLE_CODES.has(c))) {
    const code = codes.find((c) => UNREACHABLE_CODES.has(c))
    // Under TLS 1.3 a server that requires a client certificate finishes the handshake and then
    // closes the connection when the certificate is missing or untrusted: the client only sees
    // the socket close, never a TLS error. Say so, since "check the network" would mislead.
    const closedAfterTls =
      context.origin.startsWith('https:') && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET')
    const hint = closedAfterTls
      ? `; the server closed the connection without answering — if it requires a client certificate (mutual TLS), it refused the one ${context.target} presented or got none: check the clientCertificate of ${context.target}`
      : ''
    return new CalloutError(
      'UPSTREAM_UNREACHABLE',
      `${context.origin} could not be reached (${code})${hint}; check the Named Credential URL of ${context.target} and the network.`,
      { cause: error, details },
    )
  }
  if (codes.includes('UND_ERR_INVALID_ARG')) {
    return new CalloutError(
      'INVALID_ARGUMENT',
      `The request to ${context.target} is invalid: ${(error as Error).message}`,
      {
        cause: error,
        details,
      },
    )
  }
  return new CalloutError(
    'UPSTREAM_UNREACHABLE',
    `The request to ${context.origin} (${context.target}) failed: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error, details },
  )
}
