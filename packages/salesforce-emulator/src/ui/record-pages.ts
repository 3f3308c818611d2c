/**
 * Minimal record pages for a browser holding a UI session: Lightning
 * `/lightning/r/<Object>/<id>/view` and `/edit`, classic `/<id>` and `/<id>/e`. The view lists
 * the record's fields; the edit page is a form (with the session's form token) whose `POST`
 * saves the changed fields through the data layer the REST API uses (same validation), then redirects to the view. The home
 * page, `/lightning/page/home`, names the logged-in user. Without a UI session every page
 * redirects to the login page, which is served at `/`.
 */
import type { Call } from '../http/call.ts'
import { readCookie } from '../http/cookies.ts'
import { escapeHtml, page } from '../http/html.ts'
import { parseForm } from '../http/body.ts'
import { MAX_API_VERSION } from '../http/api-versions.ts'
import { redirect, sendHtml } from '../http/respond.ts'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { RequestContext } from '../data/context.ts'
import { DataApiError } from '../data/errors.ts'
import { findLiveRecord, updateRecord } from '../data/record-writes.ts'
import { toApiRecord } from '../data/serialize.ts'
import { loginUrl } from './frontdoor.ts'
import { UI_SESSION_COOKIE, uiSessions } from './ui-sessions.ts'

const VERSION = `${MAX_API_VERSION}.0`
const EDITABLE_TYPES = new Set(['string', 'textarea', 'phone', 'url', 'email', 'picklist'])

/** A record page request: which object and id, and whether it is the edit page. */
export interface RecordPageTarget {
  object: string | undefined
  id: string
  edit: boolean
}

/** Recognises a record page path, or undefined. */
export function recordPageTarget(path: string): RecordPageTarget | undefined {
  const lightning =
    /^\/lightning\/r\/([A-Za-z0-9_]{1,80})\/([0-9A-Za-z]{15}|[0-9A-Za-z]{18})\/(view|edit)$/.exec(
      path,
    )
  if (lightning !== null) {
    return { object: lightning[1], id: lightning[2] ?? '', edit: lightning[3] === 'edit' }
  }
  const classic = /^\/([0-9A-Za-z]{15}|[0-9A-Za-z]{18})(\/e)?$/.exec(path)
  if (classic !== null)
    return { object: undefined, id: classic[1] ?? '', edit: classic[2] === '/e' }
  return undefined
}

/** Constant-time comparison of the submitted form token with the session's. */
function sameText(a: string, b: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(a), digest(b))
}

/** `GET /`: the org's login page (the emulator logs browsers in only through the frontdoor). */
export function handleLoginPage(call: Call): void {
  sendHtml(
    call.res,
    200,
    page(
      'Login | Salesforce',
      '<p id="login-required">Log in to continue. This org opens UI sessions through a frontdoor link.</p>',
    ),
  )
}

/** The Lightning home page's path. */
export const HOME_PAGE_PATH = '/lightning/page/home'

/** `GET /lightning/page/home`: names the session's user; without a UI session, the login page. */
export function handleHomePage(call: Call): void {
  const session = uiSessions(call.org).session(readCookie(call.req, UI_SESSION_COOKIE))
  if (session === undefined) return redirect(call.res, loginUrl(call, `${call.path}${call.search}`))
  if (call.method !== 'GET' && call.method !== 'HEAD')
    return sendHtml(call.res, 405, page('Method not allowed', ''))
  const username = call.org.userById(session.userId)?.username ?? session.userId
  sendHtml(
    call.res,
    200,
    page('Home | Salesforce', `<p id="home-user">Logged in as ${escapeHtml(username)}</p>`),
  )
}

function notFoundPage(call: Call): void {
  sendHtml(
    call.res,
    404,
    page('Record not found', '<p>The record does not exist or is not accessible.</p>'),
  )
}

function label(call: Call, object: string, name: string): string {
  const def = call.org.data.context.schema.object(object)
  const field = def === undefined ? undefined : call.org.data.context.schema.field(def, name)
  return field?.label ?? name
}

function shown(value: unknown): string {
  if (value === null || value === undefined) return ''
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

/** Answers a record page request. */
export async function handleRecordPage(call: Call, target: RecordPageTarget): Promise<void> {
  const session = uiSessions(call.org).session(readCookie(call.req, UI_SESSION_COOKIE))
  if (session === undefined) return redirect(call.res, loginUrl(call, `${call.path}${call.search}`))
  const schema = call.org.data.context.schema
  const def =
    target.object === undefined ? schema.objectForId(target.id) : schema.object(target.object)
  if (def === undefined) return notFoundPage(call)
  const ctx: RequestContext = {
    org: call.org.data.context,
    version: VERSION,
    userId: session.userId,
    headers: {},
  }
  let stored
  try {
    stored = findLiveRecord(ctx, def, target.id, 'read')
  } catch (err) {
    if (err instanceof DataApiError) return notFoundPage(call)
    throw err
  }
  const record = toApiRecord(VERSION, def, stored)
  const viewUrl = `/lightning/r/${def.name}/${target.id}/view`
  if (!target.edit) {
    if (call.method !== 'GET' && call.method !== 'HEAD')
      return sendHtml(call.res, 405, page('Method not allowed', ''))
    const rows = Object.entries(record)
      .filter(([k]) => k !== 'attributes')
      .map(
        ([k, v]) =>
          `<dt>${escapeHtml(label(call, def.name, k))}</dt><dd data-field="${escapeHtml(k)}">${escapeHtml(shown(v))}</dd>`,
      )
      .join('\n')
    return sendHtml(
      call.res,
      200,
      page(
        `${def.label}: ${shown(record['Name'] ?? target.id)}`,
        `<dl id="record">\n${rows}\n</dl>\n<p><a href="${escapeHtml(`/lightning/r/${def.name}/${target.id}/edit`)}">Edit</a></p>`,
      ),
    )
  }
  const editable = def.fields.filter(
    (f) => f.updateable && EDITABLE_TYPES.has(f.type) && f.name in record,
  )
  const form = (error?: string): string => {
    const inputs = editable
      .map(
        (f) =>
          `<label for="f-${escapeHtml(f.name)}">${escapeHtml(f.label)}</label><input type="text" id="f-${escapeHtml(f.name)}" name="${escapeHtml(f.name)}" value="${escapeHtml(shown(record[f.name]))}">`,
      )
      .join('\n')
    const err =
      error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>\n`
    return page(
      `Edit ${def.label}: ${shown(record['Name'] ?? target.id)}`,
      `${err}<form method="post" id="edit">\n<input type="hidden" name="_token" value="${escapeHtml(session.formToken)}">\n${inputs}\n<button type="submit" name="save">Save</button>\n</form>`,
    )
  }
  if (call.method === 'GET' || call.method === 'HEAD') return sendHtml(call.res, 200, form())
  if (call.method !== 'POST') return sendHtml(call.res, 405, page('Method not allowed', ''))
  const submitted = await parseForm(await call.body(), call.req.headers['content-type'])
  if (submitted === undefined || !sameText(submitted.get('_token') ?? '', session.formToken)) {
    return sendHtml(
      call.res,
      403,
      page(
        'Request rejected',
        '<p class="error">The form token is missing or does not match this session.</p>',
      ),
    )
  }
  const changes: Record<string, string | null> = {}
  for (const f of editable) {
    const value = submitted.get(f.name)
    if (value !== null && value !== shown(record[f.name]))
      changes[f.name] = value === '' ? null : value
  }
  if (Object.keys(changes).length > 0) {
    try {
      updateRecord(ctx, def, stored, changes)
    } catch (err) {
      if (!(err instanceof DataApiError)) throw err
      Object.assign(record, changes)
      return sendHtml(call.res, 400, form(err.message))
    }
  }
  redirect(call.res, `${call.origin}${viewUrl}`, 303)
}
