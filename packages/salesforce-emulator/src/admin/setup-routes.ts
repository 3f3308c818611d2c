/**
 * The run-time Setup routes of the test-only `/_emulator` API (loopback callers only, JSON bodies):
 *
 * | method and path | body | answer |
 * |---|---|---|
 * | `GET /_emulator/connected-apps` | | `{ connectedApps: [...] }` |
 * | `POST /_emulator/connected-apps` | a connected app as in the seed | 201 the app |
 * | `GET /_emulator/users` | | `{ users: [...] }` |
 * | `POST /_emulator/users` | a user as in the seed | 201 the user |
 * | `POST /_emulator/sobjects` | a custom object as in the seed | 201 its describe-global summary |
 * | `POST /_emulator/sobjects/<Type>/fields` | a custom field | 201 its describe entry |
 *
 * Consumer secrets and passwords are in answers only with `?showSecrets=true`. A malformed body is
 * 400 `INVALID_INPUT` naming the property (`body.callbackUrls: …`); a name the org already has is
 * 409 `DUPLICATE_VALUE`.
 */
import type { Call } from '../http/call.ts'
import { sendJson } from '../http/respond.ts'
import type { ConnectedApp, OrgUser } from '../org/principals.ts'
import { SeedError } from '../seed/seed-error.ts'
import {
  createConnectedApp,
  createCustomField,
  createCustomObject,
  createUser,
} from '../org/org-setup.ts'

/** The JSON view of a connected app; the secret only when asked for. */
export function connectedAppView(app: ConnectedApp, showSecrets: boolean): Record<string, unknown> {
  return {
    name: app.name,
    consumerKey: app.consumerKey,
    ...(showSecrets ? { consumerSecret: app.consumerSecret } : {}),
    callbackUrls: [...app.callbackUrls],
    scopes: [...app.scopes],
    pkceRequired: app.pkceRequired,
    requireSecret: app.requireSecret,
    requireSecretForRefresh: app.requireSecretForRefresh,
    refreshTokenPolicy: app.refreshTokenPolicy,
    rotation: app.rotation,
    hasCertificate: app.certificate !== undefined,
    adminPreAuthorized: app.adminPreAuthorized,
    clientCredentialsUser: app.clientCredentialsUser ?? null,
    deviceFlow: app.deviceFlow,
  }
}

/** The JSON view of a user; the password only when asked for. */
export function userView(user: OrgUser, showSecrets: boolean): Record<string, unknown> {
  return {
    username: user.username,
    userId: user.id,
    ...(showSecrets ? { password: user.password } : {}),
    name: user.name,
    email: user.email,
    profile: user.profile,
    active: user.active,
  }
}

/** The property a SeedError path names, relative to the body (`body.scopes[1]` → `scopes`). */
function fieldOf(path: string): string[] {
  const rest = path.replace(/^body\.?/, '')
  const first = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest)?.[0]
  return first === undefined ? [] : [first]
}

/**
 * Answers the Setup routes; returns false when `sub` (the path after `/_emulator`) is not one of
 * them. `body` reads the JSON object body.
 */
export async function handleSetup(
  call: Call,
  sub: string,
  body: () => Promise<Record<string, unknown>>,
): Promise<boolean> {
  const { org, res } = call
  const secrets = call.query.get('showSecrets') === 'true'
  const fields = /^\/sobjects\/([^/]+)\/fields$/.exec(sub)
  const routes: Record<string, (() => Promise<unknown>) | undefined> = {
    'GET /connected-apps': async () => ({
      connectedApps: org.apps.map((a) => connectedAppView(a, secrets)),
    }),
    'POST /connected-apps': async () =>
      connectedAppView(createConnectedApp(org, await body(), 'body'), secrets),
    'GET /users': async () => ({ users: org.users.map((u) => userView(u, secrets)) }),
    'POST /users': async () => userView(createUser(org, await body(), 'body'), secrets),
    'POST /sobjects': async () => createCustomObject(org, await body(), 'body'),
  }
  const route =
    fields !== null && call.method === 'POST'
      ? async () =>
          createCustomField(org, decodeURIComponent(fields[1] ?? ''), await body(), 'body')
      : routes[`${call.method} ${sub}`]
  if (route === undefined) return false
  try {
    const result = await route()
    sendJson(res, call.method === 'POST' ? 201 : 200, result)
  } catch (err) {
    if (!(err instanceof SeedError)) throw err
    const duplicate = err.code === 'DUPLICATE_DEFINITION'
    const message = `${err.path}: ${err.problem}`
    sendJson(res, duplicate ? 409 : 400, [
      {
        message,
        errorCode: duplicate ? 'DUPLICATE_VALUE' : 'INVALID_INPUT',
        fields: fieldOf(err.path),
      },
    ])
  }
  return true
}
