/**
 * The request handler of one org origin: parses the request target (repeated slashes collapse),
 * applies per-class latency, routes, logs (method, path without query, grant type, status) and
 * turns any unexpected exception into a 500 `UNKNOWN_EXCEPTION` without a stack trace.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { handleAdmin } from '../admin/admin-routes.ts'
import { handleBulkV1, isBulkV1Path } from '../bulk/bulk-v1.ts'
import { handleSoap, isSoapPath } from '../soap/soap-endpoint.ts'
import { handleCometd, isCometdPath } from '../streaming/cometd-endpoint.ts'
import { BodyTooLargeError } from '../http/body.ts'
import { Call } from '../http/call.ts'
import { normalizePath } from '../http/paths.ts'
import { sendErrors, sendJson } from '../http/respond.ts'
import {
  handleAuthorize,
  handleRemoteAccessErrorPage,
  REMOTE_ACCESS_ERROR_PATH,
} from '../oauth/authorize-endpoint.ts'
import { handleDevicePage } from '../oauth/device-page.ts'
import { handleDiscovery } from '../oauth/discovery.ts'
import { handleJwks } from '../oauth/jwks-endpoint.ts'
import { handleIdentity, handleUserinfo } from '../oauth/identity-endpoint.ts'
import { handleIntrospect } from '../oauth/introspect-endpoint.ts'
import { handleRevoke } from '../oauth/revoke-endpoint.ts'
import { handleTokenRequest } from '../oauth/token-endpoint.ts'
import type { OrgState } from '../org/org-state.ts'
import { FRONTDOOR_PATH, handleFrontdoor } from '../ui/frontdoor.ts'
import {
  handleHomePage,
  handleLoginPage,
  handleRecordPage,
  HOME_PAGE_PATH,
  recordPageTarget,
} from '../ui/record-pages.ts'
import { handleSingleAccess } from '../ui/single-access.ts'
import { handleApi } from './api-gateway.ts'
import { sendUnknownException } from './rest-errors.ts'

/** Splits a raw request target into a normalised path and the raw query string. */
export function splitTarget(rawUrl: string | undefined): { path: string; search: string } {
  const raw = rawUrl ?? '/'
  const q = raw.indexOf('?')
  const rawPath = q < 0 ? raw : raw.slice(0, q)
  return { path: normalizePath(rawPath === '' ? '/' : rawPath), search: q < 0 ? '' : raw.slice(q) }
}

type Route = (call: Call) => Promise<void> | void

function route(path: string): { handler: Route; kind: 'token' | 'rest' | 'other' } | undefined {
  if (path === '/services/oauth2/token') return { handler: tokenWithFaults, kind: 'token' }
  if (path === '/services/oauth2/authorize') return { handler: handleAuthorize, kind: 'token' }
  if (path === '/services/oauth2/revoke') return { handler: handleRevoke, kind: 'token' }
  if (path === '/services/oauth2/introspect') return { handler: handleIntrospect, kind: 'token' }
  if (path === '/services/oauth2/userinfo') return { handler: handleUserinfo, kind: 'token' }
  if (path === '/services/oauth2/singleaccess')
    return { handler: handleSingleAccess, kind: 'token' }
  if (path === FRONTDOOR_PATH) return { handler: handleFrontdoor, kind: 'other' }
  if (path === '/') return { handler: handleLoginPage, kind: 'other' }
  if (path === '/.well-known/openid-configuration')
    return { handler: handleDiscovery, kind: 'other' }
  if (path === '/id/keys') return { handler: handleJwks, kind: 'other' }
  if (path === REMOTE_ACCESS_ERROR_PATH)
    return { handler: handleRemoteAccessErrorPage, kind: 'other' }
  if (path === '/setup/connect') return { handler: handleDevicePage, kind: 'other' }
  const identity = /^\/id\/([0-9A-Za-z]{15,18})\/([0-9A-Za-z]{15,18})$/.exec(path)
  if (identity !== null) {
    const [, orgId = '', userId = ''] = identity
    return { handler: (call) => handleIdentity(call, orgId, userId), kind: 'token' }
  }
  if (
    path === '/services/data' ||
    path.startsWith('/services/data/') ||
    path === '/services/apexrest' ||
    path.startsWith('/services/apexrest/')
  ) {
    return { handler: handleApi, kind: 'rest' }
  }
  if (isBulkV1Path(path)) return { handler: handleBulkV1, kind: 'rest' }
  if (isSoapPath(path)) return { handler: handleSoap, kind: 'rest' }
  if (isCometdPath(path)) return { handler: handleCometd, kind: 'rest' }
  if (path === '/_emulator' || path.startsWith('/_emulator/'))
    return { handler: handleAdmin, kind: 'other' }
  if (path === HOME_PAGE_PATH) return { handler: handleHomePage, kind: 'other' }
  const recordPage = recordPageTarget(path)
  if (recordPage !== undefined)
    return { handler: (call) => handleRecordPage(call, recordPage), kind: 'other' }
  return undefined
}

async function tokenWithFaults(call: Call): Promise<void> {
  const injected = call.org.faults.takeFailure('token')
  if (injected !== undefined) {
    sendJson(call.res, injected, {
      error: 'unknown_error',
      error_description: 'retry your request',
    })
    return
  }
  await handleTokenRequest(call)
}

/** Builds the `request` listener of one origin of `org`. */
export function orgRequestListener(org: OrgState, origin: () => string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now()
    const target = splitTarget(req.url)
    const call = new Call(org, req, res, { origin: origin(), ...target })
    res.on('finish', () => {
      const entry = {
        org: org.name,
        method: call.method,
        path: call.path,
        status: res.statusCode,
        at: Date.now(),
        durationMs: Date.now() - started,
      }
      org.requestLog.record(
        call.grantType === undefined ? entry : { ...entry, grantType: call.grantType },
      )
    })
    void dispatch(call)
  }
}

async function dispatch(call: Call): Promise<void> {
  const { res } = call
  try {
    const found = route(call.path)
    if (found === undefined) {
      sendErrors(res, 404, 'NOT_FOUND', 'The requested resource does not exist')
      return
    }
    const delay =
      found.kind === 'token'
        ? call.org.faults.latency.tokenMs
        : found.kind === 'rest'
          ? call.org.faults.latency.restMs
          : 0
    if (delay > 0) await sleep(delay)
    await found.handler(call)
  } catch (err) {
    if (res.headersSent) {
      res.destroy()
      return
    }
    if (err instanceof BodyTooLargeError) {
      if (call.path.startsWith('/services/oauth2/')) {
        sendJson(res, 413, { error: 'invalid_request', error_description: err.message })
      } else {
        sendErrors(res, 413, 'JSON_PARSER_ERROR', err.message)
      }
      return
    }
    sendUnknownException(res)
  }
}
