/**
 * UI state of one org: one-time frontdoor codes (`otp`, single use, 60 seconds) and UI sessions
 * (the `sid` cookie a browser holds after a frontdoor login). Both are bounded.
 */
import { randomBytes } from 'node:crypto'
import { trim } from '../org/login-sessions.ts'
import type { OrgState } from '../org/org-state.ts'

/** How long a one-time frontdoor code stays valid. */
export const OTP_TTL_MS = 60_000
const SESSION_TTL_MS = 2 * 3600_000

/** The cookie that carries a UI session. */
export const UI_SESSION_COOKIE = 'sid'

interface Otp {
  userId: string
  startUrl: string
  createdAt: number
}

interface UiSession {
  userId: string
  createdAt: number
  /** The form token every edit form carries. */
  formToken: string
}

/** One-time codes and UI sessions of one org. */
export class UiSessions {
  readonly #otps = new Map<string, Otp>()
  readonly #sessions = new Map<string, UiSession>()
  readonly #now: () => number

  constructor(now: () => number) {
    this.#now = now
  }

  /** Issues a one-time code that logs `userId` in and lands on `startUrl`. */
  issueOtp(userId: string, startUrl: string): string {
    const otp = randomBytes(32).toString('base64url')
    this.#otps.set(otp, { userId, startUrl, createdAt: this.#now() })
    trim(this.#otps)
    return otp
  }

  /** Consumes a one-time code: the first use within 60 seconds answers its user; later uses nothing. */
  redeemOtp(otp: string): { userId: string; startUrl: string } | undefined {
    const entry = this.#otps.get(otp)
    if (entry === undefined) return undefined
    this.#otps.delete(otp)
    if (this.#now() - entry.createdAt > OTP_TTL_MS) return undefined
    return { userId: entry.userId, startUrl: entry.startUrl }
  }

  /** Starts a UI session; returns its id (the cookie value). */
  startSession(userId: string): string {
    const sid = randomBytes(24).toString('base64url')
    this.#sessions.set(sid, {
      userId,
      createdAt: this.#now(),
      formToken: randomBytes(24).toString('base64url'),
    })
    trim(this.#sessions)
    return sid
  }

  /** The live session named by a cookie value, or undefined. */
  session(sid: string | undefined): { userId: string; formToken: string } | undefined {
    if (sid === undefined) return undefined
    const s = this.#sessions.get(sid)
    if (s === undefined || this.#now() - s.createdAt > SESSION_TTL_MS) return undefined
    return s
  }
}

const perOrg = new WeakMap<OrgState, UiSessions>()

/** The UI state of `org` (created on first use, on the org's clock). */
export function uiSessions(org: OrgState): UiSessions {
  let found = perOrg.get(org)
  if (found === undefined) {
    found = new UiSessions(() => org.clock.now())
    perOrg.set(org, found)
  }
  return found
}

/**
 * Whether `target` is a path on this org (`/…`, not `//host`, no scheme, no CR/LF or backslash):
 * the only kind of `startURL`/`retURL` the emulator redirects to.
 */
export function isOrgPath(target: string): boolean {
  return (
    target.startsWith('/') &&
    !target.startsWith('//') &&
    !/[\\\r\n\t\0]/.test(target) &&
    !/^\/[^/]*:/.test(target.split('?')[0] ?? '')
  )
}
