/**
 * Revoking a principal's tokens from the console: a "Revoke…" link per authenticated principal on
 * the Named Credential detail page (the `@revoke-action` partial), a confirmation page that says
 * what will happen, and a CSRF-protected POST that revokes through the broker (RFC 7009 /
 * Salesforce's `/services/oauth2/revoke`) and audits the outcome. When the revocation request
 * fails the tokens are kept and the page offers "Remove locally anyway".
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isCalloutError } from '../../errors.ts'
import type { ConsoleContext } from './console-plugin.ts'
import { changedBy, field, formOf, page, statusLabel } from './console-plugin.ts'
import { revokeAudited } from './revoke-audited.ts'
import { addTemplates } from './views.ts'

/** Statuses whose principal may hold tokens worth revoking. */
const REVOCABLE = ['authenticated', 'error']

const REVOKE_ACTION = `<% for (const p of it.report.principals.filter((p) => ${JSON.stringify(REVOCABLE)}.includes(p.status))) { %>
<p><a class="button secondary" href="/named-credentials/<%= encodeURIComponent(it.report.name) %>/revoke<%= p.userId ? '?user=' + encodeURIComponent(p.userId) : '' %>">Revoke<%= it.report.principals.length > 1 ? ' ' + p.principal + (p.userId ? ' (' + p.userId + ')' : '') : '' %>…</a></p>
<% } %>`

const REVOKE_CONFIRM = `<% layout('@layout', it) %>
<% if (it.failure) { %><div class="alert error" role="alert"><p><strong><%= it.failure.code %></strong></p><p><%= it.failure.message %></p></div><% } %>
<div class="card">
<% for (const p of it.principals) { %>
  <p><%= p.principal %><% if (p.userId) { %> (<%= p.userId %>)<% } %> <span class="badge <%= p.status %>"><%= it.statusLabel(p.status) %></span> <%= p.summary %></p>
<% } %>
  <p>Callout asks the authorization server to revoke the <%= it.tokenWord %> (Salesforce and RFC 7009 servers revoke the access tokens issued with a refresh token too), then removes the stored tokens. <% if (it.browserFlow) { %>Callouts through <code><%= it.name %></code> then fail with <code>NEEDS_REAUTH</code> until someone authenticates again.<% } else { %>The next callout obtains a new token.<% } %></p>
  <form method="post" action="/named-credentials/<%= encodeURIComponent(it.name) %>/revoke">
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
<% if (it.endUser) { %>    <input type="hidden" name="user" value="<%= it.endUser %>"><% } %>
<% if (it.failure) { %>
    <input type="hidden" name="force" value="on">
    <p>The server may keep accepting the tokens until they expire. Revoke them there as well (Salesforce: Setup → Connected Apps OAuth Usage).</p>
    <div class="actions"><button type="submit" class="danger" id="revoke-confirm">Remove locally anyway</button><a href="/named-credentials/<%= encodeURIComponent(it.name) %>">Cancel</a></div>
<% } else { %>
    <div class="actions"><button type="submit" class="danger" id="revoke-confirm">Revoke</button><a href="/named-credentials/<%= encodeURIComponent(it.name) %>">Cancel</a></div>
<% } %>
  </form>
</div>
`

addTemplates({ '@revoke-action': REVOKE_ACTION, '@revoke-confirm': REVOKE_CONFIRM })

/** Redirect flashes of a finished revocation, by outcome (fixed texts). */
export const REVOKE_FLASHES: Readonly<Record<string, string>> = Object.freeze({
  revoked: 'Revoked: the tokens were revoked at the authorization server and removed.',
  'revoked-locally':
    'Removed here only: the authorization server has no revocation endpoint or did not answer; its tokens may stay valid there until they expire.',
  'nothing-stored': 'No token was stored; nothing was revoked.',
})

/**
 * Registers the revocation pages on the console's signed-in scope.
 *
 * @example
 * registerRevokePages(pages, context)
 */
export function registerRevokePages(pages: FastifyInstance, context: ConsoleContext): void {
  const confirmPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    name: string,
    user: string,
    failure?: { code: string; message: string },
  ): Promise<FastifyReply> => {
    context.definitions.get('namedCredential', name)
    const [report] = await context.broker.status(name, user === '' ? {} : { user })
    const principals = (report?.principals ?? []).filter((p) => user === '' || p.userId === user)
    return page(reply, request, '@revoke-confirm', {
      title: `Revoke the tokens of ${name}?`,
      section: 'nc',
      name,
      // not `user`: that is the signed-in admin the layout shows
      endUser: user,
      principals,
      statusLabel,
      browserFlow: report?.flow === 'browser',
      tokenWord: principals.some((p) => p.hasRefreshToken === true)
        ? 'refresh token'
        : 'access token',
      ...(failure === undefined ? {} : { failure }),
    })
  }

  pages.get('/named-credentials/:name/revoke', async (request, reply) => {
    const { name } = request.params as { name: string }
    const user = (request.query as Record<string, unknown>).user
    return confirmPage(request, reply, name, typeof user === 'string' ? user : '')
  })

  pages.post('/named-credentials/:name/revoke', async (request, reply) => {
    const { name } = request.params as { name: string }
    context.definitions.get('namedCredential', name)
    const body = formOf(request)
    const user = field(body, 'user').trim()
    const force = field(body, 'force') === 'on'
    try {
      const result = await revokeAudited(
        context.broker,
        context.auth,
        name,
        { ...(user === '' ? {} : { user }), ...(force ? { force } : {}) },
        changedBy(request),
      )
      const flash =
        result.provider === 'nothing-stored'
          ? 'nothing-stored'
          : result.provider === 'no-endpoint' || result.provider === 'failed'
            ? 'revoked-locally'
            : 'revoked'
      return reply.redirect(`/named-credentials/${encodeURIComponent(name)}?flash=${flash}`, 303)
    } catch (error) {
      if (!isCalloutError(error) || error.details.reason !== 'provider-failed') throw error
      reply.code(error.status)
      return confirmPage(request, reply, name, user, { code: error.code, message: error.message })
    }
  })
}
