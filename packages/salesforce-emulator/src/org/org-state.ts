/**
 * One emulated org at run time: its identity, users, connected apps, OAuth state, data, Apex
 * routes and fault switches. The HTTP layer reads and mutates it; nothing here does I/O.
 */
import type { CustomFieldDef, CustomObjectDef, DataUser, OrgData } from '../data/org-data.ts'
import { makeId } from '../data/ids.ts'
import type { RequestLog } from './request-log.ts'
import { OrgFaults } from './org-faults.ts'
import { LoginSessions } from './login-sessions.ts'
import { TokenStore } from './token-store.ts'
import { ApexRoutes, type ApexHandler } from './apex-routes.ts'
import type { ConnectedAppSeed, OrgSeed, UserSeed } from '../seed/seed-types.ts'
import type { Clock } from './clock.ts'
import { SigningKey } from './signing-key.ts'
import {
  DEFAULT_CALLBACK_URLS,
  DEFAULT_SCOPES,
  generateConsumerKey,
  generateConsumerSecret,
  generatePassword,
  type ConnectedApp,
  type OrgUser,
} from './principals.ts'

/** Origins of an org, known once its listeners are bound. */
export interface OrgOrigins {
  instanceUrl: string
  loginUrl: string
  lightningUrl: string | undefined
}

let orgCounter = 0
let userCounter = 0

/** Builds the runtime user from a seed. */
export function toOrgUser(seed: UserSeed): OrgUser {
  const local = seed.username.split('@')[0] ?? seed.username
  const name =
    seed.name ??
    local
      .split(/[._-]+/)
      .filter(Boolean)
      .map((p) => p[0]!.toUpperCase() + p.slice(1))
      .join(' ')
  return {
    id: makeId('005', ++userCounter),
    username: seed.username,
    password: seed.password ?? generatePassword(),
    name: name === '' ? seed.username : name,
    email: seed.email ?? seed.username,
    profile: seed.profile ?? 'System Administrator',
    active: seed.active ?? true,
  }
}

/** Builds the runtime connected app from a seed. */
export function toConnectedApp(seed: ConnectedAppSeed, defaultApp = false): ConnectedApp {
  return {
    name: seed.name,
    consumerKey: seed.consumerKey ?? generateConsumerKey(),
    consumerSecret: seed.consumerSecret ?? generateConsumerSecret(),
    callbackUrls: [...seed.callbackUrls],
    scopes: [...(seed.scopes ?? DEFAULT_SCOPES)],
    pkceRequired: seed.pkceRequired ?? false,
    requireSecret: seed.requireSecret ?? true,
    requireSecretForRefresh: seed.requireSecretForRefresh ?? false,
    refreshTokenPolicy: seed.refreshTokenPolicy ?? { kind: 'until-revoked' },
    rotation: seed.rotation ?? false,
    configuredRotation: seed.rotation ?? false,
    certificate: seed.certificate,
    adminPreAuthorized: seed.adminPreAuthorized ?? true,
    clientCredentialsUser: seed.clientCredentialsUser,
    deviceFlow: seed.deviceFlow ?? defaultApp,
  }
}

/** A URL-safe slug of an org name, for default usernames and redirect hosts. */
export function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'org'
  )
}

/** The run-time state of one org. */
export class OrgState {
  readonly name: string
  readonly orgId: string
  readonly isSandbox: boolean
  readonly sessionTimeoutMs: number
  readonly deviceIntervalMs: number
  readonly dailyApiLimit: number
  readonly queryBatchSize: number
  /** Largest Bulk API 2.0 CSV upload, in bytes. */
  readonly bulkUploadMaxBytes: number
  /** Rows per Bulk API 2.0 query result page when the request names none. */
  readonly bulkQueryPageSize: number
  readonly customObjects: CustomObjectDef[]
  readonly customFields: Record<string, CustomFieldDef[]>
  readonly seedRecords: Record<string, Record<string, unknown>[]>
  readonly users: OrgUser[]
  readonly apps: ConnectedApp[]
  readonly tokens: TokenStore
  readonly faults: OrgFaults
  readonly sessions: LoginSessions
  readonly apex = new ApexRoutes()
  readonly clock: Clock
  /** The key that signs `id_token`s; its public half is served at `/id/keys`. */
  readonly signingKey = new SigningKey()
  readonly maxBodyBytes: number
  /** API requests counted against the daily limit. */
  apiUsage = 0
  #origins: OrgOrigins | undefined
  #data: OrgData | undefined

  /** The emulator's shared request log. */
  readonly requestLog: RequestLog

  constructor(seed: OrgSeed, clock: Clock, maxBodyBytes: number, requestLog: RequestLog) {
    this.requestLog = requestLog
    this.name = seed.name
    this.orgId = makeId('00D', ++orgCounter)
    this.isSandbox = seed.isSandbox ?? false
    this.sessionTimeoutMs = (seed.sessionTimeoutSeconds ?? 7200) * 1000
    this.deviceIntervalMs = (seed.deviceFlowIntervalSeconds ?? 5) * 1000
    this.dailyApiLimit = seed.dailyApiLimit ?? 15_000
    this.queryBatchSize = seed.queryBatchSize ?? 2000
    this.bulkUploadMaxBytes = seed.bulkUploadMaxBytes ?? 100 * 1024 * 1024
    this.bulkQueryPageSize = seed.bulkQueryPageSize ?? 50_000
    this.customObjects = seed.customObjects ?? []
    this.customFields = seed.customFields ?? {}
    this.seedRecords = seed.records ?? {}
    this.clock = clock
    this.maxBodyBytes = maxBodyBytes
    const userSeeds: UserSeed[] =
      seed.users !== undefined && seed.users.length > 0
        ? seed.users
        : [
            {
              username:
                seed.name === 'default'
                  ? 'admin@callout.example'
                  : `admin@${slug(seed.name)}.callout.example`,
            },
          ]
    this.users = userSeeds.map(toOrgUser)
    const firstUser = this.users[0]!
    this.apps =
      seed.connectedApps !== undefined && seed.connectedApps.length > 0
        ? seed.connectedApps.map((a) => toConnectedApp(a))
        : [
            toConnectedApp(
              {
                name: 'Callout',
                callbackUrls: [...DEFAULT_CALLBACK_URLS],
                clientCredentialsUser: firstUser.username,
              },
              true,
            ),
          ]
    this.tokens = new TokenStore(this.orgId, clock)
    this.sessions = new LoginSessions(clock)
    this.faults = new OrgFaults(
      this.tokens,
      this.apps,
      `https://${slug(seed.name)}.my.salesforce.com`,
    )
  }

  /** Called once the listeners are bound. */
  bind(origins: OrgOrigins, data: OrgData): void {
    this.#origins = origins
    this.#data = data
  }

  /** The org's origins; throws before the listeners are bound. */
  get origins(): OrgOrigins {
    if (this.#origins === undefined) throw new Error(`org ${this.name} is not listening yet`)
    return this.#origins
  }

  /** The org's record store. */
  get data(): OrgData {
    if (this.#data === undefined) throw new Error(`org ${this.name} is not listening yet`)
    return this.#data
  }

  /** The `instance_url` token responses return (a fault may override it). */
  tokenInstanceUrl(): string {
    return this.faults.instanceUrlOverride ?? this.origins.instanceUrl
  }

  /** The identity URL of a user: `<login origin>/id/<orgId18>/<userId18>`. */
  identityUrl(userId: string): string {
    return `${this.origins.loginUrl}/id/${this.orgId}/${userId}`
  }

  /** A user by id. */
  userById(id: string): OrgUser | undefined {
    return this.users.find((u) => u.id === id)
  }

  /** A user by username (case-insensitive, as Salesforce). */
  userByUsername(username: string): OrgUser | undefined {
    const wanted = username.toLowerCase()
    return this.users.find((u) => u.username.toLowerCase() === wanted)
  }

  /** A connected app by consumer key. */
  appByKey(consumerKey: string): ConnectedApp | undefined {
    return this.apps.find((a) => a.consumerKey === consumerKey)
  }

  /** A connected app by name. */
  appByName(name: string): ConnectedApp | undefined {
    return this.apps.find((a) => a.name === name)
  }

  /** The data-layer view of a user. */
  dataUser(user: OrgUser): DataUser {
    return {
      id: user.id,
      username: user.username,
      name: user.name,
      email: user.email,
      profileName: user.profile,
    }
  }

  /** Adds a user at run time. */
  addUser(seed: UserSeed): OrgUser {
    if (this.userByUsername(seed.username) !== undefined)
      throw new Error(`user ${seed.username} already exists`)
    const user = toOrgUser(seed)
    this.users.push(user)
    this.#data?.addUser(this.dataUser(user))
    return user
  }

  /** Adds a connected app at run time. */
  addConnectedApp(seed: ConnectedAppSeed): ConnectedApp {
    if (this.appByName(seed.name) !== undefined)
      throw new Error(`connected app ${seed.name} already exists`)
    const app = toConnectedApp(seed)
    this.apps.push(app)
    return app
  }

  /** Registers an Apex REST route. */
  registerApexRoute(method: string, path: string, handler: ApexHandler): void {
    this.apex.register(method, path, handler)
  }
}
