/**
 * End to end: canary secrets. Plants recognisable client secrets, a private key and a password,
 * captures every token the authorization server issues, runs the whole story (apply, callouts,
 * refresh with rotation, revocation, wrong client secret, a broken token endpoint, a token type
 * Callout cannot use, hostile URLs) and scans every log line (pino at `trace`), every error and
 * each cause in its chain (message, JSON, `util.inspect` at depth Infinity), every event payload,
 * every `status()` output and the SQLite database bytes (with its WAL):
 * none may contain a canary or an issued token.
 */
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import { exportJWK, importSPKI } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../../src/index.ts'
import { startOidcServer, type OidcTestServer } from '../helpers/oidc-server.ts'
import {
  bearerOf,
  errorChainTexts,
  listen,
  makeHome,
  memoryLogger,
  openTestBroker,
  readBody,
  readCredential,
  sendJson,
  TokenStub,
  type Listening,
  type MemoryLog,
  type TestHome,
} from './helpers/e2e.ts'

const REDIRECT = 'http://127.0.0.1:9/callback'
const CANARY = {
  ccSecret: 'CANARY-cc-secret-3b9e51d07a',
  webSecret: 'CANARY-web-secret-c44f0e2b19',
  wrongSecret: 'CANARY-wrong-secret-8d2a7f6e01',
  stubSecret: 'CANARY-stub-secret-5e6b1c9d42',
  password: 'CANARY-password-0f7a3e8c5d',
}
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
/** The base64 lines of the private key: any one of them in the output is a leak. */
const PEM_LINES = PRIVATE_PEM.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'))

let idp: OidcTestServer
let stub: TokenStub
/** Issues Bearer-less tokens (`token_type: "mac"`) with canary-shaped access and refresh tokens. */
let macStub: TokenStub
let upstream: Listening
let home: TestHome
let broker: Broker
let log: MemoryLog
/** Every token issued (access, refresh, client credentials, codes) and every bearer seen. */
const issued = new Set<string>()
const refused = new Set<string>()
/** Text captured from errors, events and status reports. */
const outputs: string[] = []
let basicSeen: string | undefined

/** Captures an error and every cause in its chain: text, JSON and `util.inspect` at any depth. */
function captureError(error: unknown): unknown {
  outputs.push(...errorChainTexts(error))
  return error
}

async function failing(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return p.then(
    () => {
      throw new Error('expected a failure')
    },
    (e: unknown) => captureError(e) as { code?: string; message: string },
  )
}

async function ok(path: string): Promise<void> {
  const res = await broker.fetch(path)
  expect(res.status).toBe(200)
  await res.arrayBuffer()
}

async function snapshotStatus(): Promise<void> {
  const reports = await broker.status()
  outputs.push(JSON.stringify(reports), inspect(reports, { depth: 10 }))
}

function needles(): string[] {
  const basic = (user: string, pass: string) => Buffer.from(`${user}:${pass}`).toString('base64')
  return [
    ...Object.values(CANARY),
    ...PEM_LINES,
    basic('cc', CANARY.ccSecret),
    basic('web', CANARY.webSecret),
    basic('cc', CANARY.wrongSecret),
    basic('stub-client', CANARY.stubSecret),
    basic('svc-user', CANARY.password),
    encodeURIComponent(CANARY.ccSecret),
    ...issued,
  ]
}

function scan(haystacks: readonly string[]): string[] {
  const leaks: string[] = []
  for (const needle of needles()) {
    for (const hay of haystacks) {
      if (hay.includes(needle)) leaks.push(`${needle.slice(0, 12)}… in ${hay.slice(0, 300)}`)
    }
  }
  return leaks
}

beforeAll(async () => {
  const jwk = await exportJWK(
    await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'RS256'),
  )
  idp = await startOidcServer({
    clients: [
      { clientId: 'cc', clientSecret: CANARY.ccSecret, grantTypes: ['client_credentials'] },
      {
        clientId: 'pkjwt',
        authMethod: 'private_key_jwt',
        grantTypes: ['client_credentials'],
        jwks: { keys: [{ ...jwk, alg: 'RS256', use: 'sig' }] },
      },
      { clientId: 'web', clientSecret: CANARY.webSecret, redirectUris: [REDIRECT] },
    ],
    rotateRefreshToken: true,
  })
  for (const event of [
    'access_token.issued',
    'client_credentials.issued',
    'refresh_token.issued',
    'authorization_code.issued',
  ]) {
    idp.provider.on(event, (token: unknown) => {
      const jti = (token as { jti?: unknown }).jti
      if (typeof jti === 'string') issued.add(jti)
    })
  }
  stub = await new TokenStub().start()
  stub.mode = 'status-500'
  macStub = await new TokenStub().start()
  macStub.mode = 'mac-token-type'
  upstream = await listen((req, res) => {
    void (async () => {
      await readBody(req)
      if (req.url?.startsWith('/basic') === true) {
        basicSeen = req.headers.authorization
        return sendJson(res, 200, { ok: true })
      }
      const token = bearerOf(req)
      if (token === undefined) return sendJson(res, 401, { error: 'no token' })
      issued.add(token)
      if (refused.has(token)) return sendJson(res, 401, { error: 'refused' })
      sendJson(res, 200, { ok: true })
    })()
  })
  home = await makeHome({
    CC_SECRET: CANARY.ccSecret,
    WEB_SECRET: CANARY.webSecret,
    WRONG_SECRET: CANARY.wrongSecret,
    STUB_SECRET: CANARY.stubSecret,
    SVC_PASSWORD: CANARY.password,
    PKJWT_KEY: PRIVATE_PEM,
  })
  log = memoryLogger()
  broker = await openTestBroker(
    home,
    {
      authProviders: {
        Idp: {
          type: 'oidc',
          issuer: idp.issuer,
          consumerKey: 'cc',
          consumerSecret: '${env:CC_SECRET}',
          clientAuth: 'client_secret_basic',
        },
        IdpKey: {
          type: 'oidc',
          issuer: idp.issuer,
          consumerKey: 'pkjwt',
          clientPrivateKey: '${env:PKJWT_KEY}',
          clientAuth: 'private_key_jwt',
        },
        IdpWeb: {
          type: 'oidc',
          issuer: idp.issuer,
          consumerKey: 'web',
          consumerSecret: '${env:WEB_SECRET}',
          clientAuth: 'client_secret_basic',
        },
        IdpWrong: {
          type: 'oidc',
          issuer: idp.issuer,
          consumerKey: 'cc',
          consumerSecret: '${env:WRONG_SECRET}',
          clientAuth: 'client_secret_basic',
        },
        MacIssuer: {
          type: 'oauth2',
          tokenUrl: macStub.tokenUrl,
          consumerKey: 'stub-client',
          consumerSecret: '${env:STUB_SECRET}',
        },
        Broken: {
          type: 'oauth2',
          tokenUrl: stub.tokenUrl,
          consumerKey: 'stub-client',
          consumerSecret: '${env:STUB_SECRET}',
        },
      },
      externalCredentials: {
        Machine: {
          protocol: 'oauth2',
          flow: 'client-credentials',
          authProvider: 'Idp',
          principals: { Service: { type: 'named' } },
        },
        KeyMachine: {
          protocol: 'oauth2',
          flow: 'client-credentials',
          authProvider: 'IdpKey',
          principals: { Service: { type: 'named' } },
        },
        Human: {
          protocol: 'oauth2',
          flow: 'browser',
          authProvider: 'IdpWeb',
          scope: 'openid profile offline_access',
          principals: { Me: { type: 'named' } },
        },
        Wrong: {
          protocol: 'oauth2',
          flow: 'client-credentials',
          authProvider: 'IdpWrong',
          principals: { Service: { type: 'named' } },
        },
        MacAuth: {
          protocol: 'oauth2',
          flow: 'client-credentials',
          authProvider: 'MacIssuer',
          principals: { Service: { type: 'named' } },
        },
        BrokenAuth: {
          protocol: 'oauth2',
          flow: 'client-credentials',
          authProvider: 'Broken',
          principals: { Service: { type: 'named' } },
        },
        Basic: {
          protocol: 'basic',
          principals: {
            Service: {
              type: 'named',
              parameters: { username: 'svc-user' },
              secrets: { password: '${env:SVC_PASSWORD}' },
            },
          },
        },
      },
      namedCredentials: {
        Api: { url: `${upstream.origin}/api`, externalCredential: 'Machine' },
        KeyApi: { url: `${upstream.origin}/api`, externalCredential: 'KeyMachine' },
        UserApi: { url: `${upstream.origin}/api`, externalCredential: 'Human' },
        WrongApi: { url: `${upstream.origin}/api`, externalCredential: 'Wrong' },
        BrokenApi: { url: `${upstream.origin}/api`, externalCredential: 'BrokenAuth' },
        MacApi: { url: `${upstream.origin}/api`, externalCredential: 'MacAuth' },
        BasicApi: { url: `${upstream.origin}/basic`, externalCredential: 'Basic' },
      },
    },
    { logger: log.logger },
  )
  for (const name of ['refreshed', 'needs-reauth', 'refresh-failed'] as const) {
    broker.on(name, (event) => outputs.push(JSON.stringify(event), inspect(event, { depth: 10 })))
  }
})

afterAll(async () => {
  await broker?.close()
  await Promise.all([
    idp?.close(),
    stub?.listening.close(),
    macStub?.listening.close(),
    upstream?.close(),
  ])
  await home?.cleanup()
})

/**
 * The story every test scans the output of. It runs once per file, on first use, so each test
 * stands alone (`-t` one of them and it still runs the story it checks).
 */
let story: Promise<void> | undefined
function storyOnce(): Promise<void> {
  story ??= runStory()
  return story
}

async function runStory(): Promise<void> {
  await snapshotStatus()
  // client credentials, cached, then an upstream 401 and a re-mint
  await ok('callout:Api/one')
  await ok('callout:Api/two')
  const machine = await readCredential(home, {
    externalCredential: 'Machine',
    principal: 'Service',
    userId: '',
  })
  refused.add(machine!.accessToken!.reveal())
  await ok('callout:Api/three')
  // private_key_jwt client authentication
  await ok('callout:KeyApi/one')
  // basic
  await ok('callout:BasicApi/x')
  expect(basicSeen).toBe(`Basic ${Buffer.from(`svc-user:${CANARY.password}`).toString('base64')}`)
  await snapshotStatus()

  // browser flow, refresh with rotation, then revocation
  const { url } = await broker.authorizeUrl('UserApi', {
    redirectUri: REDIRECT,
    prompt: 'consent',
  })
  const callback = await idp.authorize(url)
  const code = callback.searchParams.get('code')
  if (code !== null) issued.add(code)
  await broker.completeAuthorization(callback.href)
  await failing(broker.completeAuthorization(callback.href))
  await ok('callout:UserApi/me')
  const human = { externalCredential: 'Human', principal: 'Me', userId: '' }
  const first = await readCredential(home, human)
  issued.add(first!.refreshToken!.reveal())
  refused.add(first!.accessToken!.reveal())
  await ok('callout:UserApi/me')
  const second = await readCredential(home, human)
  issued.add(second!.refreshToken!.reveal())
  expect(second!.refreshToken!.reveal()).not.toBe(first!.refreshToken!.reveal())
  await snapshotStatus()
  await idp.revoke(second!.refreshToken!.reveal(), {
    clientId: 'web',
    clientSecret: CANARY.webSecret,
  })
  refused.add(second!.accessToken!.reveal())
  expect(await failing(broker.fetch('callout:UserApi/me'))).toMatchObject({
    code: 'NEEDS_REAUTH',
  })
  expect(await failing(broker.fetch('callout:UserApi/me'))).toMatchObject({
    code: 'NEEDS_REAUTH',
  })
  await snapshotStatus()

  // wrong client secret
  expect(await failing(broker.fetch('callout:WrongApi/x'))).toMatchObject({
    code: 'OAUTH_CLIENT_INVALID',
  })
  expect(await failing(broker.fetch('callout:WrongApi/x'))).toMatchObject({
    code: 'REFRESH_COOLDOWN',
  })
  // broken token endpoint
  expect(await failing(broker.fetch('callout:BrokenApi/x'))).toMatchObject({
    code: 'TOKEN_ENDPOINT_ERROR',
  })
  expect(await failing(broker.fetch('callout:BrokenApi/x'))).toMatchObject({
    code: 'REFRESH_COOLDOWN',
  })
  // a token type Callout cannot use: refused, and the response body (with its tokens) is not
  // kept in the error, its causes, or the cooldown error that repeats it
  expect(await failing(broker.fetch('callout:MacApi/x'))).toMatchObject({
    code: 'TOKEN_RESPONSE_INVALID',
  })
  expect(await failing(broker.fetch('callout:MacApi/x'))).toMatchObject({
    code: 'REFRESH_COOLDOWN',
  })
  expect(macStub.issued.length).toBeGreaterThanOrEqual(2)
  for (const token of macStub.issued) issued.add(token)
  // the stub saw the secret (so it was really sent), the broker must not repeat it anywhere
  expect(stub.forms.some((f) => f.get('client_secret') === CANARY.stubSecret)).toBe(true)
  // hostile URLs and unknown names
  for (const input of [
    'callout:Api/../x',
    'callout:Api/%2f',
    'callout:Nope/x',
    'callout:Api@x/y',
    'https://evil.example/',
  ]) {
    expect(await failing(broker.fetch(input))).toMatchObject({ code: expect.any(String) })
  }
  // a browser-flow misuse
  expect(await failing(broker.authorizeUrl('Api', { redirectUri: REDIRECT }))).toMatchObject({
    code: 'INVALID_ARGUMENT',
  })
  await snapshotStatus()
}

describe('canary secrets never leak', () => {
  it('runs the whole story, issuing tokens and logging', async () => {
    await storyOnce()
    expect(issued.size).toBeGreaterThanOrEqual(6)
    expect(log.lines.length).toBeGreaterThan(0)
  })

  it('no log line, error, event or status output contains a canary or an issued token', async () => {
    await storyOnce()
    // the scanner itself finds a planted leak
    expect(scan([`x ${CANARY.password} y`, `Bearer ${[...issued][0]}`])).toHaveLength(2)
    expect(scan([...log.lines, ...outputs])).toEqual([])
  })

  it('the SQLite database and its WAL contain no canary and no issued token in plaintext', async () => {
    await storyOnce()
    // Scanning a database that never held a token would prove nothing.
    expect(issued.size).toBeGreaterThanOrEqual(6)
    const files = [home.dbPath, `${home.dbPath}-wal`].filter((f) => existsSync(f))
    expect(files.length).toBeGreaterThanOrEqual(1)
    const leaks: string[] = []
    for (const file of files) {
      const bytes = readFileSync(file)
      for (const needle of needles()) {
        if (bytes.includes(Buffer.from(needle, 'utf8')))
          leaks.push(`${needle.slice(0, 12)}… in ${file}`)
      }
    }
    expect(leaks).toEqual([])
  })
})
