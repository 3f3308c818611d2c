/**
 * Per-user connect links: an admin mints a short-lived, single-use link for one end user of a
 * per-user principal; the user opens it on the setup console of `callout serve`, which starts
 * the browser flow for that user and binds it to the browser that opened the link. The link
 * token is random (256 bits); the store keeps only its SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Clock } from '../clock.ts'
import type { Definitions } from '../definitions/model.ts'
import { isOrigin } from '../definitions/schema.ts'
import { CalloutError } from '../errors.ts'
import { auditOf, type AuditedWrite, type ChangeAudit } from '../store/admin.ts'
import type { ConnectLink, Store } from '../store/types.ts'
import { browserTarget } from './browser-authorization.ts'

/** Defaults and bounds of connect links. */
export const CONNECT_LINK_DEFAULTS = Object.freeze({
  /** How long a link stays valid when `expiresIn` is not given: 15 minutes. */
  expiresInSeconds: 15 * 60,
  /** The shortest lifetime accepted: 1 minute. */
  minExpiresInSeconds: 60,
  /** The longest lifetime accepted: 24 hours (a link is a login invitation; keep it short). */
  maxExpiresInSeconds: 24 * 60 * 60,
})

/** The console path a connect link opens (`<console origin>/connect/<token>`). */
export const CONNECT_PATH = '/connect/'

/** A link token: `cl_` and 43 base64url characters (256 random bits). */
const TOKEN = /^cl_[A-Za-z0-9_-]{43}$/

/** Options of `broker.connectUrl`. */
export interface ConnectUrlOptions {
  /** The end user the link connects (the `user` of later callouts). Required. */
  readonly user: string
  /**
   * How long the link stays valid: seconds as a number, or a duration such as `90s`, `15m`,
   * `2h`, `1d`. Default 15 minutes; 1 minute to 24 hours.
   */
  readonly expiresIn?: number | string
  /**
   * The origin browsers reach the setup console at (`callout serve --public-url`). Default: the
   * `consoleUrl` given to `openBroker`, else `CALLOUT_CONSOLE_URL`.
   */
  readonly consoleUrl?: string
  /** Who mints the link, as recorded with it (default `library`). */
  readonly createdBy?: string
  /**
   * An audit entry (the console, the admin API and `callout connect-link` pass one), made from
   * the link and stored in the same transaction as it: the link and its entry are stored
   * together or not at all.
   */
  readonly audit?: ChangeAudit<Omit<MintedConnectLink, 'url'>>
}

/** A minted connect link: the URL to hand to the user (once) and when it expires. */
export interface MintedConnectLink {
  readonly url: string
  /** ms since epoch. */
  readonly expiresAt: number
  readonly namedCredential: string
  readonly user: string
}

/** What minting and opening connect links needs. */
export interface ConnectLinkDeps {
  readonly store: Store
  readonly clock: Clock
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 }

/**
 * Parses a connect link lifetime: seconds as a number, or a duration (`90s`, `15m`, `2h`, `1d`),
 * within {@link CONNECT_LINK_DEFAULTS}. `label` names the option in the message (`expiresIn`,
 * `--expires`).
 *
 * @example
 * parseExpiresIn('15m') // 900
 * parseExpiresIn(3600) // 3600
 */
export function parseExpiresIn(value: number | string | undefined, label = 'expiresIn'): number {
  if (value === undefined) return CONNECT_LINK_DEFAULTS.expiresInSeconds
  let seconds: number | undefined
  if (typeof value === 'number') seconds = Number.isSafeInteger(value) ? value : undefined
  else if (typeof value === 'string') {
    const match = /^(\d{1,7})([smhd])$/.exec(value.trim())
    if (match !== null) seconds = Number(match[1]) * UNIT_SECONDS[match[2]!]!
  }
  const { minExpiresInSeconds: min, maxExpiresInSeconds: max } = CONNECT_LINK_DEFAULTS
  if (seconds === undefined || seconds < min || seconds > max) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `${label} ${JSON.stringify(value)} is not a connect link lifetime: write a duration from 1 minute to 24 hours, e.g. 90s, 15m, 2h or 1d${label === 'expiresIn' ? ' (or a number of seconds)' : ''}.`,
      { details: { field: label } },
    )
  }
  return seconds
}

/**
 * The console origin of a connect link: an http(s) origin, or `CONSOLE_URL_MISSING` saying how
 * to configure one.
 */
function consoleOrigin(consoleUrl: string | undefined): string {
  if (consoleUrl === undefined || consoleUrl === '') {
    throw new CalloutError(
      'CONSOLE_URL_MISSING',
      'A connect link opens on the setup console of callout serve, and its origin is not configured: pass consoleUrl (the origin given to callout serve --public-url, e.g. https://callout.example.com) to broker.connectUrl or openBroker, or set CALLOUT_CONSOLE_URL.',
    )
  }
  if (!isOrigin(consoleUrl)) {
    throw new CalloutError(
      'CONSOLE_URL_MISSING',
      `The console URL ${JSON.stringify(consoleUrl)} is not an origin: write scheme, host and optional port only, e.g. https://callout.example.com (the origin given to callout serve --public-url).`,
    )
  }
  return new URL(consoleUrl).origin
}

/**
 * SHA-256 (hex) of a link token or browser cookie: what the store keeps.
 *
 * @example
 * hashToken('cl_…') // '9f86d0…'
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** The link token of a `/connect/<token>` path segment, or undefined when it is not one. */
export function linkTokenOf(segment: string): string | undefined {
  return TOKEN.test(segment) ? segment : undefined
}

/**
 * Mints a connect link for `options.user` of the per-user principal of Named Credential `name`:
 * checks the credential (oauth2, browser flow, a per-user principal), the user and the
 * lifetime, stores the token's SHA-256, and returns the URL on the console.
 *
 * @throws CalloutError `CREDENTIAL_NOT_FOUND`, `USER_REQUIRED`, `INVALID_ARGUMENT` (not a
 *   per-user browser-flow credential, a bad lifetime), `CONSOLE_URL_MISSING`.
 * @example
 * const { url } = await mintConnectLink(defs, 'Crm', { user: 'alice', consoleUrl }, deps)
 */
export async function mintConnectLink(
  defs: Definitions,
  name: string,
  options: ConnectUrlOptions,
  deps: ConnectLinkDeps,
): Promise<MintedConnectLink> {
  const user = typeof options.user === 'string' ? options.user.trim() : ''
  if (user === '') {
    throw new CalloutError(
      'USER_REQUIRED',
      `A connect link connects one end user: name the user (connectUrl(${JSON.stringify(name)}, { user })).`,
      { details: { field: 'user' } },
    )
  }
  if (user.length > 255 || /[\u0000-\u001f\u007f]/.test(user)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      'The user must be at most 255 characters, without control characters.',
      { details: { field: 'user' } },
    )
  }
  const target = browserTarget(defs, name, { user })
  if (target.principal.type !== 'per-user') {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `Named Credential ${target.namedCredential.name} authenticates as one named principal (${target.principal.name}), not per user: a connect link is only for per-user principals. Authenticate it with callout auth ${target.namedCredential.name} or the console's Authenticate button.`,
      { details: { namedCredential: target.namedCredential.name } },
    )
  }
  const seconds = parseExpiresIn(options.expiresIn)
  const origin = consoleOrigin(options.consoleUrl)
  const token = `cl_${randomBytes(32).toString('base64url')}`
  const now = deps.clock.now()
  const expiresAt = now + seconds * 1000
  const minted = { expiresAt, namedCredential: target.namedCredential.name, user }
  await deps.store.putConnectLink(
    {
      idHash: hashToken(token),
      namedCredential: target.namedCredential.name,
      externalCredential: target.externalCredential.name,
      principal: target.principal.name,
      userId: user,
      createdBy: options.createdBy ?? 'library',
      createdAt: now,
      expiresAt,
    },
    options.audit === undefined ? {} : { audit: auditOf(options.audit, minted) },
  )
  return { url: `${origin}${CONNECT_PATH}${token}`, ...minted }
}

/**
 * The unused, unexpired link for `token`, or the error to show: `CONNECT_LINK_NOT_FOUND` (404),
 * `CONNECT_LINK_USED` or `CONNECT_LINK_EXPIRED` (410). Reading changes nothing.
 *
 * @example
 * const link = await usableConnectLink(token, deps)
 */
export async function usableConnectLink(
  token: string | undefined,
  deps: ConnectLinkDeps,
): Promise<ConnectLink> {
  const link = token === undefined ? undefined : await deps.store.getConnectLink(hashToken(token))
  if (link === undefined) throw connectLinkError('unknown')
  if (link.usedAt !== undefined) throw connectLinkError('used')
  if (link.expiresAt <= deps.clock.now()) throw connectLinkError('expired')
  return link
}

/**
 * Opens a link once, binding it to the browser cookie whose SHA-256 is `browserHash`; the error
 * of {@link usableConnectLink} when another opening won, or it expired meanwhile. With `audit`,
 * the opening and its entry are stored in one transaction (or neither).
 *
 * @example
 * const link = await useConnectLink(token, hashToken(cookie), deps)
 */
export async function useConnectLink(
  token: string,
  browserHash: string,
  deps: ConnectLinkDeps,
  options: AuditedWrite<ConnectLink> = {},
): Promise<ConnectLink> {
  const use = await deps.store.useConnectLink(
    hashToken(token),
    browserHash,
    deps.clock.now(),
    options,
  )
  if (!use.ok) throw connectLinkError(use.reason)
  return use.link
}

function connectLinkError(reason: 'unknown' | 'used' | 'expired'): CalloutError {
  const ask = 'Ask the administrator who sent it for a new connect link.'
  if (reason === 'used') {
    return new CalloutError(
      'CONNECT_LINK_USED',
      `This connect link has already been used; each link works once, in the browser that opened it. ${ask}`,
    )
  }
  if (reason === 'expired') {
    return new CalloutError('CONNECT_LINK_EXPIRED', `This connect link has expired. ${ask}`)
  }
  return new CalloutError(
    'CONNECT_LINK_NOT_FOUND',
    `This connect link is not known here (mistyped or cut short, or expired long ago). ${ask}`,
  )
}
