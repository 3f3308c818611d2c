/**
 * Browser-side state of the authorize flow: login sessions (the emulator's own cookie) and
 * pending authorize transactions (the parameters of one `GET /services/oauth2/authorize`, kept
 * server-side while the login and approval pages are shown). Both are bounded.
 */
import { randomBytes } from 'node:crypto'
import type { Clock } from './clock.ts'

/** The parameters of one authorization request in progress. */
export interface AuthorizeTransaction {
  id: string
  clientId: string
  redirectUri: string
  /** `code` (web server flow) or `token` (user-agent flow; `token id_token` too). */
  responseType: 'code' | 'token'
  scopes: string[]
  state: string | undefined
  codeChallenge: string | undefined
  /** OpenID Connect `nonce`, echoed in the `id_token`. */
  nonce: string | undefined
  forceLogin: boolean
  forceConsent: boolean
  loginHint: string | undefined
  /** Set once the user has logged in during this transaction. */
  userId: string | undefined
  createdAt: number
}

const MAX_ENTRIES = 1000
const TX_TTL_MS = 15 * 60_000
const SESSION_TTL_MS = 12 * 3600_000

/** Drops the oldest entries of `map` beyond the bound every browser-state map shares. */
export function trim<V>(map: Map<string, V>): void {
  while (map.size > MAX_ENTRIES) {
    const oldest = map.keys().next().value
    if (oldest === undefined) break
    map.delete(oldest)
  }
}

/** Login sessions and authorize transactions of one org. */
export class LoginSessions {
  readonly #sessions = new Map<string, { userId: string; createdAt: number }>()
  readonly #transactions = new Map<string, AuthorizeTransaction>()
  readonly #clock: Clock

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** Starts a login session for a user; returns the session id (the cookie value). */
  startSession(userId: string): string {
    const sid = randomBytes(24).toString('base64url')
    this.#sessions.set(sid, { userId, createdAt: this.#clock.now() })
    trim(this.#sessions)
    return sid
  }

  /** The user of a live session, or undefined. */
  sessionUser(sid: string | undefined): string | undefined {
    if (sid === undefined) return undefined
    const s = this.#sessions.get(sid)
    if (s === undefined || this.#clock.now() - s.createdAt > SESSION_TTL_MS) return undefined
    return s.userId
  }

  /** Ends every login session (used when users log out or are deactivated). */
  clearSessions(): void {
    this.#sessions.clear()
  }

  /** Stores a new transaction and returns it with its id. */
  startTransaction(
    tx: Omit<AuthorizeTransaction, 'id' | 'createdAt' | 'userId'>,
  ): AuthorizeTransaction {
    const full: AuthorizeTransaction = {
      ...tx,
      id: randomBytes(18).toString('base64url'),
      userId: undefined,
      createdAt: this.#clock.now(),
    }
    this.#transactions.set(full.id, full)
    trim(this.#transactions)
    return full
  }

  /** A live transaction by id. */
  transaction(id: string | null | undefined): AuthorizeTransaction | undefined {
    if (id === null || id === undefined) return undefined
    const tx = this.#transactions.get(id)
    if (tx === undefined || this.#clock.now() - tx.createdAt > TX_TTL_MS) return undefined
    return tx
  }

  /** Ends a transaction. */
  finishTransaction(id: string): void {
    this.#transactions.delete(id)
  }
}
