/**
 * All OAuth state of one org: access tokens (sessions), refresh-token families, authorization
 * codes, interactive approvals and device codes. A refresh-token family is one approval: the
 * refresh token issued by one authorization and, under rotation, its successors.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_request_approve.htm&type=5
 */
import { randomBytes } from 'node:crypto'
import type { Clock } from './clock.ts'
import { randomAlnum } from './principals.ts'

/** An access token (a Salesforce session). */
export interface AccessTokenRecord {
  value: string
  userId: string
  clientId: string
  scopes: string[]
  issuedAt: number
  expiresAt: number
  revoked: boolean
  /** The refresh-token family it was minted from, if any. */
  familyId?: string
  /** The authorization code it was minted from, if any. */
  code?: string
}

/** A refresh token. `rotated` tokens were replaced under rotation; reusing one revokes its family. */
export interface RefreshTokenRecord {
  value: string
  familyId: string
  userId: string
  clientId: string
  scopes: string[]
  issuedAt: number
  lastUsedAt: number
  state: 'active' | 'rotated' | 'revoked'
}

/** One approval: a refresh token and its rotated successors. */
export interface RefreshFamily {
  id: string
  userId: string
  clientId: string
  createdAt: number
  revoked: boolean
  tokens: string[]
}

/** An authorization code (single use, 15 minutes). */
export interface AuthorizationCode {
  value: string
  clientId: string
  userId: string
  redirectUri: string
  scopes: string[]
  codeChallenge: string | undefined
  /** The authorize request's OpenID Connect `nonce`, echoed in the `id_token`. */
  nonce: string | undefined
  expiresAt: number
  used: boolean
  /** Access tokens and refresh family minted from it (revoked on replay). */
  accessTokens: string[]
  familyId: string | undefined
}

/** A device authorization (device flow). */
export interface DeviceAuthorization {
  deviceCode: string
  userCode: string
  clientId: string
  scopes: string[]
  expiresAt: number
  status: 'pending' | 'approved' | 'denied' | 'consumed'
  userId: string | undefined
  lastPollAt: number | undefined
}

/** Approvals a user may hold per connected app; the oldest is revoked beyond this. */
export const MAX_APPROVALS_PER_APP = 5

const CODE_TTL_MS = 15 * 60_000
const DEVICE_TTL_MS = 10 * 60_000

/** The OAuth state of one org. */
export class TokenStore {
  readonly #access = new Map<string, AccessTokenRecord>()
  readonly #refresh = new Map<string, RefreshTokenRecord>()
  readonly #families = new Map<string, RefreshFamily>()
  readonly #codes = new Map<string, AuthorizationCode>()
  readonly #devices = new Map<string, DeviceAuthorization>()
  readonly #approvals = new Set<string>()
  readonly #orgId15: string
  readonly #clock: Clock

  constructor(orgId: string, clock: Clock) {
    this.#orgId15 = orgId.slice(0, 15)
    this.#clock = clock
  }

  /** Mints an access token shaped `00D<org15>!<opaque>` (never JWT-shaped). */
  issueAccessToken(input: {
    userId: string
    clientId: string
    scopes: string[]
    ttlMs: number
    familyId?: string
    code?: string
  }): AccessTokenRecord {
    const now = this.#clock.now()
    const record: AccessTokenRecord = {
      value: `${this.#orgId15}!AQ${randomBytes(72).toString('base64url')}`,
      userId: input.userId,
      clientId: input.clientId,
      scopes: [...input.scopes],
      issuedAt: now,
      expiresAt: now + input.ttlMs,
      revoked: false,
    }
    if (input.familyId !== undefined) record.familyId = input.familyId
    if (input.code !== undefined) record.code = input.code
    this.#access.set(record.value, record)
    return record
  }

  /** The access token record, whether or not it is still valid. */
  findAccessToken(value: string): AccessTokenRecord | undefined {
    return this.#access.get(value)
  }

  /** The access token record if it is valid now (not revoked or expired). */
  validAccessToken(value: string): AccessTokenRecord | undefined {
    const record = this.#access.get(value)
    if (record === undefined || record.revoked || this.#clock.now() >= record.expiresAt)
      return undefined
    return record
  }

  /**
   * Starts a new refresh-token family (one approval). A user holding {@link MAX_APPROVALS_PER_APP}
   * approvals of the app loses the oldest.
   */
  issueRefreshFamily(input: {
    userId: string
    clientId: string
    scopes: string[]
  }): RefreshTokenRecord {
    const live = [...this.#families.values()]
      .filter((f) => !f.revoked && f.userId === input.userId && f.clientId === input.clientId)
      .sort((a, b) => a.createdAt - b.createdAt)
    for (const family of live.slice(0, Math.max(0, live.length - (MAX_APPROVALS_PER_APP - 1)))) {
      this.revokeFamily(family.id)
    }
    const family: RefreshFamily = {
      id: randomBytes(12).toString('hex'),
      userId: input.userId,
      clientId: input.clientId,
      createdAt: this.#clock.now(),
      revoked: false,
      tokens: [],
    }
    this.#families.set(family.id, family)
    return this.#newRefreshToken(family, input.scopes)
  }

  /** Replaces `record` with a new refresh token of the same family (rotation). */
  rotate(record: RefreshTokenRecord): RefreshTokenRecord {
    const family = this.#families.get(record.familyId)
    if (family === undefined) throw new Error('unknown refresh token family')
    record.state = 'rotated'
    return this.#newRefreshToken(family, record.scopes)
  }

  #newRefreshToken(family: RefreshFamily, scopes: string[]): RefreshTokenRecord {
    const now = this.#clock.now()
    const record: RefreshTokenRecord = {
      value: `5Aep861${randomAlnum(80)}`,
      familyId: family.id,
      userId: family.userId,
      clientId: family.clientId,
      scopes: [...scopes],
      issuedAt: now,
      lastUsedAt: now,
      state: 'active',
    }
    family.tokens.push(record.value)
    this.#refresh.set(record.value, record)
    return record
  }

  /** The refresh token record in any state. */
  findRefreshToken(value: string): RefreshTokenRecord | undefined {
    return this.#refresh.get(value)
  }

  /** The family of a refresh token. */
  family(id: string): RefreshFamily | undefined {
    return this.#families.get(id)
  }

  /** Live approvals (refresh-token families) of a user for an app, oldest first. */
  approvalsOf(userId: string, clientId: string): RefreshFamily[] {
    return [...this.#families.values()]
      .filter((f) => !f.revoked && f.userId === userId && f.clientId === clientId)
      .sort((a, b) => a.createdAt - b.createdAt)
  }

  /** Revokes every refresh token of a family and every access token minted from it. */
  revokeFamily(familyId: string): void {
    const family = this.#families.get(familyId)
    if (family === undefined) return
    family.revoked = true
    for (const value of family.tokens) {
      const token = this.#refresh.get(value)
      if (token !== undefined) token.state = 'revoked'
    }
    for (const access of this.#access.values())
      if (access.familyId === familyId) access.revoked = true
  }

  /** Revokes one access token. */
  revokeAccessToken(value: string): boolean {
    const record = this.#access.get(value)
    if (record === undefined) return false
    record.revoked = true
    return true
  }

  /** Expires one access token now; true if it existed. */
  expireAccessToken(value: string): boolean {
    const record = this.#access.get(value)
    if (record === undefined) return false
    record.expiresAt = Math.min(record.expiresAt, this.#clock.now())
    return true
  }

  /** Expires every access token (all sessions) now. */
  expireAllAccessTokens(): number {
    const now = this.#clock.now()
    let n = 0
    for (const record of this.#access.values()) {
      if (record.expiresAt > now) {
        record.expiresAt = now
        n++
      }
    }
    return n
  }

  /** Revokes every refresh-token family (and their access tokens). */
  revokeAllRefreshTokens(): number {
    let n = 0
    for (const family of this.#families.values()) {
      if (!family.revoked) {
        this.revokeFamily(family.id)
        n++
      }
    }
    return n
  }

  /** Records that a user approved an app interactively. */
  approve(userId: string, clientId: string): void {
    this.#approvals.add(`${userId} ${clientId}`)
  }

  /** Whether a user approved an app interactively before. */
  hasApproved(userId: string, clientId: string): boolean {
    return this.#approvals.has(`${userId} ${clientId}`)
  }

  /** Creates an authorization code. */
  createCode(
    input: Omit<AuthorizationCode, 'value' | 'expiresAt' | 'used' | 'accessTokens' | 'familyId'>,
  ): AuthorizationCode {
    const code: AuthorizationCode = {
      ...input,
      value: `aPrx${randomAlnum(60)}`,
      expiresAt: this.#clock.now() + CODE_TTL_MS,
      used: false,
      accessTokens: [],
      familyId: undefined,
    }
    this.#codes.set(code.value, code)
    return code
  }

  /** The code record in any state. */
  findCode(value: string): AuthorizationCode | undefined {
    return this.#codes.get(value)
  }

  /** Whether a code has expired. */
  codeExpired(code: AuthorizationCode): boolean {
    return this.#clock.now() >= code.expiresAt
  }

  /** Revokes everything minted from a code (on replay, per RFC 6749 §4.1.2). */
  revokeCodeTokens(code: AuthorizationCode): void {
    for (const value of code.accessTokens) this.revokeAccessToken(value)
    if (code.familyId !== undefined) this.revokeFamily(code.familyId)
  }

  /** Starts a device authorization. */
  createDevice(clientId: string, scopes: string[]): DeviceAuthorization {
    const device: DeviceAuthorization = {
      deviceCode: `M2Zk${randomAlnum(60)}`,
      userCode: randomAlnum(8)
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, 'X'),
      clientId,
      scopes,
      expiresAt: this.#clock.now() + DEVICE_TTL_MS,
      status: 'pending',
      userId: undefined,
      lastPollAt: undefined,
    }
    this.#devices.set(device.deviceCode, device)
    return device
  }

  /** A device authorization by device code. */
  findDevice(deviceCode: string): DeviceAuthorization | undefined {
    return this.#devices.get(deviceCode)
  }

  /** A pending device authorization by user code (case-insensitive). */
  findDeviceByUserCode(userCode: string): DeviceAuthorization | undefined {
    const wanted = userCode.trim().toUpperCase()
    for (const device of this.#devices.values()) {
      if (device.userCode === wanted && device.status === 'pending' && !this.deviceExpired(device))
        return device
    }
    return undefined
  }

  /** Whether a device authorization has expired. */
  deviceExpired(device: DeviceAuthorization): boolean {
    return this.#clock.now() >= device.expiresAt
  }
}
