/**
 * The JSON request body of a REST call: empty, JSON, or (where `acceptText`) raw text; a body
 * over the org's limit is 413 `JSON_PARSER_ERROR`, malformed JSON 400 `JSON_PARSER_ERROR`, any
 * other content type 415 `UNSUPPORTED_MEDIA_TYPE` — each answered here, in Salesforce's error
 * array shape, with the caller's `headers`.
 */
import { BodyTooLargeError, mediaType } from './body.ts'
import type { Call } from './call.ts'
import { sendErrors } from './respond.ts'

/** A body problem: the status, Salesforce `errorCode` and message to answer with. */
export interface BodyProblem {
  status: number
  errorCode: 'JSON_PARSER_ERROR' | 'UNSUPPORTED_MEDIA_TYPE'
  message: string
}

/** The parsed body, or the problem with it. */
export type JsonBody =
  { ok: true; body: unknown; text: string | undefined } | { ok: false; problem: BodyProblem }

/** The parsed body, or `ok: false` when the error answer has been sent. */
export type ParsedBody = { ok: true; body: unknown; text: string | undefined } | { ok: false }

/** Reads and parses the body of `call`; on bad input answers the error itself. */
export async function readJsonBody(
  call: Call,
  headers: Record<string, string>,
  acceptText: boolean,
): Promise<ParsedBody> {
  const parsed = await parseJsonBody(call, acceptText)
  if (parsed.ok) return parsed
  const { status, errorCode, message } = parsed.problem
  sendErrors(call.res, status, errorCode, message, headers)
  return { ok: false }
}

/** Reads and parses the body of `call` without answering. */
export async function parseJsonBody(call: Call, acceptText: boolean): Promise<JsonBody> {
  let raw: Buffer
  try {
    raw = await call.body()
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      return {
        ok: false,
        problem: { status: 413, errorCode: 'JSON_PARSER_ERROR', message: err.message },
      }
    }
    throw err
  }
  if (raw.length === 0) return { ok: true, body: undefined, text: undefined }
  const text = raw.toString('utf8')
  const type = mediaType(call.req.headers['content-type'])
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    if (acceptText) return { ok: true, body: text, text }
    return {
      ok: false,
      problem: {
        status: 415,
        errorCode: 'UNSUPPORTED_MEDIA_TYPE',
        message: `Content type '${type}' is not supported; use application/json`,
      },
    }
  }
  try {
    return { ok: true, body: JSON.parse(text) as unknown, text }
  } catch (err) {
    const position =
      err instanceof SyntaxError ? (/position (\d+)/.exec(err.message)?.[1] ?? '0') : '0'
    return {
      ok: false,
      problem: {
        status: 400,
        errorCode: 'JSON_PARSER_ERROR',
        message: `Unexpected character in JSON input at [line:1, column:${Number(position) + 1}]`,
      },
    }
  }
}
