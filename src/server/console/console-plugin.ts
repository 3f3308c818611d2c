/**
 * The setup console of `callout serve`: server-rendered pages at `/` behind an admin login, in
 * their own Fastify scope so that the proxy routes keep their own body handling and headers.
 * Well-kept plugins do the security work: @fastify/cookie (cookies), @fastify/csrf-protection
 * (a token on every form post), @fastify/helmet (CSP without inline scripts, frame-ancestors
 * none), @fastify/rate-limit (login throttling) and @fastify/formbody (forms).
 */
import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Broker } from '../../callout/broker.ts'
import { systemClock, type Clock } from '../../clock.ts'
import type { PrincipalState } from '../../callout/status-report.ts'
import { CalloutError, isCalloutError } from '../../errors.ts'
import type { AdminSessionRecord, AdminStore, LockoutPolicy } from '../../store/admin.ts'
import type { ClientKeyStore } from '../../store/client-keys.ts'
import type { RateLimitStore } from '../../store/rate-limits.ts'
import { AdminAuth } from '../admin/admin-auth.ts'
import { errorAnswer } from '../error-body.ts'
import { registerAdminApi } from './admin-api.ts'
import { registerConnectLinkForm, registerConnectRoutes } from './connect-pages.ts'
import { CONSOLE_CSS, CONSOLE_JS } from './assets.ts'
import { registerDefinitionPages } from './definition-pages.ts'
import { DefinitionsService } from './definitions-service.ts'
import { registerExternalCredentialPages } from './external-credential-pages.ts'
import { registerNamedCredentialEdit } from './named-credential-edit.ts'
import { registerRevokePages } from './revoke-pages.ts'
import { sharedRateLimitStore } from './shared-rate-limit.ts'
import { render, type PageData } from './views.ts'

/** Defaults of {@link ConsoleOptions}. */
export const CONSOLE_DEFAULTS = Object.freeze({
  /** Login attempts per client address and window (the lockout counts per account as well). */
  loginRateLimit: Object.freeze({ max: 10, timeWindowMs: 60_000 }),
  /** Form bodies larger than this are refused (413). */
  formBodyBytes: 64 * 1024,
})

/**
 * What the console is built from.
 *
 * @example
 * buildServer({ broker, keys: store.clientKeys, console: { admin: store.admin, publicUrl: 'http://127.0.0.1:7070' } })
 */
export interface ConsoleOptions {
  readonly admin: AdminStore
  /**
   * The origin browsers use to reach the console (callback URLs are built from it). An `https:`
   * origin makes every cookie `Secure` (and `__Host-` prefixed).
   */
  readonly publicUrl: string | (() => string)
  readonly clock?: Clock
  readonly lockout?: LockoutPolicy
  readonly loginRateLimit?: { readonly max: number; readonly timeWindowMs: number }
  readonly sessionIdleMs?: number
  readonly sessionMaxMs?: number
  /** The proxy's client keys, for the Client Keys page and admin API. */
  readonly keys?: ClientKeyStore
  /**
   * Where login attempts are counted: the store shared by every instance on the database, so
   * that the login limit is one budget for all of them. Absent: counted in this process only.
   */
  readonly rateLimits?: RateLimitStore
}

/** The console's view of a request: the admin session, when signed in. */
export interface ConsoleContext {
  readonly auth: AdminAuth
  readonly broker: Broker
  /** The console's origin as browsers see it. */
  publicUrl(): string
  readonly secure: boolean
  readonly clock: Clock
  readonly definitions: DefinitionsService
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The admin session of a console request (set by the console's login check). */
    adminSession?: AdminSessionRecord
  }
}

const STATUS_LABELS: Readonly<Record<PrincipalState, string>> = {
  authenticated: 'Authenticated',
  'needs-reauth': 'Needs re-auth',
  pending: 'Pending',
  'timed-out': 'Timed out',
  error: 'Error',
  'not-configured': 'Not authenticated',
}

/**
 * The label of a principal status badge.
 *
 * @example
 * statusLabel('needs-reauth') // 'Needs re-auth'
 */
export function statusLabel(status: PrincipalState): string {
  return STATUS_LABELS[status]
}

/**
 * A same-origin path to return to after login: `/…` but not `//…` or `/\…` (which browsers
 * read as another host); anything else is `/`.
 *
 * @example
 * safeNext('/named-credentials/Api') // '/named-credentials/Api'
 * safeNext('//evil.example/') // '/'
 */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 2048) return '/'
  if (/^\/[/\\]/.test(value) || /[\u0000-\u001f\\]/.test(value)) return '/'
  return value
}

function constant(value: string): () => string {
  const origin = new URL(value).origin
  return () => origin
}

/** The client address, for the audit log. */
export function remoteOf(request: FastifyRequest): string {
  return request.raw.socket.remoteAddress ?? 'unknown'
}

/** The signed-in admin, as the audit log names an actor. */
export function actorOf(request: FastifyRequest): string {
  return `admin:${request.adminSession?.username ?? '?'}`
}

/**
 * Who makes a change from a signed-in console page (the audit log's actor and address), from
 * the console (whose form a refusal's fix names).
 */
export function changedBy(request: FastifyRequest): {
  actor: string
  remote: string
  via: 'console'
} {
  return { actor: actorOf(request), remote: remoteOf(request), via: 'console' }
}

/** Names of the console's cookies (`__Host-` prefixed over TLS: host-only, path /, Secure). */
function cookieNames(secure: boolean): {
  session: string
  csrf: string
  state: string
  connect: string
} {
  // The state and connect cookies are scoped to the callback path, which __Host- does not allow.
  return secure
    ? {
        session: '__Host-callout_session',
        csrf: '__Host-callout_csrf',
        state: '__Secure-callout_oauth_state',
        connect: '__Secure-callout_connect',
      }
    : {
        session: 'callout_session',
        csrf: 'callout_csrf',
        state: 'callout_oauth_state',
        connect: 'callout_connect',
      }
}

/**
 * Registers the console on `app` in its own scope: login and logout, the pages, and the static
 * assets. Pages need an admin session; every form post needs a CSRF token.
 *
 * @example
 * registerConsole(app, broker, { admin: store.admin, publicUrl: 'http://127.0.0.1:7070' })
 */
export function registerConsole(
  app: FastifyInstance,
  broker: Broker,
  options: ConsoleOptions,
): void {
  const clock = options.clock ?? systemClock
  const publicUrl =
    typeof options.publicUrl === 'string' ? constant(options.publicUrl) : options.publicUrl
  const secure = new URL(publicUrl()).protocol === 'https:'
  const names = cookieNames(secure)
  const auth = new AdminAuth({
    store: options.admin,
    clock,
    ...(options.lockout === undefined ? {} : { lockout: options.lockout }),
    ...(options.sessionIdleMs === undefined ? {} : { sessionIdleMs: options.sessionIdleMs }),
    ...(options.sessionMaxMs === undefined ? {} : { sessionMaxMs: options.sessionMaxMs }),
  })
  const definitions = new DefinitionsService(broker, clock)
  const context: ConsoleContext = { auth, broker, publicUrl, secure, clock, definitions }
  const limit = options.loginRateLimit ?? CONSOLE_DEFAULTS.loginRateLimit
  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure }

  void app.register(async (scope) => {
    // This scope parses forms itself (the proxy routes stream bodies untouched).
    scope.removeAllContentTypeParsers()
    await scope.register(formbody, { bodyLimit: CONSOLE_DEFAULTS.formBodyBytes })
    // The admin API's JSON (Fastify's own parser: refuses __proto__ and constructor keys).
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'string', bodyLimit: CONSOLE_DEFAULTS.formBodyBytes },
      scope.getDefaultJsonParser('error', 'error'),
    )
    await scope.register(cookie)
    await scope.register(csrf, {
      sessionPlugin: '@fastify/cookie',
      cookieKey: names.csrf,
      cookieOpts: cookieOptions,
    })
    await scope.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          baseUri: ["'none'"],
          frameAncestors: ["'none'"],
          // No form-action: "Start Authentication Flow on Save" redirects a form post to the
          // authorization server, which form-action would block.
        },
      },
      strictTransportSecurity: secure ? { maxAge: 31_536_000 } : false,
      referrerPolicy: { policy: 'same-origin' },
    })
    await scope.register(rateLimit, {
      global: false,
      ...(options.rateLimits === undefined
        ? {}
        : { store: sharedRateLimitStore(options.rateLimits) }),
      errorResponseBuilder: (_request, context) =>
        new CalloutError(
          'RATE_LIMITED',
          `Too many login attempts from this address; try again in ${Math.ceil(context.ttl / 1000)} seconds.`,
          { details: { retryAfterSeconds: Math.ceil(context.ttl / 1000) } },
        ),
    })

    // The plugin answers a missing or wrong token itself (through the error handler below).
    const checkCsrf = (
      request: FastifyRequest,
      reply: FastifyReply,
      done: (error?: Error) => void,
    ): void => {
      scope.csrfProtection(request, reply, done)
    }

    scope.addHook('onSend', async (_request, reply) => {
      if (reply.getHeader('cache-control') === undefined) reply.header('cache-control', 'no-store')
    })

    scope.setErrorHandler(async (error, request, reply) => {
      const callout = consoleError(error)
      const answer = errorAnswer(callout)
      request.facts.code = answer.code
      if (reply.sent) return
      if ((request.raw.url ?? '').startsWith('/admin/')) {
        return reply.code(answer.status).type('application/json').send(answer.body)
      }
      const csrfToken = reply.generateCsrf()
      const page = render('@error', {
        title: answer.status === 404 ? 'Not found' : 'Something went wrong',
        csrf: csrfToken,
        ...(request.adminSession === undefined ? {} : { user: request.adminSession.username }),
        code: answer.code,
        message: answer.body.error.message,
        advice: answer.body.error.advice,
        back: request.adminSession === undefined ? '/login' : '/',
      })
      return reply.code(answer.status).type('text/html; charset=utf-8').send(page)
    })

    scope.get('/console/assets/console.css', async (_request, reply) =>
      reply
        .type('text/css; charset=utf-8')
        .header('cache-control', 'public, max-age=300')
        .send(CONSOLE_CSS),
    )
    scope.get('/console/assets/console.js', async (_request, reply) =>
      reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=300')
        .send(CONSOLE_JS),
    )

    scope.get('/login', async (request, reply) => {
      const query = request.query as Record<string, unknown>
      const session = await auth.session(request.cookies[names.session])
      if (session !== undefined) return reply.redirect(safeNext(query.next), 303)
      return sendLogin(reply, { next: safeNext(query.next), username: '' })
    })

    scope.post(
      '/login',
      {
        preHandler: checkCsrf,
        config: { rateLimit: { max: limit.max, timeWindow: limit.timeWindowMs } },
      },
      async (request, reply) => {
        const body = formOf(request)
        const username = field(body, 'username')
        const next = safeNext(body.next)
        try {
          const { cookie: value } = await auth.login(
            username,
            field(body, 'password'),
            remoteOf(request),
          )
          // A browser-session cookie: the server ends the session (idle and maximum age).
          reply.setCookie(names.session, value, cookieOptions)
          return reply.redirect(next, 303)
        } catch (error) {
          if (
            !isCalloutError(error, 'ADMIN_LOGIN_FAILED') &&
            !isCalloutError(error, 'ADMIN_LOCKED_OUT')
          ) {
            throw error
          }
          request.facts.code = error.code
          reply.code(error.status)
          return sendLogin(reply, { next, username, flash: { kind: 'error', text: error.message } })
        }
      },
    )

    scope.post('/logout', { preHandler: checkCsrf }, async (request, reply) => {
      await auth.logout(request.cookies[names.session], remoteOf(request))
      reply.clearCookie(names.session, { path: '/' })
      return reply.redirect('/login', 303)
    })

    registerAdminApi(scope, {
      auth,
      broker,
      definitions,
      ...(options.keys === undefined ? {} : { keys: options.keys }),
      now: () => clock.now(),
      publicUrl,
    })
    // Connect links: opened by end users, without an admin login.
    registerConnectRoutes(scope, context, names, checkCsrf)

    // Everything below needs an admin session.
    await scope.register(async (pages) => {
      pages.addHook('preHandler', async (request, reply) => {
        const session = await auth.session(request.cookies[names.session])
        if (session === undefined) {
          if (request.method === 'GET' || request.method === 'HEAD') {
            const next = encodeURIComponent(safeNext(request.raw.url))
            return reply.redirect(`/login?next=${next}`, 303)
          }
          throw new CalloutError(
            'ADMIN_AUTH_REQUIRED',
            'Your console session has ended; log in again.',
          )
        }
        request.adminSession = session
      })
      // Every state-changing request carries the form's CSRF token.
      pages.addHook('preHandler', (request, reply, done) => {
        if (request.method === 'GET' || request.method === 'HEAD') done()
        else checkCsrf(request, reply, done)
      })
      registerPages(pages, context)
      registerDefinitionPages(pages, context, {
        ...(options.keys === undefined ? {} : { keys: options.keys }),
        stateCookie: names.state,
      })
      registerRevokePages(pages, context)
      registerConnectLinkForm(pages, context)
      registerExternalCredentialPages(pages, context)
      registerNamedCredentialEdit(pages, context)
    })

    async function sendLogin(
      reply: FastifyReply,
      data: { next: string; username: string; flash?: NonNullable<PageData['flash']> },
    ): Promise<FastifyReply> {
      return reply.type('text/html; charset=utf-8').send(
        render('@login', {
          title: 'Log in',
          csrf: reply.generateCsrf(),
          hasAdmins: await auth.hasAdmins(),
          ...data,
        }),
      )
    }
  })
}

/** The console's pages (all behind the login check). */
function registerPages(pages: FastifyInstance, context: ConsoleContext): void {
  pages.get('/', async (request, reply) => {
    const reports = await context.broker.status()
    const flash = (request.query as Record<string, unknown>).flash === 'deleted'
    return page(reply, request, '@named-credentials', {
      title: 'Named Credentials',
      section: 'nc',
      reports,
      statusLabel,
      ...(flash ? { flash: { kind: 'ok', text: 'Deleted.' } } : {}),
    })
  })

  pages.get('/audit', async (request, reply) => {
    const query = request.query as Record<string, unknown>
    const before =
      typeof query.before === 'string' && /^\d{1,16}$/.test(query.before)
        ? Number(query.before)
        : undefined
    const entries = await context.auth.store.listAudit({
      limit: 100,
      ...(before === undefined ? {} : { before }),
    })
    return page(reply, request, '@audit', {
      title: 'Audit Log',
      section: 'audit',
      entries,
      older: entries.length === 100 ? entries[entries.length - 1]!.at : undefined,
    })
  })
}

/**
 * Renders a page for the signed-in admin with a fresh CSRF token.
 *
 * @example
 * return page(reply, request, '@audit', { title: 'Audit Log', entries })
 */
export function page(
  reply: FastifyReply,
  request: FastifyRequest,
  template: string,
  data: Record<string, unknown> & { title: string },
): FastifyReply {
  return reply.type('text/html; charset=utf-8').send(
    render(template, {
      csrf: reply.generateCsrf(),
      ...(request.adminSession === undefined ? {} : { user: request.adminSession.username }),
      ...data,
    }),
  )
}

/** A parsed form body (`{}` when there is none). */
export function formOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}
}

/** One text field of a form, trimmed (see {@link field}). */
export function trimmedField(body: Record<string, unknown>, name: string): string {
  return field(body, name).trim()
}

/** One text field of a form: a string, or `''` (a repeated field is refused). */
export function field(body: Record<string, unknown>, name: string): string {
  const value = body[name]
  if (value === undefined) return ''
  if (typeof value !== 'string') {
    throw new CalloutError('INVALID_ARGUMENT', `The form field ${name} was sent more than once.`, {
      details: { field: name },
    })
  }
  return value
}

/** Plugin and Fastify errors of the console scope as Callout errors. */
function consoleError(error: unknown): unknown {
  if (isCalloutError(error)) return error
  const code = (error as { code?: unknown }).code
  if (code === 'FST_CSRF_MISSING_SECRET' || code === 'FST_CSRF_INVALID_TOKEN') {
    return new CalloutError(
      'CSRF_INVALID',
      'This form was not accepted: its CSRF token is missing or does not match this browser. Reload the page and submit it again.',
    )
  }
  const status = (error as { statusCode?: unknown }).statusCode
  if (status === 413) {
    return new CalloutError('REQUEST_TOO_LARGE', 'The form is larger than the console accepts.')
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new CalloutError(
      'INVALID_ARGUMENT',
      `The request is malformed: ${(error as Error).message}`,
    )
  }
  return error
}
