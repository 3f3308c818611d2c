/**
 * "Open in target org" on a Salesforce Named Credential's detail page: the admin names a page of
 * the org (default its Lightning home) and the console obtains a single-use frontdoor URL through
 * `broker.frontdoorUrl`, then redirects the browser to it (303, `Cache-Control: no-store`). The URL
 * is a login link: it is never rendered into a page, logged or audited (the audit entry names the
 * path and user only). A per-user principal needs the end user named. The test panel offers the
 * same for a Salesforce record a test call returned (`attributes.type` and `Id`, or a create
 * result `{ id, success }` from `POST …/sobjects/<Type>`).
 */
import type { FastifyInstance } from 'fastify'
import { isCalloutError, type CalloutError } from '../../errors.ts'
import type { ConsoleContext } from './console-plugin.ts'
import { changedBy, field, formOf } from './console-plugin.ts'
import type { DetailPage } from './doctor-panel.ts'
import { addTemplates } from './views.ts'

/** Where "Open in target org" lands unless the admin names another page: the org's home. */
export const DEFAULT_ORG_PATH = '/lightning/page/home'

/** A Salesforce record a test call returned. */
export interface ReturnedRecord {
  /** The sObject type, e.g. `Account`. */
  readonly type: string
  readonly id: string
  /** Its Lightning view page, e.g. `/lightning/r/Account/001…/view`. */
  readonly path: string
}

const SOBJECT_TYPE = /^[A-Za-z][A-Za-z0-9_]{0,79}$/
const RECORD_ID = /^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$/
/** `…/sobjects/<Type>` (a create), optionally with a query. */
const SOBJECTS_CREATE = /\/sobjects\/([A-Za-z][A-Za-z0-9_]{0,79})\/?(?:\?.*)?$/

/**
 * The Salesforce record a test call's response is, or undefined: a record (`attributes.type` and
 * `Id`) or the result of a create (`{ id, success: true }`, its type from the `POST …/sobjects/<Type>`
 * path). Types and ids are checked, so the page path cannot be steered elsewhere.
 *
 * @example
 * returnedRecord('POST', '/services/data/v61.0/sobjects/Account', '{"id":"001000000000001AAA","success":true,"errors":[]}')
 * // { type: 'Account', id: '001000000000001AAA', path: '/lightning/r/Account/001000000000001AAA/view' }
 */
export function returnedRecord(
  method: string,
  path: string,
  body: string,
): ReturnedRecord | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const fields = parsed as Record<string, unknown>
  const attributes = fields.attributes as Record<string, unknown> | undefined
  let type: unknown = attributes?.type
  let id: unknown = fields.Id
  if (type === undefined && fields.success === true && method === 'POST') {
    type = SOBJECTS_CREATE.exec(path)?.[1]
    id = fields.id
  }
  if (typeof type !== 'string' || typeof id !== 'string') return undefined
  if (!SOBJECT_TYPE.test(type) || !RECORD_ID.test(id)) return undefined
  return { type, id, path: `/lightning/r/${type}/${id}/view` }
}

/** The console's words for errors the frontdoor request may end in. */
function openMessage(error: CalloutError): string {
  if (error.code === 'USER_REQUIRED') {
    const what = error.message.split(':', 1)[0] ?? error.message
    return `${error.code}: ${what}: enter the end user under User.`
  }
  return `${error.code}: ${error.message}`
}

/** The "Open in target org" card of a Salesforce Named Credential's detail page. */
const OPEN_IN_ORG = `<% if (it.salesforce) { %>
<section class="card" aria-labelledby="open-heading">
  <h2 id="open-heading">Open in target org</h2>
  <form method="post" action="/named-credentials/<%= encodeURIComponent(it.report.name) %>/open">
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
    <label for="open-path">Page</label>
    <input type="text" id="open-path" name="path" value="<%= it.open ? it.open.path : '${DEFAULT_ORG_PATH}' %>" aria-describedby="open-path-hint">
    <p class="hint" id="open-path-hint">A path on the org, e.g. <code>${DEFAULT_ORG_PATH}</code> or <code>/lightning/r/Account/&lt;id&gt;/view</code>. The browser is logged in as the credential's principal through a one-time link.</p>
<% if (it.report.principals.some((p) => p.type === 'per-user')) { %>
    <label for="open-user">User</label>
    <input type="text" id="open-user" name="user" value="<%= it.open ? it.open.user : '' %>" aria-describedby="open-user-hint">
    <p class="hint" id="open-user-hint">The end user whose connection opens the org (required for a per-user principal).</p>
<% } %>
    <div class="actions"><button type="submit">Open in target org</button></div>
  </form>
<% if (it.openError) { %><div class="alert error" role="alert"><%= it.openError %></div><% } %>
</section>
<% } %>
`

/**
 * The test panel's offer to open the record a test call returned (`it.record`), as the end user
 * the call was made for (`it.test.user`) when the principal is per-user.
 */
const OPEN_RECORD = `<% if (it.salesforce && it.record) { %>
  <form method="post" action="/named-credentials/<%= encodeURIComponent(it.report.name) %>/open" id="open-record">
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
    <input type="hidden" name="path" value="<%= it.record.path %>">
<% if (it.test && it.test.user) { %>    <input type="hidden" name="user" value="<%= it.test.user %>">
<% } %>    <div class="actions"><button type="submit" class="secondary">Open <%= it.record.type %> <%= it.record.id %> in target org</button></div>
  </form>
<% } %>
`

addTemplates({ '@open-in-org': OPEN_IN_ORG, '@open-record': OPEN_RECORD })

/**
 * Registers `POST /named-credentials/<Name>/open` (CSRF-protected like every console post): a
 * frontdoor URL for the page `path` (default {@link DEFAULT_ORG_PATH}) and, for per-user
 * principals, the end user `user`; a 303 to it, or the detail page with the error.
 *
 * @example
 * registerOpenInOrg(pages, context, { render: detail })
 */
export function registerOpenInOrg(
  pages: FastifyInstance,
  context: ConsoleContext,
  detail: DetailPage,
): void {
  pages.post('/named-credentials/:name/open', async (request, reply) => {
    const { name } = request.params as { name: string }
    context.definitions.get('namedCredential', name)
    const body = formOf(request)
    const path = field(body, 'path').trim() || DEFAULT_ORG_PATH
    const user = field(body, 'user').trim()
    let url: string
    try {
      url = await context.broker.frontdoorUrl(name, { path, ...(user === '' ? {} : { user }) })
    } catch (error) {
      if (!isCalloutError(error)) throw error
      request.facts.code = error.code
      reply.code(error.status)
      return detail.render(request, reply, name, {
        open: { path, user },
        openError: openMessage(error),
      })
    }
    const { actor, remote } = changedBy(request)
    await context.auth.audit({
      actor,
      action: 'namedCredential.open',
      target: `NamedCredential/${name}`,
      details: { path, ...(user === '' ? {} : { user }) },
      remote,
    })
    return reply.header('cache-control', 'no-store').redirect(url, 303)
  })
}
