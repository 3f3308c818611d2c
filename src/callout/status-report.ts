import type {
  AuthProvider,
  CredentialStatus,
  Definitions,
  ExternalCredential,
  NamedCredential,
  OAuthFlow,
  PrincipalCredential,
  Protocol,
} from '../definitions/model.ts'
import { credentialNotFound } from './callout-url.ts'
import { salesforceAdvice } from '../providers/salesforce-advice.ts'
import type { PendingFlow, Store } from '../store/types.ts'
import { effectiveExpiresAt, sessionTimeoutFor } from '../tokens/expiry.ts'

/**
 * What a status report says of a principal: its credential's status, or `timed-out` when the
 * browser flow started for it never came back (an SSO-only org, a login abandoned, an error page
 * on the authorization server) and the flow's lifetime has passed.
 */
export type PrincipalState = CredentialStatus | 'timed-out'

/** Advice for a timed-out browser flow whose Auth Provider is not a Salesforce one. */
const FLOW_TIMEOUT_ADVICE =
  'The login never came back to Callout. Finish the login in the browser that started it within 10 minutes, check that the authorization server redirects to the callback URL, or use a flow that needs no browser (client-credentials or jwt-bearer). Then authenticate again.'

/** The state of one principal (and user) — never a token. */
export interface PrincipalStatus {
  readonly principal: string
  readonly type: 'named' | 'per-user'
  /** The end user, for per-user principals. */
  readonly userId?: string
  readonly status: PrincipalState
  /** "Authenticated as <username>", when the identity is known. */
  readonly summary: string
  /** What to do, for a `timed-out` flow. */
  readonly advice?: string
  /** When the browser flow shown as `pending` or `timed-out` started (ms since epoch). */
  readonly flowStartedAt?: number
  /** When it times out, or timed out (ms since epoch). */
  readonly flowExpiresAt?: number
  readonly username?: string
  readonly orgId?: string
  readonly instanceUrl?: string
  readonly scope?: string
  /** ms since epoch. */
  readonly issuedAt?: number
  /** ms since epoch: from `expires_in`, or issuedAt + sessionTimeoutSeconds. */
  readonly expiresAt?: number
  readonly lastRefreshAt?: number
  readonly hasRefreshToken?: boolean
  readonly lastError?: { readonly code: string; readonly message: string; readonly at: number }
}

/**
 * The status of one Named Credential, as `callout status`, the console and `broker.status()`
 * show it.
 *
 * @example
 * for (const nc of await broker.status()) console.log(nc.name, nc.principals.map((p) => p.summary))
 */
export interface StatusReport {
  readonly name: string
  readonly label: string
  readonly url: string
  readonly enabled: boolean
  readonly externalCredential: string
  readonly protocol: Protocol
  readonly flow?: OAuthFlow
  readonly principals: readonly PrincipalStatus[]
}

/** Options of {@link buildStatusReports}. */
export interface StatusOptions {
  /** The time to judge expiry by (ms since epoch); default `Date.now()`. */
  readonly now?: number
  /** Show only this end user's connections of per-user principals. */
  readonly user?: string
}

/**
 * Builds status reports from definitions and stored credentials (never tokens). Each principal's
 * status is what the next callout meets: an expired browser-flow session with no refresh token is
 * `needs-reauth`, and only an `authenticated` principal has an `expiresAt`. A principal that is
 * not authenticated and has a browser flow started since its last token shows that flow:
 * `pending` until the flow's lifetime ends, then `timed-out` with advice.
 *
 * @example
 * const [report] = await buildStatusReports(defs, store, 'Salesforce')
 */
export async function buildStatusReports(
  defs: Definitions,
  store: Store,
  name?: string,
  options: StatusOptions = {},
): Promise<StatusReport[]> {
  const now = options.now ?? Date.now()
  let ncs = [...defs.namedCredentials.values()]
  if (name !== undefined) {
    ncs = ncs.filter((nc) => nc.name === name)
    if (ncs.length === 0) throw credentialNotFound(name, defs.namedCredentials.keys())
  }
  ncs.sort((a, b) => a.name.localeCompare(b.name))
  return Promise.all(ncs.map((nc) => reportFor(nc, defs, store, now, options.user)))
}

async function reportFor(
  nc: NamedCredential,
  defs: Definitions,
  store: Store,
  now: number,
  user: string | undefined,
): Promise<StatusReport> {
  const ec = defs.externalCredentials.get(nc.externalCredential)
  const base = {
    name: nc.name,
    label: nc.label,
    url: nc.url,
    enabled: nc.enabled,
    externalCredential: nc.externalCredential,
  }
  if (ec === undefined) return { ...base, protocol: 'none', principals: [] }
  const principals: PrincipalStatus[] = []
  const stored =
    ec.protocol === 'oauth2' ? await store.listCredentials({ externalCredential: ec.name }) : []
  const flows =
    ec.protocol === 'oauth2' && ec.flow === 'browser'
      ? await store.listPendingFlows({ externalCredential: ec.name })
      : []
  const provider =
    ec.authProvider === undefined ? undefined : defs.authProviders.get(ec.authProvider)
  for (const p of [...ec.principals].sort((a, b) => a.sequence - b.sequence)) {
    if (ec.protocol !== 'oauth2') {
      principals.push({
        principal: p.name,
        type: p.type,
        status: 'authenticated',
        summary: `Uses ${ec.protocol} credentials; no token to refresh`,
      })
      continue
    }
    const ours = (userId: string): boolean =>
      user === undefined || p.type !== 'per-user' || userId === user
    const mine = stored.filter((c) => c.principal === p.name && ours(c.userId))
    // The newest flow of each user (flows are listed newest first).
    const latest = new Map<string, PendingFlow>()
    for (const f of flows)
      if (f.principal === p.name && ours(f.userId) && !latest.has(f.userId)) latest.set(f.userId, f)
    const before = principals.length
    for (const c of mine) {
      const status = principalStatus(c, ec, p.type, provider, now)
      const flow = latest.get(c.userId)
      latest.delete(c.userId)
      principals.push(
        flow !== undefined && status.status !== 'authenticated' && flow.createdAt > lastActivity(c)
          ? { ...status, ...flowStatus(flow, provider, now) }
          : status,
      )
    }
    for (const flow of latest.values()) {
      principals.push({
        principal: p.name,
        type: p.type,
        ...(p.type === 'per-user' ? { userId: flow.userId } : {}),
        ...flowStatus(flow, provider, now),
      })
    }
    if (principals.length === before) {
      principals.push({
        principal: p.name,
        type: p.type,
        status: 'not-configured',
        summary:
          ec.flow === 'browser'
            ? p.type === 'per-user'
              ? 'No user has authenticated yet'
              : `Not authenticated: run callout auth ${nc.name}`
            : 'Not yet used: a token is obtained on the first callout',
      })
    }
  }
  return {
    ...base,
    protocol: ec.protocol,
    ...(ec.flow === undefined ? {} : { flow: ec.flow }),
    principals,
  }
}

/** The last time the credential changed because of a token or a failed token request. */
function lastActivity(c: PrincipalCredential): number {
  return Math.max(c.issuedAt ?? 0, c.lastRefreshAt ?? 0, c.lastError?.at ?? 0)
}

/** A principal's status while a browser flow is out: pending, or timed out with advice. */
function flowStatus(
  flow: PendingFlow,
  provider: AuthProvider | undefined,
  now: number,
): Pick<PrincipalStatus, 'status' | 'summary' | 'advice' | 'flowStartedAt' | 'flowExpiresAt'> {
  const started = new Date(flow.createdAt).toISOString()
  const times = { flowStartedAt: flow.createdAt, flowExpiresAt: flow.expiresAt }
  if (now < flow.expiresAt) {
    return {
      status: 'pending',
      summary: `Authentication in progress (started ${started}; times out ${new Date(flow.expiresAt).toISOString()})`,
      ...times,
    }
  }
  return {
    status: 'timed-out',
    summary: `Authentication timed out: the login started ${started} never came back to the callback`,
    advice:
      provider?.type === 'salesforce' ? salesforceAdvice('flow_timeout') : FLOW_TIMEOUT_ADVICE,
    ...times,
  }
}

function principalStatus(
  c: PrincipalCredential,
  ec: ExternalCredential,
  type: 'named' | 'per-user',
  provider: AuthProvider | undefined,
  now: number,
): PrincipalStatus {
  const expiry = effectiveExpiresAt(c, sessionTimeoutFor(ec, provider))
  // What the next callout meets: a browser-flow session that has expired with no refresh token
  // to renew it fails with NEEDS_REAUTH, whatever the stored status says.
  const dead =
    c.status === 'authenticated' &&
    ec.flow === 'browser' &&
    c.refreshToken === undefined &&
    expiry !== undefined &&
    now >= expiry
  const status: CredentialStatus = dead ? 'needs-reauth' : c.status
  const expiresAt = status === 'authenticated' ? expiry : undefined
  const username = c.identity?.username
  const reason = c.lastError?.code ?? 'invalid_grant'
  const summary =
    status === 'authenticated'
      ? username !== undefined
        ? `Authenticated as ${username}`
        : 'Authenticated'
      : dead
        ? 'Needs re-authentication (the session expired and no refresh token is stored)'
        : status === 'needs-reauth'
          ? `Needs re-authentication${reason === 'NEEDS_REAUTH' ? '' : ` (${reason})`}`
          : status === 'error'
            ? `Error: ${c.lastError?.code ?? 'unknown'}`
            : status === 'pending'
              ? 'Authentication in progress'
              : 'Not configured'
  return {
    principal: c.principal,
    type,
    ...(type === 'per-user' ? { userId: c.userId } : {}),
    status,
    summary,
    ...(username === undefined ? {} : { username }),
    ...(c.identity?.orgId === undefined ? {} : { orgId: c.identity.orgId }),
    ...(c.instanceUrl === undefined ? {} : { instanceUrl: c.instanceUrl }),
    ...(c.scope === undefined ? {} : { scope: c.scope }),
    ...(c.issuedAt === undefined ? {} : { issuedAt: c.issuedAt }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(c.lastRefreshAt === undefined ? {} : { lastRefreshAt: c.lastRefreshAt }),
    hasRefreshToken: c.refreshToken !== undefined,
    ...(c.lastError === undefined ? {} : { lastError: { ...c.lastError } }),
  }
}
