/**
 * "Now" means now: `callout auth` and `callout doctor --online` make a real token request for
 * flows without a browser, even when a stored token is still valid, and `doctor --online` then
 * calls an endpoint that needs the token (Salesforce `/services/data/v61.0/`, or `checkPath`).
 */
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listen, readBody, type Listening } from '../helpers/callout-servers.ts'
import { startOidcServer, type OidcTestServer } from '../helpers/oidc-server.ts'
import { rsaKeyPair, runCli, spawnCli, tempHome, writeText, type TempHome } from './helpers.ts'

const ROBOT = 'robot@target.example'
const JWT_USER = 'integration@target.example'
const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const IDP_SECRET = 'idp-secret-7a21c4'

describe('callout auth and doctor --online ask the authorization server now', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let idp: OidcTestServer
  let api: Listening
  const apiSeen: { path: string; authorization: string | undefined }[] = []
  let t: TempHome
  let env: Record<string, string | undefined>
  let config: (jwtKey: string) => Promise<string>

  beforeAll(async () => {
    const { publicPem, privatePem } = rsaKeyPair()
    emulator = await startEmulator({
      orgs: [
        {
          name: 'target',
          users: [{ username: ROBOT }, { username: JWT_USER }],
          connectedApps: [
            {
              name: 'Cc',
              callbackUrls: ['http://localhost:1717/cb'],
              clientCredentialsUser: ROBOT,
              adminPreAuthorized: true,
            },
            {
              name: 'Server',
              callbackUrls: ['http://localhost:1717/cb'],
              certificate: publicPem,
              adminPreAuthorized: true,
            },
          ],
        },
      ],
    })
    org = emulator.org('target')
    idp = await startOidcServer({
      clients: [{ clientId: 'svc', clientSecret: IDP_SECRET, grantTypes: ['client_credentials'] }],
    })
    // An API that accepts only tokens the authorization server says are active.
    api = await listen((req, res) => {
      void (async () => {
        await readBody(req)
        apiSeen.push({ path: req.url ?? '', authorization: req.headers.authorization })
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
        const info =
          token === undefined
            ? { active: false }
            : ((await (
                await fetch(idp.introspectUrl, {
                  method: 'POST',
                  headers: {
                    authorization: `Basic ${Buffer.from(`svc:${IDP_SECRET}`).toString('base64')}`,
                  },
                  body: new URLSearchParams({ token }),
                })
              ).json()) as { active: boolean })
        res.writeHead(info.active ? 200 : 401, { 'content-type': 'application/json' })
        res.end(JSON.stringify(info.active ? { me: 'svc' } : { error: 'invalid_token' }))
      })()
    })
    t = await tempHome()
    env = { ...t.env, CC_SECRET: org.connectedApp('Cc').consumerSecret, IDP_SECRET }
    await writeFile(join(t.dir, 'server.key'), privatePem, { mode: 0o600 })
    await writeFile(join(t.dir, 'other.key'), rsaKeyPair().privatePem, { mode: 0o600 })
    config = (jwtKey) =>
      writeText(
        t.dir,
        'callout.yaml',
        `
authProviders:
  TargetCc:
    type: salesforce
    loginUrl: ${org.loginUrl}
    consumerKey: ${org.connectedApp('Cc').consumerKey}
    consumerSecret: '\${env:CC_SECRET}'
  TargetServer: { type: salesforce, loginUrl: ${org.loginUrl}, consumerKey: ${org.connectedApp('Server').consumerKey} }
  Idp:
    type: oidc
    issuer: ${idp.issuer}
    consumerKey: svc
    consumerSecret: '\${env:IDP_SECRET}'
    clientAuth: client_secret_basic
externalCredentials:
  CcAuth:
    protocol: oauth2
    flow: client-credentials
    authProvider: TargetCc
    principals: { Robot: { type: named } }
  ServerAuth:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetServer
    principals:
      Integration:
        type: named
        parameters: { username: ${JWT_USER} }
        secrets: { privateKey: '\${file:${jwtKey}}' }
  IdpAuth:
    protocol: oauth2
    flow: client-credentials
    authProvider: Idp
    principals: { Svc: { type: named } }
namedCredentials:
  Cc: { url: ${org.instanceUrl}, externalCredential: CcAuth }
  Server: { url: ${org.instanceUrl}, externalCredential: ServerAuth }
  Svc: { url: '${api.origin}/v1', externalCredential: IdpAuth, checkPath: /me }
  SvcNoCheck: { url: '${api.origin}/v1', externalCredential: IdpAuth }
`,
      )
    expect((await runCli(['init'], env)).code).toBe(0)
    const applied = await runCli(['apply', '-f', await config('server.key')], env)
    expect(applied.stderr).toBe('')
  })
  afterAll(async () => {
    await emulator?.close()
    await idp?.close()
    await api?.close()
    await t?.remove()
  })

  it('client credentials with a wrong secret: callout auth fails, after a real token request', async () => {
    const good = await spawnCli(['auth', 'Cc'], env)
    expect(good.stderr).toBe('')
    expect(good.stdout).toContain(`Cc Robot: Authenticated as ${ROBOT}`)

    // The stored token is still valid; only a token request can tell that the secret is wrong.
    const wrong = { ...env, CC_SECRET: 'not-the-secret' }
    expect((await runCli(['apply', '-f', await config('server.key')], wrong)).code).toBe(0)
    const before = emulator.requestLog.tokenRequests('client_credentials')
    const run = await spawnCli(['auth', 'Cc'], wrong)
    expect(emulator.requestLog.tokenRequests('client_credentials')).toBe(before + 1)
    expect(run.code).toBe(1)
    expect(run.stdout).not.toContain('Authenticated')
    expect(run.stderr).toMatch(/^error (?!INTERNAL)[A-Z_]+: /)
    expect(run.stderr).not.toContain('not-the-secret')

    const doctorBefore = emulator.requestLog.tokenRequests('client_credentials')
    const doctor = await runCli(['doctor', 'Cc', '--online'], wrong)
    expect(emulator.requestLog.tokenRequests('client_credentials')).toBe(doctorBefore + 1)
    expect(doctor.code).toBe(1)
    expect(doctor.stdout).toMatch(/^fail Cc: could not obtain a token: (?!INTERNAL)[A-Z_]+: /m)
    expect(doctor.stdout).not.toContain('obtained a token now')
    expect((await runCli(['apply', '-f', await config('server.key')], env)).code).toBe(0)
  })

  it('jwt-bearer with a swapped key: callout auth fails, after a real token request', async () => {
    expect((await runCli(['auth', 'Server'], env)).code).toBe(0)
    expect((await runCli(['apply', '-f', await config('other.key')], env)).code).toBe(0)
    const before = emulator.requestLog.tokenRequests(JWT_GRANT)
    const run = await runCli(['auth', 'Server'], env)
    expect(emulator.requestLog.tokenRequests(JWT_GRANT)).toBe(before + 1)
    expect(run.code).toBe(1)
    expect(run.stdout).not.toContain('Authenticated')
    expect((await runCli(['apply', '-f', await config('server.key')], env)).code).toBe(0)
  })

  it('doctor --online mints a token although one is stored, then GETs /services/data/v61.0/ with it', async () => {
    expect((await runCli(['auth', 'Cc'], env)).code).toBe(0)
    const tokensBefore = emulator.requestLog.tokenRequests('client_credentials')
    const apiBefore = emulator.requestLog.count({ path: '/services/data/v61.0' })
    const run = await runCli(['doctor', 'Cc', '--online'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(emulator.requestLog.tokenRequests('client_credentials')).toBe(tokensBefore + 1)
    expect(run.stdout).toContain(`ok   Cc: obtained a token now (Authenticated as ${ROBOT})`)
    expect(run.stdout).toContain('ok   Cc: GET /services/data/v61.0/ answered 200')
    // The versioned resource needs the session, unlike the bare /services/data.
    expect(emulator.requestLog.count({ path: '/services/data/v61.0', status: 200 })).toBe(
      apiBefore + 1,
    )
  })

  it('doctor --online calls the checkPath of another provider with the token', async () => {
    idp.resetCounters()
    apiSeen.length = 0
    const run = await runCli(['doctor', 'Svc', '--online'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(idp.tokenRequests).toBe(1)
    expect(run.stdout).toContain('ok   Svc: GET /me answered 200')
    expect(apiSeen.map((s) => s.path)).toEqual(['/v1/me'])
    expect(apiSeen[0]?.authorization).toMatch(/^Bearer \S+/)

    const none = await runCli(['doctor', 'SvcNoCheck', '--online'], env)
    expect(none.code).toBe(0)
    expect(none.stdout).toContain(
      'ok   SvcNoCheck: no endpoint called: the Named Credential has no checkPath — set checkPath',
    )
  })

  it('doctor --online with a wrong secret for another provider: fail, after a real token request', async () => {
    const wrong = { ...env, IDP_SECRET: 'wrong-secret' }
    expect((await runCli(['apply', '-f', await config('server.key')], wrong)).code).toBe(0)
    idp.resetCounters()
    const failed = await runCli(['doctor', 'Svc', '--online'], wrong)
    expect(idp.tokenRequests).toBe(1)
    expect(failed.code).toBe(1)
    expect(failed.stdout).toMatch(/^fail Svc: could not obtain a token: /m)
    expect((await runCli(['apply', '-f', await config('server.key')], env)).code).toBe(0)
  })
})
