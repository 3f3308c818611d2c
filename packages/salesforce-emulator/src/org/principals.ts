/**
 * The runtime forms of users and connected apps: seeds with every default filled in, ids and
 * secrets generated.
 */
import { randomBytes } from 'node:crypto'
import type { RefreshTokenPolicy } from '../seed/seed-types.ts'

/** A user of an emulated org, as the emulator holds it. */
export interface OrgUser {
  /** 18-character `005…` id. */
  id: string
  username: string
  password: string
  name: string
  email: string
  profile: string
  active: boolean
}

/** A connected app of an emulated org, as the emulator holds it. */
export interface ConnectedApp {
  name: string
  consumerKey: string
  consumerSecret: string
  callbackUrls: string[]
  scopes: string[]
  pkceRequired: boolean
  requireSecret: boolean
  requireSecretForRefresh: boolean
  refreshTokenPolicy: RefreshTokenPolicy
  rotation: boolean
  /** Rotation as configured (what `faults.reset()` restores). */
  configuredRotation: boolean
  certificate: string | undefined
  adminPreAuthorized: boolean
  clientCredentialsUser: string | undefined
  deviceFlow: boolean
}

/** The scopes of the generated default connected app. */
export const DEFAULT_SCOPES: readonly string[] = Object.freeze([
  'api',
  'refresh_token',
  'full',
  'openid',
  'web',
  'id',
  'offline_access',
])

/** Callback URLs of the generated default connected app. */
export const DEFAULT_CALLBACK_URLS: readonly string[] = Object.freeze([
  'http://127.0.0.1/callback',
  'http://localhost:1717/OauthRedirect',
])

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** `n` random characters from `[0-9A-Za-z._]`-free alphanumerics. */
export function randomAlnum(n: number): string {
  const bytes = randomBytes(n * 2)
  let out = ''
  for (let i = 0; i < bytes.length && out.length < n; i++) {
    const b = bytes[i] ?? 0
    if (b < 248) out += ALNUM[b % 62]
  }
  while (out.length < n) out += ALNUM[randomBytes(1)[0]! % 62]
  return out
}

/** A consumer key shaped like Salesforce's (`3MVG9…`, 85 characters). */
export function generateConsumerKey(): string {
  return `3MVG9${randomAlnum(80)}`
}

/** A consumer secret shaped like Salesforce's (64 upper-case hex characters). */
export function generateConsumerSecret(): string {
  return randomBytes(32).toString('hex').toUpperCase()
}

/** A generated login password. */
export function generatePassword(): string {
  return `Pw-${randomAlnum(16)}`
}
