/**
 * The REST API front door: `/services/data` (versions, no authentication), then for everything
 * else under `/services/data/vNN.0` and `/services/apexrest`: fault switches, authentication
 * (401 `INVALID_SESSION_ID` only for a bad token), API limits, body parsing, and dispatch to the
 * resource map, `/limits`, Apex routes or the data layer. Every answer after the versions list
 * carries `Sforce-Limit-Info`.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
 */
import { BodyTooLargeError, mediaType } from '../http/body.ts'
import { bearerToken } from '../http/bearer.ts'
import type { Call } from '../http/call.ts'
import { redirect, sendErrors, sendJson } from '../http/respond.ts'
import type { AccessTokenRecord } from '../oauth/token-store.ts'
import { apiVersions, parseVersionSegment } from './api-versions.ts'
import { limitsDocument } from './limits.ts'
import { resourceMap } from './resource-map.ts'
import {
  BLOCKED_SESSION_MESSAGE,
  MISSING_API_SCOPE_MESSAGE,
  sendInvalidSession,
  sendUnknownException,
} from './rest-errors.ts'

const NOT_FOUND = 'The requested resource does not exist'

type ParsedBody = { ok: true; body: unknown; text: string | undefined } | { ok: false }

/** Answers a request under `/services/data` or `/services/apexrest`. */
export async function handleRest(call: Call): Promise<void> {
  const { org, res } = call
  if (call.path === '/services/data') {
    sendJson(res, 200, apiVersions())
    return
  }
  const limitHeader = (): Record<string, string> => ({
    'sforce-limit-info': `api-usage=${org.apiUsage}/${org.dailyApiLimit}`,
  })
  const injected = org.faults.takeFailure('rest')
  if (injected !== undefined) {
    if (injected >= 500 && injected !== 503) return sendUnknownException(res, limitHeader())
    const code = injected === 503 ? 'SERVER_UNAVAILABLE' : 'UNKNOWN_EXCEPTION'
    return sendErrors(
      res,
      injected,
      code,
      'Injected failure (emulator fault switch)',
      limitHeader(),
    )
  }
  if (org.faults.restRedirect !== undefined) {
    return redirect(res, `${org.faults.restRedirect}${call.path}${call.search}`)
  }
  const token = bearerToken(call.req)
  const access = token === undefined ? undefined : org.tokens.validAccessToken(token)
  if (access === undefined) return sendInvalidSession(res, limitHeader())
  if (org.faults.blockedSession)
    return sendErrors(res, 401, 'INVALID_SESSION_ID', BLOCKED_SESSION_MESSAGE, limitHeader())
  if (!access.scopes.includes('api') && !access.scopes.includes('full')) {
    return sendErrors(res, 401, 'INVALID_SESSION_ID', MISSING_API_SCOPE_MESSAGE, limitHeader())
  }
  org.apiUsage++
  if (org.faults.rateLimited || org.apiUsage > org.dailyApiLimit) {
    return sendErrors(
      res,
      403,
      'REQUEST_LIMIT_EXCEEDED',
      'TotalRequests Limit exceeded.',
      limitHeader(),
    )
  }
  const parsed = await parseBody(call, limitHeader())
  if (!parsed.ok) return
  if (call.path.startsWith('/services/apexrest'))
    return handleApex(call, access, parsed, limitHeader())
  const segments = call.path.split('/')
  const version = parseVersionSegment(segments[3] ?? '')
  if (!call.path.startsWith('/services/data/') || version === undefined) {
    return sendErrors(res, 404, 'NOT_FOUND', NOT_FOUND, limitHeader())
  }
  const rest = `/${segments.slice(4).join('/')}`
  if (rest === '/') {
    if (call.method !== 'GET' && call.method !== 'HEAD')
      return methodNotAllowed(call, 'GET,HEAD', limitHeader())
    return sendJson(res, 200, resourceMap(version, org.identityUrl(access.userId)), limitHeader())
  }
  if (rest === '/limits') {
    if (call.method !== 'GET' && call.method !== 'HEAD')
      return methodNotAllowed(call, 'GET,HEAD', limitHeader())
    return sendJson(res, 200, limitsDocument(org.apiUsage, org.dailyApiLimit), limitHeader())
  }
  const headers: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(call.req.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value
  }
  const answer = org.data.handle(
    { method: call.method, path: rest, query: call.query, body: parsed.body, version, headers },
    { userId: access.userId },
  )
  sendJson(res, answer.status, answer.body, { ...(answer.headers ?? {}), ...limitHeader() })
}

function methodNotAllowed(call: Call, allowed: string, headers: Record<string, string>): void {
  sendErrors(
    call.res,
    405,
    'METHOD_NOT_ALLOWED',
    `HTTP Method '${call.method}' not allowed. Allowed are ${allowed}`,
    { ...headers, allow: allowed },
  )
}

async function parseBody(call: Call, headers: Record<string, string>): Promise<ParsedBody> {
  let raw: Buffer
  try {
    raw = await call.body()
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      sendErrors(call.res, 413, 'JSON_PARSER_ERROR', err.message, headers)
      return { ok: false }
    }
    throw err
  }
  if (raw.length === 0) return { ok: true, body: undefined, text: undefined }
  const text = raw.toString('utf8')
  const type = mediaType(call.req.headers['content-type'])
  const isApex = call.path.startsWith('/services/apexrest')
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    if (isApex) return { ok: true, body: text, text }
    sendErrors(
      call.res,
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `Content type '${type}' is not supported; use application/json`,
      headers,
    )
    return { ok: false }
  }
  try {
    return { ok: true, body: JSON.parse(text) as unknown, text }
  } catch (err) {
    const position =
      err instanceof SyntaxError ? (/position (\d+)/.exec(err.message)?.[1] ?? '0') : '0'
    sendErrors(
      call.res,
      400,
      'JSON_PARSER_ERROR',
      `Unexpected character in JSON input at [line:1, column:${Number(position) + 1}]`,
      headers,
    )
    return { ok: false }
  }
}

async function handleApex(
  call: Call,
  access: AccessTokenRecord,
  parsed: { body: unknown },
  headers: Record<string, string>,
): Promise<void> {
  const path = call.path.slice('/services/apexrest'.length) || '/'
  const handler = call.org.apex.match(call.method, path)
  if (handler === undefined) {
    return sendErrors(call.res, 404, 'NOT_FOUND', `Could not find a match for URL ${path}`, headers)
  }
  if (handler === 'method-not-allowed') {
    return sendErrors(
      call.res,
      405,
      'METHOD_NOT_ALLOWED',
      `HTTP Method '${call.method}' not allowed`,
      headers,
    )
  }
  const user = call.org.userById(access.userId)
  let answer
  try {
    answer = await handler({
      method: call.method,
      path,
      query: call.query,
      headers: call.req.headers,
      body: parsed.body,
      user: { id: access.userId, username: user?.username ?? '' },
    })
  } catch (err) {
    const message = err instanceof Error ? err.message : 'Script-thrown exception'
    return sendErrors(
      call.res,
      500,
      'APEX_ERROR',
      `System.UnexpectedException: ${message}`,
      headers,
    )
  }
  sendJson(call.res, answer.status ?? 200, answer.body, { ...(answer.headers ?? {}), ...headers })
}
