/**
 * The doctor checks of a Named Credential, shared by `callout doctor` and the console's doctor
 * panel: pure functions of definitions, status reports and errors (and, for the online checks, a
 * broker), each returning findings (`ok`, `warn`, `fail`) that say what is wrong and what to do.
 * What to do is said through a {@link DoctorVoice}, so each interface names only its own commands,
 * flags and buttons. They never see a token or a secret value.
 */
import type { AuthProvider, Definitions, NamedCredential } from '../definitions/model.ts'
import { isCalloutError, type CalloutError } from '../errors.ts'
import { isMyDomainHost, salesforceHostKind } from '../providers/salesforce.ts'
import { adviceFor } from '../providers/salesforce-advice.ts'
import { isSessionNotValidForApi } from '../providers/salesforce-session.ts'
import type { Broker } from './broker.ts'
import { refreshScopeProblem } from './refresh-scope.ts'
import type { StatusReport } from './status-report.ts'

/** How bad a finding is: `fail` makes `callout doctor` exit 1. */
export type FindingLevel = 'ok' | 'warn' | 'fail'

/**
 * One finding: `<level> <subject>: <what> — <todo>` (a line of `callout doctor`, a row of the
 * console's doctor panel).
 *
 * @example
 * const f: Finding = { level: 'warn', subject: 'Salesforce', what: 'not authenticated', todo: 'run callout auth Salesforce' }
 */
export interface Finding {
  readonly level: FindingLevel
  /** What the finding is about: `master key`, `store`, `<Name>`, `<Name> <Principal>`. */
  readonly subject: string
  readonly what: string
  /** What to do about it; absent when nothing needs doing. */
  readonly todo?: string
  /** A Callout error code or upstream status the finding came from. */
  readonly code?: string
}

/** The principal a re-authentication is for. */
export interface ReauthSubject {
  readonly type: 'named' | 'per-user'
  readonly userId?: string | undefined
}

/**
 * How an interface says what to do: the CLI names commands and flags (`run callout auth Target`),
 * the console names its buttons. Each text is a clause that follows "then" or "—".
 *
 * @example
 * const cli: DoctorVoice = { reauth: (name) => `run callout auth ${name}`, … }
 */
export interface DoctorVoice {
  /** How to re-authenticate a principal of Named Credential `name` (named when `who` is absent). */
  reauth(name: string, who?: ReauthSubject): string
  /** An error's message in this interface's words (its code and message never carry a secret). */
  message(error: CalloutError): string
  /** Advice text from the provider tables (which may name `callout auth`) in this interface's words. */
  advice(text: string, name: string): string
  /** How to enable the disabled Named Credential `name`. */
  enable(name: string): string
  /** How to create the missing ExternalCredential `externalCredential`. */
  addExternalCredential(externalCredential: string): string
  /** What to do when a Named Credential has no `checkPath` for the online check. */
  readonly checkPath: string
}

function finding(
  level: FindingLevel,
  subject: string,
  what: string,
  todo?: string,
  code?: string,
): Finding {
  return {
    level,
    subject,
    what,
    ...(todo === undefined ? {} : { todo }),
    ...(code === undefined ? {} : { code }),
  }
}

/**
 * Formats a finding as one line.
 *
 * @example
 * formatFinding({ level: 'ok', subject: 'store', what: 'opened' }) // 'ok   store: opened'
 */
export function formatFinding(f: Finding): string {
  const todo = f.todo === undefined ? '' : ` — ${f.todo}`
  return `${f.level.padEnd(4)} ${f.subject}: ${f.what}${todo}`
}

/** True when any finding is a `fail`. */
export function hasFailure(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.level === 'fail')
}

/**
 * A finding for a failure: `fail <subject>: <CODE>: <message> — <advice>`. Only the code and
 * message of a CalloutError are used (they never carry a secret), in `voice`'s words; other
 * errors show their message. Salesforce advice is added when `salesforce` is true and the code or
 * message is known.
 *
 * @example
 * errorFinding('Target', new CalloutError('NEEDS_REAUTH', '…'), 'could not obtain a token', true, voice)
 */
export function errorFinding(
  subject: string,
  error: unknown,
  what: string,
  salesforce: boolean,
  voice: DoctorVoice,
): Finding {
  const code = isCalloutError(error) ? error.code : 'INTERNAL'
  const message = isCalloutError(error)
    ? voice.message(error)
    : error instanceof Error
      ? error.message
      : String(error)
  const advice = salesforce ? salesforceAdvice(code, message) : undefined
  return finding(
    'fail',
    subject,
    `${what}: ${code}: ${message}`,
    advice === undefined ? undefined : voice.advice(advice, subject),
    code,
  )
}

/**
 * Salesforce advice for an error: by its code, by the OAuth error Callout quotes in the message
 * (`(invalid_client: …)`), or by the message text.
 */
function salesforceAdvice(code: string, message: string): string | undefined {
  const oauth = /\(([a-z_]{3,40}):/.exec(message)?.[1]
  return (
    adviceFor(code) ?? (oauth === undefined ? undefined : adviceFor(oauth)) ?? adviceFor(message)
  )
}

function originOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.origin : undefined
  } catch {
    return undefined
  }
}

/** The My Domain URL to suggest, when the known instance URL is one. */
function myDomainOf(instanceUrl: string | undefined): string | undefined {
  const origin = originOf(instanceUrl)
  if (origin === undefined) return undefined
  return isMyDomainHost(origin) ? origin : undefined
}

/**
 * Checks a Salesforce Named Credential's URL (DESIGN §4): a Lightning/Visualforce/Experience host
 * is a `warn` (the classic 302 / `INVALID_SESSION_ID`; Callout uses the token's `instance_url`),
 * a login host (or the provider's own `loginUrl`) is `ok` with a note, anything else is `ok`.
 *
 * @example
 * salesforceUrlFinding(nc, provider, 'https://acme.my.salesforce.com')
 * // { level: 'warn', subject: 'Target', what: 'the URL https://acme.lightning.force.com is a Lightning…' }
 */
export function salesforceUrlFinding(
  nc: NamedCredential,
  provider: AuthProvider,
  instanceUrl: string | undefined,
): Finding {
  const instance = originOf(instanceUrl)
  const goesTo =
    instance === undefined
      ? "the token's instance_url (known after the first token)"
      : `the token's instance_url ${instance}`
  const kind = salesforceHostKind(nc.url, provider.loginUrl)
  if (kind === 'ui') {
    const myDomain = myDomainOf(instanceUrl)
    return finding(
      'warn',
      nc.name,
      `the URL ${nc.url} is a Lightning/Visualforce/Experience host, which answers API calls with a 302 or INVALID_SESSION_ID; Callout sends callouts to ${goesTo} instead`,
      myDomain === undefined
        ? "set the Named Credential URL to the org's My Domain (https://<domain>.my.salesforce.com)"
        : `set the Named Credential URL to the org's My Domain, ${myDomain} (https://<domain>.my.salesforce.com)`,
    )
  }
  if (kind === 'login') {
    return finding(
      'ok',
      nc.name,
      `the URL ${nc.url} is a login host, which serves no org API; API calls go to ${goesTo}`,
    )
  }
  return finding('ok', nc.name, `the URL ${nc.url} is the API origin`)
}

/**
 * The offline checks of one Named Credential: enabled, its ExternalCredential, the Salesforce URL,
 * the browser flow's scope, the password flow, and each principal's stored status; what to do is
 * said in `voice`'s words.
 *
 * @example
 * const findings = credentialFindings(report, broker.definitions, voice)
 */
export function credentialFindings(
  report: StatusReport,
  defs: Definitions,
  voice: DoctorVoice,
): Finding[] {
  const name = report.name
  const out: Finding[] = []
  const nc = defs.namedCredentials.get(name)
  out.push(
    report.enabled
      ? finding('ok', name, 'enabled')
      : finding(
          'warn',
          name,
          'disabled: callouts fail with CREDENTIAL_DISABLED',
          voice.enable(name),
        ),
  )
  const ec = defs.externalCredentials.get(report.externalCredential)
  if (nc === undefined || ec === undefined) {
    out.push(
      finding(
        'fail',
        name,
        `the ExternalCredential ${report.externalCredential} does not exist`,
        voice.addExternalCredential(report.externalCredential),
        'CONFIG_INVALID',
      ),
    )
    return out
  }
  const provider =
    ec.authProvider === undefined ? undefined : defs.authProviders.get(ec.authProvider)
  const salesforce = provider?.type === 'salesforce'
  if (salesforce) {
    const instanceUrl = report.principals.find((p) => p.instanceUrl !== undefined)?.instanceUrl
    out.push(salesforceUrlFinding(nc, provider, instanceUrl))
  }
  if (ec.protocol !== 'oauth2') {
    out.push(finding('ok', name, `uses ${ec.protocol} credentials; no token to refresh`))
    return out
  }
  if (ec.flow === 'password') {
    out.push(
      finding(
        'warn',
        name,
        'uses the OAuth password flow, which is legacy (it sends a password, breaks with SSO and MFA, and Salesforce blocks it in new orgs)',
        'move to flow: jwt-bearer (a certificate on the Connected App, no password)',
      ),
    )
  }
  const scopeProblem = refreshScopeProblem(ec, provider, voice.reauth(name))
  if (scopeProblem !== undefined) {
    out.push(finding('warn', name, scopeProblem.what, scopeProblem.todo))
  }
  for (const p of report.principals) {
    const subject =
      p.userId === undefined ? `${name} ${p.principal}` : `${name} ${p.principal} [${p.userId}]`
    const reauth = voice.reauth(name, p)
    switch (p.status) {
      case 'authenticated':
        out.push(finding('ok', subject, p.summary))
        if (ec.flow === 'browser' && p.hasRefreshToken === false) {
          out.push(
            finding(
              'warn',
              subject,
              'no refresh token is stored: the credential stops working when the access token expires',
              salesforce
                ? `add refresh_token to the scope and allow "Perform requests at any time" on the Connected App, then ${reauth}`
                : `add offline_access (or the provider's equivalent) to the scope, then ${reauth}`,
            ),
          )
        }
        break
      case 'needs-reauth':
        out.push(
          finding(
            'fail',
            subject,
            `needs re-authentication (${p.lastError?.code ?? 'invalid_grant'})`,
            reauth,
            'NEEDS_REAUTH',
          ),
        )
        break
      case 'error': {
        const code = p.lastError?.code ?? 'unknown'
        const message = p.lastError?.message ?? ''
        const advice = salesforce ? salesforceAdvice(code, message) : undefined
        out.push(
          finding(
            'fail',
            subject,
            `the last token request failed: ${code}${message === '' ? '' : `: ${message}`}`,
            advice === undefined
              ? `fix the configuration, then ${reauth}`
              : voice.advice(advice, name),
            code,
          ),
        )
        break
      }
      case 'timed-out':
        out.push(
          finding(
            'fail',
            subject,
            p.summary,
            p.advice === undefined ? reauth : voice.advice(p.advice, name),
            'AUTHORIZATION_TIMEOUT',
          ),
        )
        break
      case 'pending':
        out.push(
          finding(
            'warn',
            subject,
            'authentication is in progress',
            `finish the login, or ${reauth}`,
          ),
        )
        break
      case 'not-configured':
        if (ec.flow !== 'browser') {
          out.push(finding('ok', subject, 'not yet used: a token is obtained on the first callout'))
        } else if (p.type === 'per-user') {
          out.push(finding('ok', subject, 'no user has authenticated yet'))
        } else {
          out.push(finding('warn', subject, 'never authenticated', reauth))
        }
        break
    }
  }
  return out
}

/**
 * Interprets the answer to the online `GET callout:<Name><path>`: 2xx is `ok`, a redirect is a
 * `warn` (for Salesforce with the Lightning advice), 401 and 403 are `fail` with the upstream's
 * or Salesforce's advice, anything else is `fail`. `body` is only inspected for Salesforce error
 * codes, never printed. Advice that names `callout auth` is said in `voice`'s words.
 *
 * @example
 * apiCheckFinding('Target', '/services/data/v61.0/', 200, '{}', { salesforce: true })
 * // { level: 'ok', subject: 'Target', what: 'GET /services/data/v61.0/ answered 200' }
 */
export function apiCheckFinding(
  name: string,
  path: string,
  status: number,
  body: string,
  options: {
    readonly salesforce?: boolean
    readonly advice?: string
    readonly voice?: Pick<DoctorVoice, 'advice'>
  } = {},
): Finding {
  const say = (text: string): string => options.voice?.advice(text, name) ?? text
  const what = `GET ${path} answered ${status}`
  if (status >= 200 && status < 300) return finding('ok', name, what)
  const salesforce = options.salesforce === true
  if (status >= 300 && status < 400) {
    return finding(
      'warn',
      name,
      what,
      salesforce
        ? say(adviceFor('lightning_redirect')!)
        : 'check the Named Credential URL and checkPath: the endpoint redirects',
      `HTTP_${status}`,
    )
  }
  const known = !salesforce
    ? undefined
    : isSessionNotValidForApi(body)
      ? adviceFor('SESSION_NOT_VALID_FOR_API')
      : status === 401
        ? adviceFor('INVALID_SESSION_ID')
        : adviceFor(body.slice(0, 4096))
  const fallback =
    status === 401
      ? 'the upstream refused the credential even after a fresh token: check the scopes and the user the token is issued for'
      : 'check the Named Credential URL, checkPath and the user’s permissions'
  const advice = options.advice ?? known
  return finding(
    'fail',
    name,
    what,
    advice === undefined ? fallback : say(advice),
    `HTTP_${status}`,
  )
}

/** The API version of the Salesforce check: `GET /services/data/v61.0/` needs a valid session. */
export const SALESFORCE_CHECK_PATH = '/services/data/v61.0/'

/**
 * The online checks of one Named Credential: a real token request now (flows without a browser),
 * then a GET of a path that answers only to a valid credential — Salesforce's
 * `/services/data/v61.0/`, or the Named Credential's `checkPath`. Named principals only (a
 * per-user principal has no one user to check). Never returns a token or a response body.
 *
 * @example
 * const [report] = await broker.status('Target')
 * const findings = await onlineFindings(broker, report, broker.definitions, voice)
 */
export async function onlineFindings(
  broker: Pick<Broker, 'authenticate' | 'fetch'>,
  report: StatusReport,
  defs: Definitions,
  voice: DoctorVoice,
): Promise<Finding[]> {
  const name = report.name
  const nc = defs.namedCredentials.get(name)
  const ec = defs.externalCredentials.get(report.externalCredential)
  if (!report.enabled || ec === undefined || nc === undefined) return []
  const provider =
    ec.authProvider === undefined ? undefined : defs.authProviders.get(ec.authProvider)
  const salesforce = provider?.type === 'salesforce'
  const out: Finding[] = []
  const named = ec.principals.some((p) => p.type === 'named')
  if (!named) return out
  if (ec.protocol === 'oauth2' && ec.flow !== 'browser') {
    try {
      const fresh = await broker.authenticate(name, { fresh: true })
      const summary = fresh.principals.map((p) => p.summary).join('; ')
      out.push({ level: 'ok', subject: name, what: `obtained a token now (${summary})` })
    } catch (error) {
      out.push(errorFinding(name, error, 'could not obtain a token', salesforce, voice))
      return out
    }
  }
  const path = nc.checkPath ?? (salesforce ? SALESFORCE_CHECK_PATH : undefined)
  if (path === undefined) {
    out.push({
      level: 'ok',
      subject: name,
      what: 'no endpoint called: the Named Credential has no checkPath',
      todo: voice.checkPath,
    })
    return out
  }
  const usable =
    ec.protocol !== 'oauth2' ||
    ec.flow !== 'browser' ||
    report.principals.some((p) => p.status === 'authenticated')
  if (!usable) return out
  try {
    const res = await broker.fetch(`callout:${name}${path}`)
    const body = await res.text()
    const advice = res.headers.get('callout-advice')
    out.push(
      apiCheckFinding(name, path, res.status, body, {
        salesforce,
        voice,
        ...(advice === null ? {} : { advice }),
      }),
    )
  } catch (error) {
    out.push(errorFinding(name, error, `GET ${path} failed`, salesforce, voice))
  }
  return out
}
