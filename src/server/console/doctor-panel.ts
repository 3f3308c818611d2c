/**
 * The doctor panel of a Named Credential's detail page and its admin API twin: the checks of
 * `callout doctor` (one implementation, `src/callout/doctor-checks.ts`) for that credential, with
 * what to do said in the words of the interface that shows it — the console's buttons on the page,
 * the admin API's operations in JSON. Offline checks run when the page loads; the online checks (a
 * real token request and a call to an endpoint that requires the token) run on a button, a
 * CSRF-protected POST. Findings never carry a token or a secret.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Broker } from '../../callout/broker.ts'
import {
  credentialFindings,
  onlineFindings,
  type DoctorVoice,
  type Finding,
  type ReauthSubject,
} from '../../callout/doctor-checks.ts'
import type { StatusReport } from '../../callout/status-report.ts'
import type { JsonSchema } from '../../definitions/index.ts'
import type { CalloutError } from '../../errors.ts'
import type { ConsoleContext } from './console-plugin.ts'
import { changedBy } from './console-plugin.ts'
import type { DefinitionsService } from './definitions-service.ts'
import { addTemplates } from './views.ts'

/** What each interface calls its ways to fix a credential. */
interface Words {
  /** Re-authenticating a named principal of the browser flow. */
  readonly browser: (name: string) => string
  /** Obtaining a new token for a flow without a browser. */
  readonly mint: (name: string) => string
  /** Re-authenticating one end user of a per-user principal of the browser flow. */
  readonly perUser: (name: string, user: string) => string
  readonly enable: (name: string) => string
  readonly addExternalCredential: (externalCredential: string) => string
  readonly checkPath: string
}

const CLI_AUTH = /\b([Rr])un (`?)callout auth [^\s`]+(?: --user ([^\s`.,;]+))?\2/g
const CONNECT_LINK = /\bSend user (\S+) a connect link \(broker\.authorizeUrl\([^)]*\)\)/g

function capitalized(text: string, upper: boolean): string {
  return upper ? text.charAt(0).toUpperCase() + text.slice(1) : text
}

/** A voice from an interface's words, for a credential whose flow is `flow`. */
function voiceOf(words: Words, flow: string | undefined): DoctorVoice {
  const reauth = (name: string, who?: ReauthSubject): string => {
    if (who?.type !== 'per-user') return flow === 'browser' ? words.browser(name) : words.mint(name)
    const user = who.userId === undefined ? 'the user' : `user ${who.userId}`
    return flow === 'browser'
      ? words.perUser(name, user)
      : `fix the cause; the next callout for ${user} requests a new token`
  }
  // Library and provider texts name `callout auth` and broker.authorizeUrl: say them this way.
  const advice = (text: string, name: string): string =>
    text
      .replace(CLI_AUTH, (_m, r: string, _tick: string, user: string | undefined) =>
        capitalized(
          reauth(name, user === undefined ? undefined : { type: 'per-user', userId: user }),
          r === 'R',
        ),
      )
      .replace(CONNECT_LINK, (_m, user: string) =>
        capitalized(reauth(name, { type: 'per-user', userId: user }), true),
      )
  return {
    reauth,
    advice,
    message: (error: CalloutError) => {
      const name = error.details.namedCredential
      return typeof name === 'string' ? advice(error.message, name) : error.message
    },
    enable: words.enable,
    addExternalCredential: words.addExternalCredential,
    checkPath: words.checkPath,
  }
}

const CONSOLE_WORDS: Words = {
  browser: () => 'press Authenticate on this page',
  mint: () => 'press Run online checks on this page (it requests a token now)',
  perUser: (_name, user) =>
    `send ${user} a new connect link (Create connect link on this page) to authenticate again`,
  // The detail page's Edit button opens the form that sets these.
  enable: () =>
    'tick Enabled on this Named Credential\u2019s Edit page (Edit on this page), if it should be used',
  addExternalCredential: () =>
    'create it on the External Credentials page (New External Credential)',
  checkPath:
    'set Check path (a path that needs the credential, e.g. /me) on this Named Credential\u2019s Edit page (Edit on this page), to have Run online checks call it',
}

const API_WORDS: Words = {
  browser: (name) =>
    `authenticate in a browser: the Authenticate button on the console page /named-credentials/${name}`,
  mint: (name) => `POST /admin/api/namedCredentials/${name}/authenticate (it requests a token now)`,
  perUser: (name, user) =>
    `send ${user} a new connect link (POST /admin/api/namedCredentials/${name}/connectLinks) to authenticate again`,
  enable: (name) =>
    `set enabled: true with PUT /admin/api/namedCredentials/${name}, if it should be used`,
  addExternalCredential: () => 'create it with POST /admin/api/externalCredentials',
  checkPath:
    'set checkPath (a path that needs the credential, e.g. /me) on the Named Credential to have the online check call it',
}

/** Where the findings are shown: the console page, or the admin API. */
export type DoctorAudience = 'console' | 'api'

/**
 * The doctor voice of the console (its buttons) or of the admin API (its operations) for a
 * Named Credential whose ExternalCredential uses `flow`.
 *
 * @example
 * doctorVoice('console', 'browser').reauth('Target') // 'press Authenticate on this page'
 */
export function doctorVoice(audience: DoctorAudience, flow: string | undefined): DoctorVoice {
  return voiceOf(audience === 'console' ? CONSOLE_WORDS : API_WORDS, flow)
}

/**
 * Status texts of the library (a summary such as "Not authenticated: run callout auth Target", a
 * stored error's message) in the console's words, for the detail page of `report`.
 *
 * @example
 * consoleWordsFor(report)('Not authenticated: run callout auth Target')
 * // 'Not authenticated: press Authenticate on this page'
 */
export function consoleWordsFor(report: StatusReport): (text: string) => string {
  const voice = doctorVoice('console', report.flow)
  return (text) => voice.advice(text, report.name)
}

/** The result of the doctor checks of one Named Credential. */
export interface DoctorResult {
  /** True when the online checks ran too. */
  readonly online: boolean
  readonly findings: readonly Finding[]
}

/**
 * Runs the doctor checks of Named Credential `report.name`: the offline ones, and with `online`
 * first a real token request (flows without a browser) and a GET of an endpoint that needs the
 * token. After the online checks the status is read again, so the offline findings show the
 * token just obtained.
 *
 * @example
 * const [report] = await broker.status('Target')
 * const { findings } = await runDoctor(broker, report, { online: true, audience: 'console' })
 */
export async function runDoctor(
  broker: Broker,
  report: StatusReport,
  options: { readonly online: boolean; readonly audience: DoctorAudience },
): Promise<DoctorResult> {
  const defs = broker.definitions
  const voice = doctorVoice(options.audience, report.flow)
  if (!options.online) {
    return { online: false, findings: credentialFindings(report, defs, voice) }
  }
  const online = await onlineFindings(broker, report, defs, voice)
  const [after] = await broker.status(report.name)
  return {
    online: true,
    findings: [...credentialFindings(after ?? report, defs, voice), ...online],
  }
}

/**
 * {@link runDoctor} for the Named Credential `name`; `DEFINITION_NOT_FOUND` when there is none.
 *
 * @example
 * const result = await doctorOf(broker, definitions, 'Target', { online: false, audience: 'api' })
 */
export async function doctorOf(
  broker: Broker,
  definitions: Pick<DefinitionsService, 'get'>,
  name: string,
  options: { readonly online: boolean; readonly audience: DoctorAudience },
): Promise<DoctorResult> {
  const [report] = await broker.status(name)
  if (report === undefined) definitions.get('namedCredential', name)
  return runDoctor(broker, report!, options)
}

/** The JSON schema of a {@link DoctorResult} (admin API). */
export const DOCTOR_RESULT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    online: { type: 'boolean' },
    findings: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          level: { type: 'string', enum: ['ok', 'warn', 'fail'] },
          subject: { type: 'string' },
          what: { type: 'string' },
          todo: { type: 'string' },
          code: { type: 'string' },
        },
        required: ['level', 'subject', 'what'],
      },
    },
  },
  required: ['online', 'findings'],
}

/** The labels of the finding levels on the page. */
const LEVEL_LABELS = { ok: 'OK', warn: 'Warning', fail: 'Failed' } as const

/** The doctor panel, included in the detail page (`it.doctor` is a {@link DoctorResult}). */
export const DOCTOR_PANEL_TEMPLATE = `<section class="card" aria-labelledby="doctor-heading">
  <h2 id="doctor-heading">Doctor</h2>
  <p class="hint">The checks of <code>callout doctor</code> for this Named Credential<% if (it.doctor.online) { %>, with the online checks just run<% } %>. No token or secret is shown.</p>
  <ul class="findings" id="doctor-findings">
<% for (const f of it.doctor.findings) { %>
    <li class="finding <%= f.level %>"><span class="badge <%= f.level %>"><%= it.levelLabels[f.level] %></span> <strong><%= f.subject %></strong>: <%= f.what %><% if (f.code) { %> <code><%= f.code %></code><% } %><% if (f.todo) { %><br><span class="todo"><%= f.todo %></span><% } %></li>
<% } %>
  </ul>
  <form method="post" action="/named-credentials/<%= encodeURIComponent(it.report.name) %>/doctor">
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
    <div class="actions"><button type="submit" class="secondary">Run online checks</button></div>
    <p class="hint">Requests a token now (flows without a browser) and calls an endpoint that requires it.</p>
  </form>
</section>
`

/**
 * The data the detail page's doctor panel needs.
 *
 * @example
 * page(reply, request, '@named-credential', { ...doctorPanelData(result) })
 */
export function doctorPanelData(result: DoctorResult): Record<string, unknown> {
  return { doctor: result, levelLabels: LEVEL_LABELS }
}

addTemplates({ '@doctor-panel': DOCTOR_PANEL_TEMPLATE })

/** What the detail page lends the panels it includes. */
export interface DetailPage {
  /** Renders the detail page of `name` with `extra` data. */
  readonly render: (
    request: FastifyRequest,
    reply: FastifyReply,
    name: string,
    extra?: Record<string, unknown>,
  ) => Promise<FastifyReply>
}

/**
 * Registers the doctor panel's "Run online checks" (a CSRF-protected POST, audited) on the
 * console's signed-in scope; the page shows the results in place of the offline ones.
 *
 * @example
 * registerDoctorPanel(pages, context, { render: detail })
 */
export function registerDoctorPanel(
  pages: FastifyInstance,
  context: ConsoleContext,
  detail: DetailPage,
): void {
  pages.post('/named-credentials/:name/doctor', async (request, reply) => {
    const { name } = request.params as { name: string }
    const result = await doctorOf(context.broker, context.definitions, name, {
      online: true,
      audience: 'console',
    })
    const { actor, remote } = changedBy(request)
    await context.auth.audit({
      actor,
      action: 'namedCredential.doctor',
      target: `NamedCredential/${name}`,
      details: { failed: result.findings.filter((f) => f.level === 'fail').length },
      remote,
    })
    return detail.render(request, reply, name, doctorPanelData(result))
  })
}
