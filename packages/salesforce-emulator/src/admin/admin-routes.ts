/**
 * The test-only HTTP API under `/_emulator/...` on every org origin, answered only to loopback
 * callers: fault switches, the request log and the clock. Bodies are JSON.
 *
 * | method and path | body | effect |
 * |---|---|---|
 * | `GET /_emulator/org` (`?showSecrets=true`) | | the org's name, id, URLs, users and apps |
 * | `POST /_emulator/faults/expire-sessions` | `{ token? }` | expire all (or one) access tokens |
 * | `POST /_emulator/faults/revoke-refresh-tokens` | | revoke all refresh tokens |
 * | `POST /_emulator/faults/rotation` | `{ enabled }` | refresh-token rotation on/off |
 * | `POST /_emulator/faults/instance-url` | `{ url }` (null resets) | `instance_url` in token responses |
 * | `POST /_emulator/faults/rest-redirect` | `{ to }` (true = default host, null = off) | REST answers 302 |
 * | `POST /_emulator/faults/sso-only` | `{ enabled }` | password login refused |
 * | `POST /_emulator/faults/same-org-sso` | `{ enabled }` | authorize redirects `error=SAME_ORG_SSO` |
 * | `POST /_emulator/faults/rate-limit` | `{ enabled }` | REST 403 `REQUEST_LIMIT_EXCEEDED` |
 * | `POST /_emulator/faults/latency` | `{ tokenMs?, restMs? }` | added latency |
 * | `POST /_emulator/faults/fail-next` | `{ count, status?, scope? }` | next N requests fail |
 * | `POST /_emulator/faults/blocked-session` | `{ enabled }` | REST 401 "not valid for use with the REST API" |
 * | `POST /_emulator/faults/reset` | | all switches off |
 * | `GET /_emulator/requests` (`?grantType=&method=&path=`) | | `{ count, entries }` |
 * | `DELETE /_emulator/requests` | | clear the log |
 * | `POST /_emulator/clock/advance` | `{ ms }` | move the clock forward |
 *
 * Connected apps, users, custom objects and custom fields are created at run time through the
 * Setup routes (`setup-routes.ts`) under the same prefix.
 */
import { BodyTooLargeError } from '../http/body.ts'
import type { Call } from '../http/call.ts'
import { isLoopback } from '../http/loopback.ts'
import type { RequestLogFilter } from '../org/request-log.ts'
import { sendErrors, sendJson } from '../http/respond.ts'
import { connectedAppView, handleSetup, userView } from './setup-routes.ts'
import type { FaultScope } from '../org/fault-switches.ts'

type Body = Record<string, unknown>

function enabled(body: Body): boolean {
  if (typeof body['enabled'] !== 'boolean')
    throw new TypeError('body needs { "enabled": true|false }')
  return body['enabled']
}

function optionalNumber(body: Body, key: string): number | undefined {
  const v = body[key]
  if (v === undefined) return undefined
  if (typeof v !== 'number') throw new TypeError(`${key} must be a number`)
  return v
}

const FAULT_ACTIONS: Readonly<Record<string, (call: Call, body: Body) => unknown>> = {
  'expire-sessions': ({ org }, body) => {
    if (typeof body['token'] === 'string')
      return { expired: org.faults.expireAccessToken(body['token']) }
    org.faults.expireSessions()
    return { expired: true }
  },
  'revoke-refresh-tokens': ({ org }) => org.faults.revokeRefreshTokens(),
  rotation: ({ org }, body) => org.faults.setRotation(enabled(body)),
  'instance-url': ({ org }, body) => {
    const url = body['url']
    if (url !== null && typeof url !== 'string')
      throw new TypeError('body needs { "url": "<origin>" | null }')
    org.faults.setInstanceUrl(url)
  },
  'rest-redirect': ({ org }, body) => {
    const to = body['to']
    if (to !== null && to !== true && typeof to !== 'string') {
      throw new TypeError('body needs { "to": "<origin>" | true | null }')
    }
    org.faults.setRestRedirect(to)
  },
  'sso-only': ({ org }, body) => org.faults.setSsoOnly(enabled(body)),
  'same-org-sso': ({ org }, body) => org.faults.setSameOrgSso(enabled(body)),
  'rate-limit': ({ org }, body) => org.faults.setRateLimited(enabled(body)),
  'blocked-session': ({ org }, body) => org.faults.setBlockedSession(enabled(body)),
  latency: ({ org }, body) => {
    const latency: { tokenMs?: number; restMs?: number } = {}
    const tokenMs = optionalNumber(body, 'tokenMs')
    const restMs = optionalNumber(body, 'restMs')
    if (tokenMs !== undefined) latency.tokenMs = tokenMs
    if (restMs !== undefined) latency.restMs = restMs
    org.faults.setLatency(latency)
  },
  'fail-next': ({ org }, body) => {
    const count = optionalNumber(body, 'count') ?? 1
    const status = optionalNumber(body, 'status')
    const scope = body['scope']
    if (scope !== undefined && scope !== 'rest' && scope !== 'token' && scope !== 'any') {
      throw new TypeError('scope must be rest, token or any')
    }
    const options: { status?: number; scope?: FaultScope } = {}
    if (status !== undefined) options.status = status
    if (scope !== undefined) options.scope = scope
    org.faults.failNext(count, options)
  },
  reset: ({ org }) => org.faults.reset(),
}

async function jsonBody(call: Call): Promise<Body> {
  const raw = await call.body()
  if (raw.length === 0) return {}
  const parsed: unknown = JSON.parse(raw.toString('utf8'))
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new TypeError('body must be a JSON object')
  return parsed as Body
}

/** Answers `/_emulator/...`. */
export async function handleAdmin(call: Call): Promise<void> {
  const { org, res } = call
  if (!isLoopback(call.req.socket.remoteAddress)) {
    return sendErrors(
      res,
      403,
      'INSUFFICIENT_ACCESS',
      'The emulator admin API only answers loopback callers',
    )
  }
  try {
    const sub = call.path.slice('/_emulator'.length)
    if (sub === '/org' && call.method === 'GET') {
      const secrets = call.query.get('showSecrets') === 'true'
      return sendJson(res, 200, {
        name: org.name,
        orgId: org.orgId,
        ...org.origins,
        users: org.users.map((u) => userView(u, secrets)),
        connectedApps: org.apps.map((a) => connectedAppView(a, secrets)),
      })
    }
    if (await handleSetup(call, sub, () => jsonBody(call))) return
    if (sub === '/requests') {
      if (call.method === 'DELETE') {
        org.requestLog.clear()
        return sendJson(res, 204, undefined)
      }
      const filter: RequestLogFilter = {}
      for (const key of ['org', 'method', 'path', 'grantType'] as const) {
        const value = call.query.get(key)
        if (value !== null) filter[key] = value
      }
      const status = call.query.get('status')
      if (status !== null) filter.status = Number(status)
      const entries = org.requestLog.entries(filter).filter((e) => !e.path.startsWith('/_emulator'))
      return sendJson(res, 200, { count: entries.length, entries })
    }
    if (sub === '/clock/advance' && call.method === 'POST') {
      const ms = optionalNumber(await jsonBody(call), 'ms') ?? 0
      org.clock.advance(ms)
      return sendJson(res, 200, { now: org.clock.now() })
    }
    const action = sub.startsWith('/faults/')
      ? FAULT_ACTIONS[sub.slice('/faults/'.length)]
      : undefined
    if (action === undefined || call.method !== 'POST') {
      return sendErrors(
        res,
        404,
        'NOT_FOUND',
        `Unknown emulator admin route ${call.method} ${call.path}`,
      )
    }
    const result = action(call, await jsonBody(call))
    return sendJson(res, 200, result ?? { ok: true })
  } catch (err) {
    if (err instanceof BodyTooLargeError)
      return sendErrors(res, 413, 'JSON_PARSER_ERROR', err.message)
    const message =
      err instanceof SyntaxError
        ? 'body is not valid JSON'
        : err instanceof Error
          ? err.message
          : 'bad request'
    return sendErrors(res, 400, 'INVALID_INPUT', message)
  }
}
