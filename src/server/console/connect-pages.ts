/**
 * Per-user connect links on the console. The admin mints a link on a Named Credential's detail
 * page (or through the admin API, `callout connect-link`, `broker.connectUrl`); the end user opens
 * `/connect/<token>` without an admin login, confirms, and is sent to the authorization server
 * for their own per-user principal. Opening the link uses it up and binds the flow to that
 * browser twice over: the `state` cookie (as for the admin's own flows) and a connect cookie whose
 * SHA-256 is stored with the link. The callback at `/services/authcallback/<AuthProvider>`
 * completes the flow for the link's user only in that browser and shows "Connected as
 * <username>". A callback in a browser that started no flow is refused before anything is used.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { browserTarget } from '../../callout/browser-authorization.ts'
import {
  CONNECT_PATH,
  hashToken,
  linkTokenOf,
  mintConnectLink,
  usableConnectLink,
  useConnectLink,
  type MintedConnectLink,
} from '../../callout/connect-links.ts'
import { CalloutError, isCalloutError } from '../../errors.ts'
import { adviceFor } from '../../providers/salesforce-advice.ts'
import { errorAnswer } from '../error-body.ts'
import type { ConsoleContext } from './console-plugin.ts'
import { changedBy, field, formOf, page, remoteOf } from './console-plugin.ts'
import { addTemplates, render } from './views.ts'

/** How long the connect cookie lives: as long as the pending authorization it guards. */
const CONNECT_COOKIE_SECONDS = 600
const CALLBACK_PATH = '/services/authcallback/'

const CONNECT_ERROR_ADVICE =
  'Ask the administrator who sent you the link for a new one, then open it in the browser where you will log in, and finish there.'

addTemplates({
  // A compact block for the Named Credential detail page (included there).
  '@connect-link-form': `<% if (it.browserFlow && it.report.principals.some((p) => p.type === 'per-user')) { %>
<section class="card" aria-labelledby="connect-heading">
  <h2 id="connect-heading">Connect link</h2>
  <p class="hint">A single-use link for one user of this per-user principal to connect their own account.</p>
  <form method="post" action="/named-credentials/<%= encodeURIComponent(it.report.name) %>/connect-link">
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
    <label for="connect-user">User</label>
    <input type="text" id="connect-user" name="user" required autocomplete="off">
    <label for="connect-expires">Expires in</label>
    <select id="connect-expires" name="expiresIn"><% for (const [v, t] of [['15m', '15 minutes'], ['1h', '1 hour'], ['24h', '24 hours']]) { %><option value="<%= v %>"><%= t %></option><% } %></select>
    <div class="actions"><button type="submit">Create connect link</button></div>
  </form>
</section>
<% } %>`,
  '@connect-link-created': `<% layout('@layout', it) %>
<div class="card">
  <p>Send this link to <strong><%= it.link.user %></strong> only. It works once, in one browser, until <%= new Date(it.link.expiresAt).toISOString() %>; it is shown only now.</p>
  <label for="connect-url">Connect link</label>
  <div class="copy-row"><input type="text" id="connect-url" readonly value="<%= it.link.url %>"><button type="button" class="secondary" data-copy="connect-url">Copy</button></div>
</div>
<p><a href="/named-credentials/<%= encodeURIComponent(it.link.namedCredential) %>">Back to <%= it.link.namedCredential %></a></p>
`,
  '@connect': `<% layout('@layout', it) %>
<div class="card narrow">
<% if (it.error) { %>
  <div class="alert error" role="alert"><p><strong><%= it.error.code %></strong></p><p><%= it.error.message %></p></div>
  <p><%= it.error.advice %></p>
<% } else if (it.connected) { %>
  <div class="alert ok" role="status"><p>Connected as <strong id="connected-as"><%= it.connected.username %></strong></p></div>
  <p><%= it.connected.label %> now makes callouts for <strong><%= it.connected.user %></strong> with this account. You can close this window.</p>
<% } else { %>
  <p>Connect your account to <strong><%= it.label %></strong> as <strong><%= it.user %></strong>.</p>
  <p class="hint">You will log in at the service and approve access. Finish in this browser: the link works once.</p>
  <form method="post" action="<%= it.action %>">
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
    <div class="actions"><button type="submit">Continue</button></div>
  </form>
<% } %>
</div>
`,
})

/** The cookie names the connect flow uses. */
export interface ConnectCookies {
  /** The console's OAuth `state` cookie (path `/services/authcallback/`). */
  readonly state: string
  /** The browser binding of an opened connect link (path `/services/authcallback/`). */
  readonly connect: string
  /** The admin session cookie (an admin's own flows pass through). */
  readonly session: string
}

function callbackUrl(context: ConsoleContext, provider: string): string {
  return `${context.publicUrl()}${CALLBACK_PATH}${encodeURIComponent(provider)}`
}

function labelOf(context: ConsoleContext, name: string): string {
  return context.broker.definitions.namedCredentials.get(name)?.label ?? name
}

/** The connect page with an error: its status, code, message and advice. */
function connectError(reply: FastifyReply, error: CalloutError, advice?: string): FastifyReply {
  reply.code(error.status)
  return reply.type('text/html; charset=utf-8').send(
    render('@connect', {
      title: 'Connect your account',
      csrf: reply.generateCsrf(),
      error: { code: error.code, message: error.message, advice: advice ?? CONNECT_ERROR_ADVICE },
    }),
  )
}

/**
 * Mints a connect link from the console or the admin API: the console's origin, the lifetime
 * and the audit entry (never the link), stored in one transaction with the link.
 *
 * @example
 * const link = await createConnectLink(context, 'Crm', { user: 'alice' }, { actor, remote })
 */
export async function createConnectLink(
  context: Pick<ConsoleContext, 'broker' | 'clock' | 'publicUrl' | 'auth'>,
  name: string,
  input: { readonly user: unknown; readonly expiresIn?: unknown },
  who: { readonly actor: string; readonly remote: string },
): Promise<MintedConnectLink> {
  const expiresIn = input.expiresIn
  if (expiresIn !== undefined && typeof expiresIn !== 'string' && typeof expiresIn !== 'number') {
    throw new CalloutError('INVALID_ARGUMENT', 'expiresIn must be a duration such as 15m.', {
      details: { field: 'expiresIn' },
    })
  }
  const link = await mintConnectLink(
    context.broker.definitions,
    name,
    {
      user: typeof input.user === 'string' ? input.user : '',
      ...(expiresIn === undefined || expiresIn === '' ? {} : { expiresIn }),
      consoleUrl: context.publicUrl(),
      createdBy: who.actor,
      audit: (minted) =>
        context.auth.entry({
          actor: who.actor,
          action: 'connectLink.create',
          target: `NamedCredential/${minted.namedCredential}`,
          details: { user: minted.user, expiresAt: new Date(minted.expiresAt).toISOString() },
          remote: who.remote,
        }),
    },
    { store: context.broker.store, clock: context.clock },
  )
  return link
}

/**
 * Registers the admin's "Create connect link" form handler on the signed-in pages scope.
 *
 * @example
 * registerConnectLinkForm(pages, context)
 */
export function registerConnectLinkForm(pages: FastifyInstance, context: ConsoleContext): void {
  pages.post('/named-credentials/:name/connect-link', async (request, reply) => {
    const { name } = request.params as { name: string }
    const body = formOf(request)
    let link: MintedConnectLink
    try {
      link = await createConnectLink(
        context,
        name,
        { user: field(body, 'user'), expiresIn: field(body, 'expiresIn') },
        changedBy(request),
      )
    } catch (error) {
      if (!isCalloutError(error)) throw error
      // Back to the credential's page, where the form is.
      reply.code(error.status)
      return page(reply, request, '@error', {
        title: 'No connect link was created',
        section: 'nc',
        code: error.code,
        message: error.message,
        advice: errorAnswer(error).body.error.advice,
        back: `/named-credentials/${encodeURIComponent(name)}`,
      })
    }
    return page(reply, request, '@connect-link-created', {
      title: `Connect link for ${link.user}`,
      section: 'nc',
      link,
    })
  })
}

/**
 * Registers the public connect routes (no admin login) and the connect side of the OAuth
 * callback on the console's outer scope. `checkCsrf` guards the form post.
 *
 * @example
 * registerConnectRoutes(scope, context, cookieNames(false), checkCsrf)
 */
export function registerConnectRoutes(
  scope: FastifyInstance,
  context: ConsoleContext,
  cookies: ConnectCookies,
  checkCsrf: (request: FastifyRequest, reply: FastifyReply, done: (e?: Error) => void) => void,
): void {
  const deps = { store: context.broker.store, clock: context.clock }
  const cookieOptions = {
    path: CALLBACK_PATH,
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: context.secure,
    maxAge: CONNECT_COOKIE_SECONDS,
  }

  scope.get(`${CONNECT_PATH}:token`, async (request, reply) => {
    const token = linkTokenOf((request.params as { token: string }).token)
    try {
      const link = await usableConnectLink(token, deps)
      return reply.type('text/html; charset=utf-8').send(
        render('@connect', {
          title: 'Connect your account',
          csrf: reply.generateCsrf(),
          label: labelOf(context, link.namedCredential),
          user: link.userId,
          action: `${CONNECT_PATH}${token!}`,
        }),
      )
    } catch (error) {
      if (!isCalloutError(error)) throw error
      return connectError(reply, error)
    }
  })

  scope.post(`${CONNECT_PATH}:token`, { preHandler: checkCsrf }, async (request, reply) => {
    const token = linkTokenOf((request.params as { token: string }).token)
    try {
      // Checked first, used last: a flow that cannot start leaves the link as it was.
      const link = await usableConnectLink(token, deps)
      const target = browserTarget(context.broker.definitions, link.namedCredential, {
        user: link.userId,
      })
      const { url, state } = await context.broker.authorizeUrl(link.namedCredential, {
        redirectUri: callbackUrl(context, target.provider?.name ?? ''),
        user: link.userId,
      })
      const browser = randomBytes(32).toString('base64url')
      await useConnectLink(token!, hashToken(browser), deps, {
        audit: context.auth.entry({
          actor: `user:${link.userId}`,
          action: 'connectLink.open',
          target: `NamedCredential/${link.namedCredential}`,
          remote: remoteOf(request),
        }),
      })
      reply.setCookie(cookies.state, state, cookieOptions)
      reply.setCookie(cookies.connect, `${browser}.${state}`, cookieOptions)
      return await reply.redirect(url, 303)
    } catch (error) {
      if (!isCalloutError(error)) throw error
      return connectError(reply, error)
    }
  })

  // The callback of a connect flow, answered before the admin login check of the pages scope.
  scope.addHook('preHandler', async (request, reply) => {
    const url = request.raw.url ?? ''
    if (request.method !== 'GET' || !url.startsWith(CALLBACK_PATH)) return
    const query = request.query as Record<string, unknown>
    const queryState = typeof query.state === 'string' ? query.state : ''
    const stateCookie = request.cookies[cookies.state]
    const connect = request.cookies[cookies.connect]
    const dot = connect === undefined ? -1 : connect.indexOf('.')
    if (connect !== undefined && dot > 0 && connect.slice(dot + 1) === queryState) {
      reply.clearCookie(cookies.connect, { path: CALLBACK_PATH })
      reply.clearCookie(cookies.state, { path: CALLBACK_PATH })
      return completeConnect(request, reply, url, connect.slice(0, dot), stateCookie)
    }
    // A callback this browser started no flow for (an authorize URL someone forwarded): refused
    // here, before anything is used, unless an admin is signed in (the console's own flows).
    if (stateCookie !== undefined && stateCookie === queryState) return
    if (await context.auth.session(request.cookies[cookies.session])) return
    return connectError(
      reply,
      new CalloutError(
        'AUTHORIZATION_FAILED',
        'This browser did not start the authentication that came back here (the sign-in page was opened from a link started in another browser); nothing was stored.',
        { details: { reason: 'session_state_mismatch' } },
      ),
      'If you were sent a connect link, open it in this browser and log in here. A connect link works once: if you already opened it elsewhere, ask the administrator for a new one.',
    )
  })

  async function completeConnect(
    request: FastifyRequest,
    reply: FastifyReply,
    url: string,
    browser: string,
    state: string | undefined,
  ): Promise<FastifyReply> {
    const link = await context.broker.store.connectLinkOfBrowser(hashToken(browser))
    try {
      if (link === undefined) {
        throw new CalloutError(
          'AUTHORIZATION_FAILED',
          'This browser holds no opened connect link; nothing was stored.',
        )
      }
      // The link's user, in the browser that opened the link (state cookie and connect cookie).
      const report = await context.broker.completeAuthorization(url, {
        state: state ?? '',
        user: link.userId,
        // Stored with the user's tokens, in their transaction.
        audit: ({ namedCredential, credential }) =>
          context.auth.entry({
            actor: `user:${link.userId}`,
            action: 'connectLink.complete',
            target: `NamedCredential/${namedCredential}`,
            details: { status: credential.status },
            remote: remoteOf(request),
          }),
      })
      const principal = report.principals.find((p) => p.userId === link.userId)
      return reply.type('text/html; charset=utf-8').send(
        render('@connect', {
          title: 'Connected',
          csrf: reply.generateCsrf(),
          connected: {
            username: principal?.username ?? link.userId,
            label: report.label,
            user: link.userId,
          },
        }),
      )
    } catch (error) {
      if (!isCalloutError(error)) throw error
      const query = request.query as Record<string, unknown>
      const text = `${error.message} ${String(query.error ?? '')} ${String(query.error_description ?? '')}`
      const advice = adviceFor(text)
      return connectError(
        reply,
        error,
        advice === undefined ? CONNECT_ERROR_ADVICE : `${advice} ${CONNECT_ERROR_ADVICE}`,
      )
    }
  }
}
