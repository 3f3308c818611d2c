/**
 * End to end: the org-to-org story on the Salesforce emulator — jwt-bearer, the browser flow
 * with refresh-token rotation, a scope without refresh_token, Lightning and login hosts, the
 * blocked-session trap and instance_url changes — through the broker's public API.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { ADVICE_HEADER, type Broker } from '../../src/index.ts'
import {
  listen,
  makeHome,
  memoryLogger,
  openTestBroker,
  readBody,
  readCredential,
  salesforceAuthorize,
  type Listening,
  type MemoryLog,
  type TestHome,
} from './helpers/e2e.ts'

const REDIRECT = 'http://127.0.0.1:9/services/authcallback/Target'
const JWT_USER = 'integration@target.example'
const WEB_USER = 'admin@target.example'
const V = 'v61.0'
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })

let emulator: Emulator
let org: EmulatedOrg
let home: TestHome
let broker: Broker
let log: MemoryLog
/** A pass-through to the org's instance origin, standing in for a moved instance_url. */
let relay: Listening
let relayHits = 0
/** The broker's clock runs this far ahead (the emulator's clock is advanced alongside). */
let clockOffsetMs = 0
const clock = { now: () => Date.now() + clockOffsetMs }

const tokens = (grant?: string) => emulator.requestLog.tokenRequests(grant)

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>
}

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [
      {
        name: 'target',
        lightning: true,
        users: [
          { username: JWT_USER, name: 'Integration User' },
          { username: WEB_USER, password: 'Adm1n-Pa55!' },
          { username: 'bob@target.example', password: 'B0b-Pa55word!' },
        ],
        sessionTimeoutSeconds: 3600,
        connectedApps: [
          {
            name: 'ServerToServer',
            callbackUrls: [REDIRECT],
            scopes: ['api', 'refresh_token'],
            certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            adminPreAuthorized: true,
          },
          {
            name: 'Web',
            callbackUrls: [REDIRECT],
            scopes: ['api', 'refresh_token', 'offline_access', 'id'],
            adminPreAuthorized: true,
          },
        ],
        records: { Account: [{ Name: 'Acme' }, { Name: 'Globex' }] },
      },
    ],
  })
  org = emulator.org('target')
  relay = await listen((req, res) => {
    void (async () => {
      relayHits++
      const body = await readBody(req)
      const upstream = await fetch(`${org.instanceUrl}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers: {
          ...(req.headers.authorization === undefined
            ? {}
            : { authorization: req.headers.authorization }),
          ...(req.headers['content-type'] === undefined
            ? {}
            : { 'content-type': req.headers['content-type'] }),
        },
        ...(body === '' ? {} : { body }),
        redirect: 'manual',
      })
      res.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'application/json',
      })
      res.end(Buffer.from(await upstream.arrayBuffer()))
    })()
  })
  const jwtApp = org.connectedApp('ServerToServer')
  const web = org.connectedApp('Web')
  home = await makeHome({
    SF_JWT_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    SF_WEB_SECRET: web.consumerSecret,
  })
  log = memoryLogger()
  broker = await openTestBroker(
    home,
    {
      authProviders: {
        TargetJwt: { type: 'salesforce', loginUrl: org.loginUrl, consumerKey: jwtApp.consumerKey },
        TargetWeb: {
          type: 'salesforce',
          loginUrl: org.loginUrl,
          consumerKey: web.consumerKey,
          consumerSecret: '${env:SF_WEB_SECRET}',
        },
      },
      externalCredentials: {
        SfJwt: {
          protocol: 'oauth2',
          flow: 'jwt-bearer',
          authProvider: 'TargetJwt',
          principals: {
            Integration: {
              type: 'named',
              parameters: { username: JWT_USER },
              secrets: { privateKey: '${env:SF_JWT_KEY}' },
            },
          },
        },
        SfBrowser: {
          protocol: 'oauth2',
          flow: 'browser',
          authProvider: 'TargetWeb',
          scope: 'api refresh_token',
          principals: { Admin: { type: 'named' } },
        },
        SfJwtTimed: {
          protocol: 'oauth2',
          flow: 'jwt-bearer',
          authProvider: 'TargetJwt',
          sessionTimeoutSeconds: 3600,
          principals: {
            Integration: {
              type: 'named',
              parameters: { username: JWT_USER },
              secrets: { privateKey: '${env:SF_JWT_KEY}' },
            },
          },
        },
        SfEachUser: {
          protocol: 'oauth2',
          flow: 'browser',
          authProvider: 'TargetWeb',
          scope: 'api refresh_token',
          principals: { EachUser: { type: 'per-user' } },
        },
        SfApiOnly: {
          protocol: 'oauth2',
          flow: 'browser',
          authProvider: 'TargetWeb',
          scope: 'api',
          principals: { Admin: { type: 'named' } },
        },
      },
      namedCredentials: {
        Target: { url: org.instanceUrl, externalCredential: 'SfJwt' },
        TargetLightning: { url: org.lightningUrl!, externalCredential: 'SfJwt' },
        TargetAsAdmin: { url: org.instanceUrl, externalCredential: 'SfBrowser' },
        TargetApiOnly: { url: org.instanceUrl, externalCredential: 'SfApiOnly' },
        TargetPerUser: { url: org.instanceUrl, externalCredential: 'SfEachUser' },
        TargetTimed: { url: org.instanceUrl, externalCredential: 'SfJwtTimed' },
      },
    },
    { logger: log.logger, clock },
  )
})

afterAll(async () => {
  await broker?.close()
  await relay?.close()
  await emulator?.close()
  await home?.cleanup()
})

describe('(a) jwt-bearer', () => {
  it('queries Accounts and creates a record with a minted token', async () => {
    const res = await broker.fetch(
      `callout:Target/services/data/${V}/query?q=SELECT+Id,Name+FROM+Account+ORDER+BY+Name`,
    )
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body.totalSize).toBe(2)
    expect((body.records as { Name: string }[]).map((r) => r.Name)).toEqual(['Acme', 'Globex'])
    expect(tokens('urn:ietf:params:oauth:grant-type:jwt-bearer')).toBe(1)

    const created = await broker.fetch(`callout:Target/services/data/${V}/sobjects/Account`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Name: 'Initech' }),
    })
    expect(created.status).toBe(201)
    const { id, success } = await json(created)
    expect(success).toBe(true)
    expect(org.data.get('Account', id as string)?.Name).toBe('Initech')
    expect(tokens()).toBe(1)

    const [report] = await broker.status('Target')
    expect(report?.principals[0]?.status).toBe('authenticated')
    expect(report?.principals[0]?.instanceUrl).toBe(org.instanceUrl)
  })

  it('expireSessions(): the next call re-mints transparently, exactly one new token request', async () => {
    const before = tokens()
    const stored = await readCredential(home, {
      externalCredential: 'SfJwt',
      principal: 'Integration',
      userId: '',
    })
    org.faults.expireSessions()
    const res = await broker.fetch(
      `callout:Target/services/data/${V}/query?q=SELECT+Id+FROM+Account`,
    )
    expect(res.status).toBe(200)
    expect((await json(res)).totalSize).toBe(3)
    expect(tokens() - before).toBe(1)
    const after = await readCredential(home, {
      externalCredential: 'SfJwt',
      principal: 'Integration',
      userId: '',
    })
    expect(after?.accessToken?.reveal()).not.toBe(stored?.accessToken?.reveal())
    const again = await broker.fetch(`callout:Target/services/data/${V}/limits`)
    expect(again.status).toBe(200)
    await again.arrayBuffer()
    expect(tokens() - before).toBe(1)
  })
})

describe('(b) browser flow with rotation', () => {
  const key = { externalCredential: 'SfBrowser', principal: 'Admin', userId: '' }

  it('authenticates through the login and approval pages: "Authenticated as <username>"', async () => {
    const { url } = await broker.authorizeUrl('TargetAsAdmin', { redirectUri: REDIRECT })
    expect(new URL(url).origin).toBe(org.loginUrl)
    const callback = await salesforceAuthorize(url, org.user(WEB_USER))
    const report = await broker.completeAuthorization(callback)
    expect(report.principals[0]?.status).toBe('authenticated')
    expect(report.principals[0]?.summary).toBe(`Authenticated as ${WEB_USER}`)
    expect(report.principals[0]?.hasRefreshToken).toBe(true)
    const res = await broker.fetch(
      `callout:TargetAsAdmin/services/data/${V}/query?q=SELECT+Id+FROM+Account`,
    )
    expect(res.status).toBe(200)
    await res.arrayBuffer()
  })

  it('with rotation off, a refresh keeps the stored refresh token (twice)', async () => {
    const first = await readCredential(home, key)
    const refreshes = tokens('refresh_token')
    for (let round = 1; round <= 2; round++) {
      org.faults.expireSessions()
      const res = await broker.fetch(`callout:TargetAsAdmin/services/data/${V}/limits`)
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      expect(tokens('refresh_token') - refreshes).toBe(round)
      const now = await readCredential(home, key)
      expect(now?.refreshToken?.reveal()).toBe(first?.refreshToken?.reveal())
      expect(now?.accessToken?.reveal()).not.toBe(first?.accessToken?.reveal())
    }
  })

  it('with rotation on, a refresh stores the rotated refresh token (a second refresh proves it)', async () => {
    org.faults.setRotation(true)
    try {
      const first = await readCredential(home, key)
      const refreshes = tokens('refresh_token')
      org.faults.expireSessions()
      const res = await broker.fetch(
        `callout:TargetAsAdmin/services/data/${V}/query?q=SELECT+Id+FROM+Account`,
      )
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      expect(tokens('refresh_token') - refreshes).toBe(1)
      const second = await readCredential(home, key)
      expect(second?.refreshToken?.reveal()).not.toBe(first?.refreshToken?.reveal())

      org.faults.expireSessions()
      const res2 = await broker.fetch(
        `callout:TargetAsAdmin/services/data/${V}/query?q=SELECT+Id+FROM+Account`,
      )
      expect(res2.status).toBe(200)
      await res2.arrayBuffer()
      expect(tokens('refresh_token') - refreshes).toBe(2)
      const third = await readCredential(home, key)
      expect(third?.refreshToken?.reveal()).not.toBe(second?.refreshToken?.reveal())
      expect(third?.status).toBe('authenticated')
    } finally {
      org.faults.setRotation(false)
    }
  })

  it('revokeRefreshTokens(): NEEDS_REAUTH with advice to run callout auth', async () => {
    org.faults.revokeRefreshTokens()
    org.faults.expireSessions()
    const refreshes = tokens('refresh_token')
    const error = await broker.fetch(`callout:TargetAsAdmin/services/data/${V}/limits`).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ code: 'NEEDS_REAUTH' })
    expect((error as Error).message).toContain('callout auth TargetAsAdmin')
    expect(tokens('refresh_token') - refreshes).toBe(1)
    const [report] = await broker.status('TargetAsAdmin')
    expect(report?.principals[0]?.status).toBe('needs-reauth')
    await expect(
      broker.fetch(`callout:TargetAsAdmin/services/data/${V}/limits`),
    ).rejects.toMatchObject({
      code: 'NEEDS_REAUTH',
    })
    expect(tokens('refresh_token') - refreshes).toBe(1)
  })
})

describe('(c) a scope without refresh_token', () => {
  it('stores no refresh token, warns, and after expiry fails with advice about the scope', async () => {
    const { url } = await broker.authorizeUrl('TargetApiOnly', { redirectUri: REDIRECT })
    expect(new URL(url).searchParams.get('scope')).toBe('api')
    const warningsBefore = log.lines.filter((l) => l.includes('"level":40')).length
    const report = await broker.completeAuthorization(
      await salesforceAuthorize(url, org.user(WEB_USER)),
    )
    expect(report.principals[0]?.status).toBe('authenticated')
    expect(report.principals[0]?.hasRefreshToken).toBe(false)
    const warnings = log.lines.filter((l) => l.includes('"level":40')).slice(warningsBefore)
    expect(warnings.some((l) => l.includes('refresh_token') && l.includes('TargetApiOnly'))).toBe(
      true,
    )

    const ok = await broker.fetch(`callout:TargetApiOnly/services/data/${V}/limits`)
    expect(ok.status).toBe(200)
    await ok.arrayBuffer()

    org.faults.expireSessions()
    const before = tokens()
    const error = await broker.fetch(`callout:TargetApiOnly/services/data/${V}/limits`).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(['NEEDS_REAUTH', 'NOT_AUTHENTICATED']).toContain((error as { code?: string }).code)
    expect((error as Error).message).toContain('refresh_token')
    expect((error as Error).message).toContain('callout auth TargetApiOnly')
    expect(tokens()).toBe(before)
  })
})

describe('(d) Lightning origin and foreign redirects', () => {
  it('a Named Credential on the Lightning origin reaches the API through the token instance_url', async () => {
    const lightningBefore = emulator.requestLog.count({ org: 'target:lightning' })
    const res = await broker.fetch(
      `callout:TargetLightning/services/data/${V}/query?q=SELECT+Id+FROM+Account`,
    )
    expect(res.status).toBe(200)
    expect((await json(res)).totalSize).toBe(3)
    // A loopback "Lightning" origin cannot be recognised by host name (isLightningHost knows
    // *.lightning.force.com): the broker calls it, gets the 302 to the instance and follows it
    // because the target is the token's instance_url origin.
    expect(emulator.requestLog.count({ org: 'target:lightning' }) - lightningBefore).toBe(1)
  })

  it('a 302 to another origin is returned untouched, and no credentials cross to it', async () => {
    let foreignHits = 0
    let foreignAuth: string | undefined
    const foreign = await listen((req, res) => {
      foreignHits++
      foreignAuth = req.headers.authorization
      res.end('{}')
    })
    org.faults.setRestRedirect(foreign.origin)
    try {
      const res = await broker.fetch(`callout:Target/services/data/${V}/limits`)
      expect(res.status).toBe(302)
      expect(res.headers.get('location')).toBe(`${foreign.origin}/services/data/${V}/limits`)
      await res.arrayBuffer()
      expect(foreignHits).toBe(0)
      expect(foreignAuth).toBeUndefined()
    } finally {
      org.faults.setRestRedirect(null)
      await foreign.close()
    }
  })
})

describe('(e) blocked session', () => {
  it('"This session is not valid for use with the REST API" is not refreshed; the response carries advice', async () => {
    // warm the token first so the count below covers only the blocked call
    await (await broker.fetch(`callout:Target/services/data/${V}/limits`)).arrayBuffer()
    const before = tokens()
    org.faults.setBlockedSession(true)
    try {
      const res = await broker.fetch(`callout:Target/services/data/${V}/limits`)
      expect(res.status).toBe(401)
      expect(await res.text()).toContain('This session is not valid for use with the REST API')
      const advice = res.headers.get(ADVICE_HEADER)
      expect(advice).toContain('api')
      expect(advice).toContain('callout auth Target')
      expect(tokens()).toBe(before)
    } finally {
      org.faults.setBlockedSession(false)
    }
  })
})

describe('(f) instance_url changes', () => {
  it('a new instance_url is adopted with the next token', async () => {
    org.faults.setInstanceUrl(relay.origin)
    try {
      // the current token still carries the old instance_url: no relay yet
      const res0 = await broker.fetch(`callout:Target/services/data/${V}/limits`)
      expect(res0.status).toBe(200)
      await res0.arrayBuffer()
      expect(relayHits).toBe(0)

      org.faults.expireSessions()
      const before = tokens()
      const res = await broker.fetch(
        `callout:Target/services/data/${V}/query?q=SELECT+Id+FROM+Account`,
      )
      expect(res.status).toBe(200)
      expect((await json(res)).totalSize).toBe(3)
      expect(tokens() - before).toBe(1)
      expect(relayHits).toBe(1)
      const [report] = await broker.status('Target')
      expect(report?.principals[0]?.instanceUrl).toBe(relay.origin)

      const res2 = await broker.fetch(`callout:Target/services/data/${V}/limits`)
      expect(res2.status).toBe(200)
      await res2.arrayBuffer()
      expect(relayHits).toBe(2)
    } finally {
      org.faults.setInstanceUrl(null)
    }
  })
})

describe('(g) proactive refresh from the session timeout', () => {
  /** Ages every token by `ms` on both sides: the emulator's clock and the broker's. */
  function age(ms: number): void {
    emulator.clock.advance(ms)
    clockOffsetMs += ms
  }

  it('with sessionTimeoutSeconds configured, an old token is re-minted before the call: no 401 at all', async () => {
    await (await broker.fetch(`callout:TargetTimed/services/data/${V}/limits`)).arrayBuffer()
    const before = tokens()
    const unauthorized = emulator.requestLog.count({ status: 401 })
    age(3600 * 1000 + 60_000)
    const res = await broker.fetch(`callout:TargetTimed/services/data/${V}/limits`)
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect(tokens() - before).toBe(1)
    expect(emulator.requestLog.count({ status: 401 })).toBe(unauthorized)
  })

  it("without it, Salesforce's default 2-hour session (DEFAULTS.salesforceSessionTimeoutSeconds) is assumed", async () => {
    await (await broker.fetch(`callout:Target/services/data/${V}/limits`)).arrayBuffer()
    const [report] = await broker.status('Target')
    const p = report?.principals[0]
    expect(p?.expiresAt).toBe((p?.issuedAt ?? NaN) + 7200 * 1000)
    const before = tokens()
    const unauthorized = emulator.requestLog.count({ status: 401 })
    age(2 * 3600 * 1000 + 60_000)
    const res = await broker.fetch(`callout:Target/services/data/${V}/limits`)
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect(tokens() - before).toBe(1)
    expect(emulator.requestLog.count({ status: 401 })).toBe(unauthorized)
  })
})

describe('(h) per-user principals', () => {
  it('each user authenticates for themselves and calls as themselves; no user is USER_REQUIRED', async () => {
    for (const username of [WEB_USER, 'bob@target.example']) {
      const { url } = await broker.authorizeUrl('TargetPerUser', {
        redirectUri: REDIRECT,
        user: username,
      })
      await broker.completeAuthorization(await salesforceAuthorize(url, org.user(username)), {
        user: username,
      })
    }
    const [report] = await broker.status('TargetPerUser')
    expect(report?.principals.map((p) => [p.userId, p.summary]).sort()).toEqual([
      [WEB_USER, `Authenticated as ${WEB_USER}`],
      ['bob@target.example', 'Authenticated as bob@target.example'],
    ])
    for (const username of [WEB_USER, 'bob@target.example']) {
      const res = await broker.fetch(
        `callout:TargetPerUser/services/data/${V}/query?q=SELECT+Username+FROM+User+WHERE+Id+%3D+'${org.user(username).userId}'`,
        {
          user: username,
        },
      )
      expect(res.status).toBe(200)
      const body = await json(res)
      expect((body.records as { Username: string }[])[0]?.Username).toBe(username)
    }
    await expect(
      broker.fetch(`callout:TargetPerUser/services/data/${V}/limits`),
    ).rejects.toMatchObject({
      code: 'USER_REQUIRED',
    })
    await expect(
      broker.fetch(`callout:TargetPerUser/services/data/${V}/limits`, {
        user: 'carol@target.example',
      }),
    ).rejects.toMatchObject({ code: 'NOT_AUTHENTICATED' })
  })
})

describe('(i) provider failures', () => {
  it('SAME_ORG_SSO on the callback is AUTHORIZATION_FAILED', async () => {
    org.faults.setSameOrgSso(true)
    try {
      const { url } = await broker.authorizeUrl('TargetAsAdmin', { redirectUri: REDIRECT })
      const callback = await salesforceAuthorize(url, org.user(WEB_USER))
      expect(new URL(callback).searchParams.get('error')).toBe('SAME_ORG_SSO')
      const error = await broker.completeAuthorization(callback).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toMatchObject({ code: 'AUTHORIZATION_FAILED' })
      expect((error as Error).message).toMatch(/own org|same org/i)
    } finally {
      org.faults.setSameOrgSso(false)
    }
  })

  it('a token endpoint 500 during a re-mint is TOKEN_ENDPOINT_ERROR; the stored token is kept', async () => {
    const key = { externalCredential: 'SfJwt', principal: 'Integration', userId: '' }
    const before = await readCredential(home, key)
    org.faults.expireSessions()
    org.faults.failNext(1, { status: 500, scope: 'token' })
    await expect(broker.fetch(`callout:Target/services/data/${V}/limits`)).rejects.toMatchObject({
      code: 'TOKEN_ENDPOINT_ERROR',
    })
    const after = await readCredential(home, key)
    expect(after?.accessToken?.reveal()).toBe(before?.accessToken?.reveal())
    expect(after?.lastError?.code).toBe('TOKEN_ENDPOINT_ERROR')
  })
})

describe('(j) a YAML config file applied by openBroker', () => {
  it('reads ${file:…} and ${env:…} references and calls the org with jwt-bearer', async () => {
    const { mkdir, writeFile } = await import('node:fs/promises')
    const { join } = await import('node:path')
    const { openBroker } = await import('../../src/index.ts')
    const fileHome = await makeHome({
      SF_CONSUMER_KEY: org.connectedApp('ServerToServer').consumerKey,
    })
    try {
      await mkdir(join(fileHome.dir, 'keys'))
      await writeFile(
        join(fileHome.dir, 'keys', 'sf.key'),
        privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        { mode: 0o600 },
      )
      const file = join(fileHome.dir, 'callout.yaml')
      await writeFile(
        file,
        [
          'version: 1',
          'authProviders:',
          '  Target:',
          '    type: salesforce',
          `    loginUrl: ${org.loginUrl}`,
          '    consumerKey: ${env:SF_CONSUMER_KEY}',
          'externalCredentials:',
          '  TargetJwt:',
          '    protocol: oauth2',
          '    flow: jwt-bearer',
          '    authProvider: Target',
          '    principals:',
          '      Integration:',
          '        type: named',
          `        parameters: { username: ${JWT_USER} }`,
          "        secrets: { privateKey: '${file:./keys/sf.key}' }",
          'namedCredentials:',
          '  Salesforce:',
          `    url: ${org.instanceUrl}`,
          '    externalCredential: TargetJwt',
          '',
        ].join('\n'),
      )
      // (the emulator's clock was advanced in (g): keep the broker's clock in step)
      const fromFile = await openBroker({
        home: fileHome.dir,
        env: fileHome.env,
        config: file,
        clock,
      })
      try {
        const res = await fromFile.fetch(
          `callout:Salesforce/services/data/${V}/query?q=SELECT+Id+FROM+Account`,
        )
        expect(res.status).toBe(200)
        expect((await json(res)).totalSize).toBe(3)
      } finally {
        await fromFile.close()
      }
    } finally {
      await fileHome.cleanup()
    }
  })
})
