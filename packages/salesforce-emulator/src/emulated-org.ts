/**
 * The public handle of one emulated org: its URLs, users, connected apps, data, Apex routes and
 * fault switches, plus helpers that mint tokens without HTTP.
 */
import type { OrgData } from './data/org-data.ts'
import type { FaultSwitches } from './org/fault-switches.ts'
import { grantsRefreshToken, mintAccessToken, tokenResponse } from './oauth/token-response.ts'
import type { OrgState } from './org/org-state.ts'
import type { ConnectedApp, OrgUser } from './org/principals.ts'
import type { ApexHandler } from './org/apex-routes.ts'
import type { CustomFieldDef, CustomObjectDef } from './data/org-data.ts'
import type { ConnectedAppSeed, UserSeed } from './seed/seed-types.ts'
import {
  createConnectedApp,
  createCustomField,
  createCustomObject,
  createUser,
} from './org/org-setup.ts'

/** A user of an emulated org, with its login password. */
export interface EmulatedUser {
  username: string
  password: string
  /** 18-character `005…` id. */
  userId: string
  name: string
  email: string
  active: boolean
}

/** A connected app of an emulated org, with its secret. */
export interface EmulatedConnectedApp {
  name: string
  consumerKey: string
  consumerSecret: string
  callbackUrls: string[]
  scopes: string[]
}

/** Tokens minted directly by {@link EmulatedOrg.issueTokens}, shaped like a token response. */
export interface IssuedTokens {
  accessToken: string
  refreshToken: string | undefined
  instanceUrl: string
  /** The identity URL. */
  id: string
  /** The full token response body. */
  response: Record<string, string>
}

function publicUser(u: OrgUser): EmulatedUser {
  return {
    username: u.username,
    password: u.password,
    userId: u.id,
    name: u.name,
    email: u.email,
    active: u.active,
  }
}

function publicApp(a: ConnectedApp): EmulatedConnectedApp {
  return {
    name: a.name,
    consumerKey: a.consumerKey,
    consumerSecret: a.consumerSecret,
    callbackUrls: [...a.callbackUrls],
    scopes: [...a.scopes],
  }
}

/** One emulated org. */
export class EmulatedOrg {
  readonly #state: OrgState

  /** @internal Built by `startEmulator`. */
  constructor(state: OrgState) {
    this.#state = state
  }

  /** The org's name in the seed. */
  get name(): string {
    return this.#state.name
  }

  /** The 18-character `00D…` organization id. */
  get orgId(): string {
    return this.#state.orgId
  }

  /** The instance origin (`http://127.0.0.1:<port>`, no trailing slash): REST API and OAuth. */
  get instanceUrl(): string {
    return this.#state.origins.instanceUrl
  }

  /** The login origin (the instance origin unless `separateLoginOrigin`). */
  get loginUrl(): string {
    return this.#state.origins.loginUrl
  }

  /** The Lightning origin (302s everything to the instance), when enabled. */
  get lightningUrl(): string | undefined {
    return this.#state.origins.lightningUrl
  }

  /** The users, with passwords (a fresh copy on each read). */
  get users(): EmulatedUser[] {
    return this.#state.users.map(publicUser)
  }

  /** The connected apps, with secrets (a fresh copy on each read). */
  get connectedApps(): EmulatedConnectedApp[] {
    return this.#state.apps.map(publicApp)
  }

  /** The record store (insert and read records directly). */
  get data(): OrgData {
    return this.#state.data
  }

  /** This org's fault switches. */
  get faults(): FaultSwitches {
    return this.#state.faults
  }

  /** API requests counted so far (the `used` of `Sforce-Limit-Info`). */
  get apiUsage(): number {
    return this.#state.apiUsage
  }

  /** A user by username, or the first user. */
  user(username?: string): EmulatedUser {
    const user =
      username === undefined ? this.#state.users[0] : this.#state.userByUsername(username)
    if (user === undefined) throw new Error(`org ${this.name} has no user ${username ?? ''}`)
    return publicUser(user)
  }

  /** A connected app by name, or the first app. */
  connectedApp(name?: string): EmulatedConnectedApp {
    const app = name === undefined ? this.#state.apps[0] : this.#state.appByName(name)
    if (app === undefined) throw new Error(`org ${this.name} has no connected app ${name ?? ''}`)
    return publicApp(app)
  }

  /**
   * Adds a user at run time (also a `User` record), validated like a seed entry.
   *
   * @example org.addUser({ username: 'ops@acme.example', password: 'S3cret!' })
   * @throws {SeedError} `INVALID_SEED` naming the bad property, or `DUPLICATE_DEFINITION` for a
   *   username the org already has.
   */
  addUser(seed: UserSeed): EmulatedUser {
    return publicUser(createUser(this.#state, seed, 'user'))
  }

  /**
   * Adds a connected app at run time, validated like a seed entry: consumer key and secret
   * (generated when omitted), callback URLs, scopes, a certificate for the JWT bearer flow, the
   * refresh-token policy and the other seed options.
   *
   * @example org.addConnectedApp({ name: 'Sync', callbackUrls: ['https://app.example/cb'], refreshTokenPolicy: { kind: 'expire-after', seconds: 3600 } })
   * @throws {SeedError} `INVALID_SEED` naming the bad property (or an unknown
   *   `clientCredentialsUser`), or `DUPLICATE_DEFINITION` for a name or key the org already has.
   */
  addConnectedApp(seed: ConnectedAppSeed): EmulatedConnectedApp {
    return publicApp(createConnectedApp(this.#state, seed, 'connectedApp'))
  }

  /**
   * Adds a custom field to an sObject at run time, standard objects included; returns its
   * describe entry. Existing records read the new field as null.
   *
   * @example org.addCustomField('Account', { name: 'External_Id__c', type: 'string', externalId: true, unique: true })
   * @throws {SeedError} `INVALID_SEED` for a bad definition or an unknown sObject,
   *   `DUPLICATE_DEFINITION` for a field the object already has.
   */
  addCustomField(sobject: string, field: CustomFieldDef): Record<string, unknown> {
    return createCustomField(this.#state, sobject, field, 'customField')
  }

  /**
   * Adds a custom object (`Foo__c`) at run time; returns its describe-global summary.
   *
   * @throws {SeedError} `INVALID_SEED` for a bad definition, `DUPLICATE_DEFINITION` for an
   *   sObject the org already has.
   */
  addCustomObject(object: CustomObjectDef): Record<string, unknown> {
    return createCustomObject(this.#state, object, 'customObject')
  }

  /** Activates or deactivates a user (inactive users get `inactive_user`). */
  setUserActive(username: string, active: boolean): void {
    const user = this.#state.userByUsername(username)
    if (user === undefined) throw new Error(`org ${this.name} has no user ${username}`)
    user.active = active
  }

  /** Live approvals (refresh tokens) a user holds for an app; at most five. */
  approvals(username?: string, appName?: string): number {
    const user = this.user(username)
    const app = this.connectedApp(appName)
    return this.#state.tokens.approvalsOf(user.userId, app.consumerKey).length
  }

  /**
   * Registers an Apex REST route under `/services/apexrest`.
   *
   * @example org.registerApexRoute('GET', '/Hello/*', (req) => ({ body: { hello: req.user.username } }))
   */
  registerApexRoute(method: string, path: string, handler: ApexHandler): void {
    this.#state.registerApexRoute(method, path, handler)
  }

  /**
   * Mints tokens without going through HTTP, as if the user had completed the authorization code
   * flow (a refresh token when the scopes include `refresh_token`/`offline_access`).
   */
  issueTokens(options: { username?: string; app?: string; scopes?: string[] } = {}): IssuedTokens {
    const state = this.#state
    const user = state.userByUsername(this.user(options.username).username)!
    const app = state.appByName(this.connectedApp(options.app).name)!
    const scopes = options.scopes ?? [...app.scopes]
    let refreshToken: string | undefined
    let familyId: string | undefined
    if (grantsRefreshToken(scopes)) {
      const refresh = state.tokens.issueRefreshFamily({
        userId: user.id,
        clientId: app.consumerKey,
        scopes,
      })
      refreshToken = refresh.value
      familyId = refresh.familyId
    }
    const access = mintAccessToken(
      state,
      app,
      user,
      scopes,
      familyId === undefined ? {} : { familyId },
    )
    const response = tokenResponse(
      state,
      app,
      access,
      refreshToken === undefined ? {} : { refreshToken },
    )
    return {
      accessToken: access.value,
      refreshToken,
      instanceUrl: response['instance_url'] ?? state.origins.instanceUrl,
      id: response['id'] ?? '',
      response,
    }
  }
}
