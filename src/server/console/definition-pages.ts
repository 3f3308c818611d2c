/**
 * The console's definition pages: Auth Providers (list, new, edit, delete, the callback URL with a
 * copy button), the classic "New Named Credential" screen with "Start Authentication Flow on
 * Save", the OAuth callback at `/services/authcallback/<AuthProvider>`, the Named Credential
 * detail page (status, Authenticate / Re-authenticate, test panel) and Client Keys. Changes go
 * through {@link DefinitionsService} (the config file's validation; nothing stored on error); the
 * browser flow goes through the broker, whose token manager checks state and PKCE and is the only
 * writer of credentials.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isCalloutError, type CalloutError } from '../../errors.ts'
import { adviceFor } from '../../providers/salesforce-advice.ts'
import type { ClientKeyStore } from '../../store/client-keys.ts'
import { newClientKey } from '../client-key.ts'
import { formatKeyRule, parseKeyRules } from '../key-rules.ts'
import type { ConsoleContext } from './console-plugin.ts'
import {
  actorOf,
  changedBy,
  field,
  formOf,
  page,
  remoteOf,
  statusLabel,
  trimmedField,
} from './console-plugin.ts'
import { PAGE_TEMPLATES } from './page-templates.ts'
import { addTemplates } from './views.ts'
import type { DefinitionKind, DefinitionsService } from './definitions-service.ts'
import { providerValuesOf, readProvider } from './auth-provider-form.ts'
import { literal } from './external-credential-form.ts'
import { consoleWordsFor, doctorPanelData, registerDoctorPanel, runDoctor } from './doctor-panel.ts'
import { REVOKE_FLASHES } from './revoke-pages.ts'
import { registerOpenInOrg, returnedRecord } from './open-in-org.ts'

addTemplates(PAGE_TEMPLATES)

/** The REST resources of a Salesforce org (the test panel's one-click request). */
const SALESFORCE_RESOURCES_PATH = '/services/data/v61.0/'
/** The test panel shows at most this much of a response body. */
const MAX_SHOWN_BODY = 256 * 1024
/** Fixed messages a redirect may ask for (never text from the query). */
const FLASHES: Readonly<Record<string, string>> = {
  authenticated: 'Authenticated.',
  saved: 'Saved.',
  deleted: 'Deleted.',
  ...REVOKE_FLASHES,
}

type Values = Record<string, string | boolean | undefined>

/**
 * Field errors and form-level errors from a failed change of an entry in config section `section`.
 *
 * @example
 * const { errors, formErrors } = errorsOf(error, 'namedCredentials')
 */
export function errorsOf(
  error: CalloutError,
  section: string,
): { errors: Values; formErrors: string[] } {
  const errors: Values = {}
  const formErrors: string[] = []
  const issues = (error.details.issues ?? []) as { path: string; message: string }[]
  if (error.code === 'DEFINITION_EXISTS') errors.name = error.message
  for (const i of issues) {
    const parts = i.path.split('.')
    if (parts[0] === section && parts.length === 2) errors.name = i.message
    else if (parts[0] === section && parts.length >= 3) errors[parts[2]!] ??= i.message
    else formErrors.push(`${i.path}: ${i.message}`)
  }
  if (issues.length === 0 && error.code !== 'DEFINITION_EXISTS') formErrors.push(error.message)
  return { errors, formErrors }
}

/**
 * The checkboxes both "New Named Credential" screens post (Generate Authorization Header, Allow
 * Merge Fields in HTTP Header/Body), as entry fields.
 *
 * @example
 * const entry = { url, ...namedCredentialFlags(formOf(request)) }
 */
export function namedCredentialFlags(body: Record<string, unknown>): {
  generateAuthorizationHeader: boolean
  allowMergeFieldsInHeader: boolean
  allowMergeFieldsInBody: boolean
} {
  const on = (key: string) => field(body, key) === 'on'
  return {
    generateAuthorizationHeader: on('generateAuthorizationHeader'),
    allowMergeFieldsInHeader: on('allowMergeFieldsInHeader'),
    allowMergeFieldsInBody: on('allowMergeFieldsInBody'),
  }
}

/**
 * The options of a select that picks an existing definition of `kind` (first: none).
 *
 * @example
 * nameOptions(definitions, 'authProvider') // [['', '—'], ['SfTarget', 'SfTarget']]
 */
export function nameOptions(definitions: DefinitionsService, kind: DefinitionKind): string[][] {
  return [['', '—'], ...Object.keys(definitions.list(kind)).map((n) => [n, n])]
}

/** What the detail page shows of a Named Credential's settings (never a secret). */
function settingsOf(
  nc: { readonly timeoutMs: number; readonly checkPath?: string } | undefined,
): { timeoutMs: number; checkPath?: string } | undefined {
  return nc === undefined
    ? undefined
    : {
        timeoutMs: nc.timeoutMs,
        ...(nc.checkPath === undefined ? {} : { checkPath: nc.checkPath }),
      }
}

function flashOf(request: FastifyRequest): { kind: 'ok'; text: string } | undefined {
  const key = (request.query as Record<string, unknown>).flash
  const text = typeof key === 'string' ? FLASHES[key] : undefined
  return text === undefined ? undefined : { kind: 'ok', text }
}

/**
 * Registers the definition pages on the console's signed-in scope.
 *
 * @example
 * registerDefinitionPages(pages, context, { keys: store.clientKeys, stateCookie: 'callout_oauth_state' })
 */
export function registerDefinitionPages(
  pages: FastifyInstance,
  context: ConsoleContext,
  options: { readonly keys?: ClientKeyStore; readonly stateCookie: string },
): void {
  const { definitions, broker } = context
  const callbackUrl = (provider: string): string =>
    `${context.publicUrl()}/services/authcallback/${encodeURIComponent(provider)}`
  const providerOf = (name: string): string | undefined => {
    const nc = broker.definitions.namedCredentials.get(name)
    const ec =
      nc === undefined
        ? undefined
        : broker.definitions.externalCredentials.get(nc.externalCredential)
    return ec?.authProvider
  }

  /** Starts the browser flow: state kept in this browser's cookie, then off to the server. */
  const startFlow = async (
    request: FastifyRequest,
    reply: FastifyReply,
    name: string,
  ): Promise<FastifyReply> => {
    const provider = providerOf(name)
    const { url, state } = await broker.authorizeUrl(name, {
      redirectUri: callbackUrl(provider ?? ''),
      // Stored with the pending authorization, in its transaction.
      audit: context.auth.entry({
        actor: actorOf(request),
        action: 'namedCredential.authenticate-start',
        target: `NamedCredential/${name}`,
        remote: remoteOf(request),
      }),
    })
    reply.setCookie(options.stateCookie, state, {
      path: '/services/authcallback/',
      httpOnly: true,
      sameSite: 'lax',
      secure: context.secure,
      maxAge: 600,
    })
    return reply.redirect(url, 303)
  }

  // Auth Providers
  pages.get('/auth-providers', async (request, reply) => {
    const providers = Object.entries(definitions.list('authProvider')).map(([name, p]) => ({
      name,
      type: String(p.type),
      consumerKey: String(p.consumerKey ?? ''),
      callbackUrl: callbackUrl(name),
    }))
    return page(reply, request, '@auth-providers', {
      title: 'Auth Providers',
      section: 'ap',
      providers,
      ...withFlash(request),
    })
  })

  const providerForm = (
    request: FastifyRequest,
    reply: FastifyReply,
    data: {
      name?: string
      values: Values
      errors?: Values
      formErrors?: string[]
      /** The secrets stored for this provider (never their values). */
      stored?: readonly string[]
    },
  ): FastifyReply =>
    page(reply, request, '@auth-provider-form', {
      title: data.name === undefined ? 'New Auth Provider' : `Auth Provider ${data.name}`,
      section: 'ap',
      isNew: data.name === undefined,
      action:
        data.name === undefined
          ? '/auth-providers'
          : `/auth-providers/${encodeURIComponent(data.name)}`,
      callbackUrl: data.name === undefined ? undefined : callbackUrl(data.name),
      values: data.values,
      errors: data.errors ?? {},
      formErrors: data.formErrors ?? [],
      stored: data.stored ?? [],
    })

  pages.get('/auth-providers/new', async (request, reply) =>
    providerForm(request, reply, {
      values: {
        type: 'salesforce',
        loginUrl: 'https://login.salesforce.com',
        defaultScopes: 'api refresh_token',
        usePkce: 'true',
      },
    }),
  )

  pages.get('/auth-providers/:name', async (request, reply) => {
    const { name } = request.params as { name: string }
    return providerForm(request, reply, {
      name,
      ...providerValuesOf(definitions.get('authProvider', name)),
    })
  })

  pages.post('/auth-providers', async (request, reply) => {
    const body = formOf(request)
    const name = trimmedField(body, 'name')
    const { values, entry } = readProvider(body)
    try {
      await definitions.put('authProvider', name, entry, changedBy(request), 'create')
    } catch (error) {
      if (!isCalloutError(error)) throw error
      reply.code(error.status)
      return providerForm(request, reply, {
        values: { ...values, name },
        ...errorsOf(error, 'authProviders'),
      })
    }
    return reply.redirect(`/auth-providers/${encodeURIComponent(name)}?flash=saved`, 303)
  })

  pages.post('/auth-providers/:name', async (request, reply) => {
    const { name } = request.params as { name: string }
    const { values, entry } = readProvider(formOf(request))
    try {
      await definitions.put('authProvider', name, entry, changedBy(request), 'update')
    } catch (error) {
      if (!isCalloutError(error) || error.code === 'DEFINITION_NOT_FOUND') throw error
      reply.code(error.status)
      return providerForm(request, reply, {
        name,
        values,
        stored: providerValuesOf(definitions.get('authProvider', name)).stored,
        ...errorsOf(error, 'authProviders'),
      })
    }
    return reply.redirect(`/auth-providers/${encodeURIComponent(name)}?flash=saved`, 303)
  })

  pages.post('/auth-providers/:name/delete', async (request, reply) => {
    const { name } = request.params as { name: string }
    await definitions.remove('authProvider', name, changedBy(request))
    return reply.redirect('/auth-providers?flash=deleted', 303)
  })

  // Named Credentials
  const ncForm = (
    request: FastifyRequest,
    reply: FastifyReply,
    data: { values: Values; errors?: Values; formErrors?: string[] },
  ): FastifyReply =>
    page(reply, request, '@named-credential-new', {
      title: 'New Named Credential',
      section: 'nc',
      providerOptions: nameOptions(definitions, 'authProvider'),
      values: data.values,
      errors: data.errors ?? {},
      formErrors: data.formErrors ?? [],
    })

  pages.get('/named-credentials/new', async (request, reply) =>
    ncForm(request, reply, {
      values: {
        identityType: 'named-principal',
        protocol: 'oauth2',
        startAuth: true,
        generateAuthorizationHeader: true,
      },
    }),
  )

  pages.post('/named-credentials', async (request, reply) => {
    const body = formOf(request)
    const values: Values = {}
    for (const key of [
      'label',
      'name',
      'url',
      'identityType',
      'protocol',
      'authProvider',
      'scope',
    ]) {
      values[key] = trimmedField(body, key)
    }
    values.startAuth = field(body, 'startAuth') === 'on'
    const flags = namedCredentialFlags(body)
    Object.assign(values, flags)
    const name = String(values.name)
    const entry: Record<string, unknown> = {
      url: values.url,
      identityType: values.identityType,
      ...flags,
    }
    if (values.label !== '') entry.label = values.label
    if (values.identityType !== 'anonymous') {
      entry.protocol = values.protocol
      if (values.protocol === 'oauth2') {
        entry.flow = 'browser'
        if (values.authProvider !== '') entry.authProvider = values.authProvider
        if (values.scope !== '') entry.scope = values.scope
      }
    }
    try {
      await definitions.put('namedCredential', name, literal(entry), changedBy(request), 'create')
    } catch (error) {
      if (!isCalloutError(error)) throw error
      reply.code(error.status)
      return ncForm(request, reply, { values, ...errorsOf(error, 'namedCredentials') })
    }
    if (
      values.startAuth === true &&
      values.protocol === 'oauth2' &&
      values.identityType === 'named-principal'
    ) {
      return startFlow(request, reply, name)
    }
    return reply.redirect(`/named-credentials/${encodeURIComponent(name)}?flash=saved`, 303)
  })

  const detail = async (
    request: FastifyRequest,
    reply: FastifyReply,
    name: string,
    extra: Record<string, unknown> = {},
  ): Promise<FastifyReply> => {
    const [report] = await broker.status(name)
    if (report === undefined) definitions.get('namedCredential', name)
    const provider = providerOf(name)
    const type =
      provider === undefined ? undefined : broker.definitions.authProviders.get(provider)?.type
    return page(reply, request, '@named-credential', {
      title: report!.label,
      section: 'nc',
      report,
      statusLabel,
      browserFlow: report!.protocol === 'oauth2' && report!.flow === 'browser',
      authenticated: report!.principals.some((p) => p.status === 'authenticated'),
      callbackUrl: callbackUrl(provider ?? ''),
      salesforce: type === 'salesforce',
      perUser: report!.principals.some((p) => p.type === 'per-user'),
      settings: settingsOf(broker.definitions.namedCredentials.get(name)),
      test: {
        method: 'GET',
        path: type === 'salesforce' ? SALESFORCE_RESOURCES_PATH : '/',
        headers: '',
        body: '',
        user: '',
      },
      testErrors: {},
      ...doctorPanelData(await runDoctor(broker, report!, { online: false, audience: 'console' })),
      say: consoleWordsFor(report!),
      ...withFlash(request),
      ...extra,
    })
  }
  registerDoctorPanel(pages, context, { render: detail })
  registerOpenInOrg(pages, context, { render: detail })

  pages.get('/named-credentials/:name', async (request, reply) =>
    detail(request, reply, (request.params as { name: string }).name),
  )

  pages.post('/named-credentials/:name/authenticate', async (request, reply) => {
    const { name } = request.params as { name: string }
    definitions.get('namedCredential', name)
    return startFlow(request, reply, name)
  })

  pages.post('/named-credentials/:name/delete', async (request, reply) => {
    const { name } = request.params as { name: string }
    await definitions.remove('namedCredential', name, changedBy(request))
    return reply.redirect('/?flash=deleted', 303)
  })

  pages.post('/named-credentials/:name/test', async (request, reply) => {
    const { name } = request.params as { name: string }
    definitions.get('namedCredential', name)
    const [report] = await broker.status(name)
    const perUser = report!.principals.some((p) => p.type === 'per-user')
    const body = formOf(request)
    const preset = trimmedField(body, 'preset') === 'resources'
    const test = {
      method: preset ? 'GET' : trimmedField(body, 'method') || 'GET',
      path: preset ? SALESFORCE_RESOURCES_PATH : trimmedField(body, 'path') || '/',
      headers: preset ? '' : field(body, 'headers'),
      body: preset ? '' : field(body, 'body'),
      user: perUser ? field(body, 'user').trim() : '',
    }
    if (perUser && test.user === '') {
      // Nothing is sent: the principal is per-user, so the call needs the end user named.
      reply.code(400)
      return detail(request, reply, name, {
        test,
        testErrors: {
          user: 'Enter the end user: this credential connects each user separately (per-user principal).',
        },
      })
    }
    try {
      const headers: [string, string][] = []
      for (const line of test.headers.split(/\r?\n/)) {
        if (line.trim() === '') continue
        const colon = line.indexOf(':')
        if (colon <= 0)
          throw new Error(`"${line.slice(0, 40)}" is not a "Name: value" header line.`)
        headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()])
      }
      const path = test.path.startsWith('/') ? test.path : `/${test.path}`
      const res = await broker.fetch(`callout:${name}${path}`, {
        method: test.method,
        headers,
        ...(test.body === '' || test.method === 'GET' || test.method === 'HEAD'
          ? {}
          : { body: test.body }),
        ...(test.user === '' ? {} : { user: test.user }),
      })
      const text = test.method === 'HEAD' ? '' : await res.text()
      let shown = text.length > MAX_SHOWN_BODY ? `${text.slice(0, MAX_SHOWN_BODY)}\n… (cut)` : text
      if ((res.headers.get('content-type') ?? '').includes('json')) {
        try {
          shown = JSON.stringify(JSON.parse(text), null, 2)
        } catch {
          // shown as sent
        }
      }
      const headerLines = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')
      return detail(request, reply, name, {
        test,
        result: {
          status: `${res.status} ${res.statusText}`.trim(),
          headers: headerLines,
          body: shown,
        },
        record: returnedRecord(test.method, path, text),
      })
    } catch (error) {
      const message = isCalloutError(error)
        ? `${error.code}: ${consoleWordsFor(report!)(error.message)}`
        : (error as Error).message
      return detail(request, reply, name, { test, testError: message })
    }
  })

  // The OAuth callback (Salesforce's path), in the browser that started the flow.
  pages.get('/services/authcallback/:provider', async (request, reply) => {
    const { provider } = request.params as { provider: string }
    const state = request.cookies[options.stateCookie]
    reply.clearCookie(options.stateCookie, { path: '/services/authcallback/' })
    try {
      // The flow is bound to the browser that started it: no state cookie, no match.
      const report = await broker.completeAuthorization(request.raw.url ?? '', {
        state: state ?? '',
        // Stored with the tokens, in their transaction.
        audit: ({ namedCredential, credential }) =>
          context.auth.entry({
            actor: actorOf(request),
            action: 'namedCredential.authenticate',
            target: `NamedCredential/${namedCredential}`,
            details: { status: credential.status },
            remote: remoteOf(request),
          }),
      })
      return reply.redirect(
        `/named-credentials/${encodeURIComponent(report.name)}?flash=authenticated`,
        303,
      )
    } catch (error) {
      if (!isCalloutError(error)) throw error
      const query = request.query as Record<string, unknown>
      const text = `${error.message} ${typeof query.error === 'string' ? query.error : ''} ${typeof query.error_description === 'string' ? query.error_description : ''}`
      const advice = adviceFor(text)
      reply.code(error.status)
      return page(reply, request, '@auth-error', {
        title: 'Authentication failed',
        section: 'nc',
        code: error.code,
        message: error.message,
        advice: advice !== undefined && !error.message.includes(advice) ? advice : undefined,
        callbackUrl: /redirect_uri/i.test(text) ? callbackUrl(provider) : undefined,
        back: '/',
      })
    }
  })

  // Client keys
  const keysPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    extra: Record<string, unknown> = {},
  ): Promise<FastifyReply> => {
    const now = context.clock.now()
    const records = options.keys === undefined ? [] : await options.keys.listClientKeys()
    return page(reply, request, '@client-keys', {
      title: 'Client Keys',
      section: 'keys',
      keys: records.map((r) => ({
        id: r.id,
        name: r.name,
        rules: r.rules,
        state:
          r.revokedAt !== undefined
            ? 'revoked'
            : r.expiresAt !== undefined && r.expiresAt <= now
              ? 'expired'
              : 'active',
      })),
      values: {},
      errors: {},
      formErrors: [],
      ...withFlash(request),
      ...extra,
    })
  }
  pages.get('/client-keys', async (request, reply) => keysPage(request, reply))
  pages.post('/client-keys', async (request, reply) => {
    const body = formOf(request)
    const values: Values = {
      name: trimmedField(body, 'name'),
      allow: trimmedField(body, 'allow'),
      anyUser: field(body, 'anyUser') === 'on',
    }
    try {
      if (options.keys === undefined)
        throw new Error('This callout serve runs without client keys.')
      const name = String(values.name)
      if (!/^[\w.@-]{1,64}$/.test(name))
        throw new Error('Name: 1–64 letters, digits, ".", "@", "_" or "-".')
      const parsed = parseKeyRules(String(values.allow))
      for (const rule of parsed) definitions.get('namedCredential', rule.credential)
      const { key, record } = newClientKey({
        name,
        rules: parsed.map(formatKeyRule),
        anyUser: values.anyUser === true,
        now: context.clock.now(),
      })
      await options.keys.createClientKey(record, {
        audit: {
          at: context.clock.now(),
          actor: actorOf(request),
          action: 'clientKey.create',
          target: `ClientKey/${record.id}`,
          details: { name, rules: record.rules, anyUser: record.anyUser },
          remote: remoteOf(request),
        },
      })
      return keysPage(request, reply, { newKey: key })
    } catch (error) {
      reply.code(isCalloutError(error) ? error.status : 400)
      return keysPage(request, reply, { values, formErrors: [(error as Error).message] })
    }
  })
  pages.post('/client-keys/:id/revoke', async (request, reply) => {
    const { id } = request.params as { id: string }
    if (options.keys !== undefined && /^[0-9a-f]{12}$/.test(id)) {
      await options.keys.revokeClientKey(id, {
        audit: {
          at: context.clock.now(),
          actor: actorOf(request),
          action: 'clientKey.revoke',
          target: `ClientKey/${id}`,
          details: {},
          remote: remoteOf(request),
        },
      })
    }
    return reply.redirect('/client-keys', 303)
  })
}

/** The page data for the fixed message a redirect asked for (`?flash=saved`, …), if any. */
export function withFlash(request: FastifyRequest): Record<string, unknown> {
  const flash = flashOf(request)
  return flash === undefined ? {} : { flash }
}
