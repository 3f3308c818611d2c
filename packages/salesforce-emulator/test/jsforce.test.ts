/**
 * jsforce 3.10.16, unmodified, against the emulator: OAuth2 logins, identity, queries across
 * pages, CRUD, describe, Apex REST, and recovery from an expired session through its own refresh.
 */
import jsforce from 'jsforce'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'
import { authorize } from './helpers/oauth.ts'

const CALLBACK = 'http://localhost:1717/OauthRedirect'
const ACCOUNTS = 25

describe('jsforce 3.10.16 against the emulator', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let oauth2Config: {
    loginUrl: string
    clientId: string
    clientSecret: string
    redirectUri: string
  }
  beforeAll(async () => {
    emulator = await startEmulator({
      orgs: [
        {
          name: 'jsforce',
          queryBatchSize: 10,
          users: [{ username: 'dev@jsforce.example', password: 'Jsforce-1', name: 'Dev User' }],
          connectedApps: [{ name: 'Jsforce', callbackUrls: [CALLBACK] }],
          records: {
            Account: Array.from({ length: ACCOUNTS }, (_, i) => ({
              Name: `Account ${String(i).padStart(2, '0')}`,
            })),
          },
        },
      ],
    })
    org = emulator.org('jsforce')
    const app = org.connectedApp()
    oauth2Config = {
      loginUrl: org.loginUrl,
      clientId: app.consumerKey,
      clientSecret: app.consumerSecret,
      redirectUri: CALLBACK,
    }
    org.registerApexRoute('GET', '/Greeting/*', (req) => ({
      body: { greeting: `hello ${req.user.username}`, path: req.path },
    }))
  })
  beforeEach(() => {
    emulator.faults.reset()
  })
  afterAll(async () => {
    await emulator.close()
  })

  const passwordLogin = async () => {
    const conn = new jsforce.Connection({ oauth2: oauth2Config, version: '61.0' })
    const userInfo = await conn.login('dev@jsforce.example', 'Jsforce-1')
    return { conn, userInfo }
  }

  it('logs in with the OAuth2 password flow', async () => {
    const { conn, userInfo } = await passwordLogin()
    expect(conn.instanceUrl).toBe(org.instanceUrl)
    expect(conn.accessToken).toMatch(/^00D/)
    expect(userInfo.id).toBe(org.user().userId)
    expect(userInfo.organizationId).toBe(org.orgId)
    expect(userInfo.url).toBe(`${org.loginUrl}/id/${org.orgId}/${org.user().userId}`)
  })

  it('logs in with the authorization code flow and reads identity()', async () => {
    const oauth2 = new jsforce.OAuth2(oauth2Config)
    const url = oauth2.getAuthorizationUrl({ scope: 'api refresh_token', state: 'jsf' })
    const outcome = await authorize(url, { username: 'dev@jsforce.example', password: 'Jsforce-1' })
    expect(outcome.params.get('state')).toBe('jsf')
    const conn = new jsforce.Connection({ oauth2, version: '61.0' })
    const userInfo = await conn.authorize(outcome.params.get('code') ?? '')
    expect(userInfo.id).toBe(org.user().userId)
    expect(conn.refreshToken).toMatch(/^5Aep861/)
    const identity = await conn.identity()
    expect(identity.username).toBe('dev@jsforce.example')
    expect(identity.user_id).toBe(org.user().userId)
    expect(identity.organization_id).toBe(org.orgId)
    expect(identity.display_name).toBe('Dev User')
    expect(identity.urls.rest).toBe(`${org.instanceUrl}/services/data/v{version}/`)
  })

  it('logs in with the authorization code flow with PKCE (useVerifier)', async () => {
    const oauth2 = new jsforce.OAuth2({ ...oauth2Config, useVerifier: true })
    const url = oauth2.getAuthorizationUrl({ scope: 'api' })
    expect(url).toContain('code_challenge=')
    const outcome = await authorize(url, { username: 'dev@jsforce.example', password: 'Jsforce-1' })
    const conn = new jsforce.Connection({ oauth2, version: '61.0' })
    await conn.authorize(outcome.params.get('code') ?? '')
    expect((await conn.query('SELECT Id FROM Account LIMIT 1')).totalSize).toBe(1)
  })

  it('queries with autoFetch across several pages', async () => {
    const { conn } = await passwordLogin()
    emulator.requestLog.clear()
    const records = await conn
      .query('SELECT Id, Name FROM Account ORDER BY Name')
      .run({ autoFetch: true, maxFetch: 1000, responseTarget: 'Records' })
    expect(records).toHaveLength(ACCOUNTS)
    expect(records[0]?.Name).toBe('Account 00')
    expect(records[ACCOUNTS - 1]?.Name).toBe(`Account ${ACCOUNTS - 1}`)
    const pages = emulator.requestLog.count({
      org: 'jsforce',
      path: /^\/services\/data\/v61\.0\/query/,
    })
    expect(pages).toBe(3)
  })

  it('pages by hand with queryMore', async () => {
    const { conn } = await passwordLogin()
    const first = await conn.query('SELECT Id, Name FROM Account')
    expect(first.totalSize).toBe(ACCOUNTS)
    expect(first.done).toBe(false)
    expect(first.records).toHaveLength(10)
    // jsforce rewrites the relative nextRecordsUrl against its instance URL
    expect(first.nextRecordsUrl).toMatch(/\/services\/data\/v61\.0\/query\/01g[0-9A-Za-z]{15}-10$/)
    const second = await conn.queryMore(first.nextRecordsUrl ?? '')
    expect(second.records).toHaveLength(10)
    const third = await conn.queryMore(second.nextRecordsUrl ?? '')
    expect(third.records).toHaveLength(5)
    expect(third.done).toBe(true)
    expect(third.nextRecordsUrl).toBeUndefined()
    const ids = new Set([...first.records, ...second.records, ...third.records].map((r) => r.Id))
    expect(ids.size).toBe(ACCOUNTS)
  })

  it('creates, retrieves, updates and destroys a record', async () => {
    const { conn } = await passwordLogin()
    const accounts = conn.sobject('Account')
    const created = await accounts.create({ Name: 'Created by jsforce' })
    expect(created.success).toBe(true)
    expect(created.id).toMatch(/^001[0-9A-Za-z]{15}$/)
    const id = created.id ?? ''
    const fetched = await accounts.retrieve(id)
    expect(fetched.Id).toBe(id)
    expect(fetched.Name).toBe('Created by jsforce')
    expect(fetched.attributes?.type).toBe('Account')
    const updated = await accounts.update({ Id: id, Name: 'Renamed' })
    expect(updated).toEqual({ id, success: true, errors: [] })
    expect((await accounts.retrieve(id)).Name).toBe('Renamed')
    expect(org.data.get('Account', id)?.['Name']).toBe('Renamed')
    const destroyed = await accounts.destroy(id)
    expect(destroyed).toEqual({ id, success: true, errors: [] })
    await expect(accounts.retrieve(id)).rejects.toMatchObject({
      errorCode: expect.stringMatching(/NOT_FOUND|ENTITY_IS_DELETED/),
    })
    expect(conn.limitInfo.apiUsage?.limit).toBe(15000)
  })

  it('creates and retrieves several records through the collection APIs', async () => {
    const { conn } = await passwordLogin()
    const results = await conn.sobject('Account').create([{ Name: 'Multi A' }, { Name: 'Multi B' }])
    expect(results.every((r) => r.success)).toBe(true)
    const ids = results.map((r) => r.id ?? '')
    const fetched = await conn.sobject('Account').retrieve(ids, { fields: ['Id', 'Name'] })
    expect(fetched.map((r) => r?.Name)).toEqual(['Multi A', 'Multi B'])
    const destroyed = await conn.sobject('Account').destroy(ids)
    expect(destroyed.every((r) => r.success)).toBe(true)
  })

  it('describes an sObject and the org', async () => {
    const { conn } = await passwordLogin()
    const describe = await conn.describe('Account')
    expect(describe.name).toBe('Account')
    expect(describe.keyPrefix).toBe('001')
    expect(describe.fields.map((f) => f.name)).toEqual(expect.arrayContaining(['Id', 'Name']))
    const global = await conn.describeGlobal()
    expect(global.sobjects.map((s) => s.name)).toEqual(
      expect.arrayContaining(['Account', 'Contact', 'User']),
    )
  })

  it('calls Apex REST with apex.get', async () => {
    const { conn } = await passwordLogin()
    const res = await conn.apex.get<{ greeting: string; path: string }>('/Greeting/world')
    expect(res).toEqual({ greeting: 'hello dev@jsforce.example', path: '/Greeting/world' })
  })

  it('surfaces INVALID_SESSION_ID when it cannot refresh', async () => {
    const { accessToken } = org.issueTokens()
    const conn = new jsforce.Connection({
      instanceUrl: org.instanceUrl,
      accessToken,
      version: '61.0',
    })
    org.faults.expireAccessToken(accessToken)
    await expect(conn.query('SELECT Id FROM Account')).rejects.toMatchObject({
      errorCode: 'INVALID_SESSION_ID',
      message: 'Session expired or invalid',
    })
  })

  it('recovers from an expired session through its own OAuth2 refresh, refreshing once', async () => {
    const issued = org.issueTokens({ scopes: ['api', 'refresh_token'] })
    const conn = new jsforce.Connection({
      oauth2: oauth2Config,
      instanceUrl: issued.instanceUrl,
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken ?? '',
      version: '61.0',
    })
    const refreshed: string[] = []
    conn.on('refresh', (token: string) => refreshed.push(token))
    expect((await conn.query('SELECT Id FROM Account LIMIT 1')).totalSize).toBe(1)
    emulator.requestLog.clear()
    org.faults.expireSessions()
    const results = await Promise.all([
      conn.query('SELECT Id FROM Account LIMIT 1'),
      conn.sobject('Account').describe(),
      conn.query('SELECT Id FROM Account LIMIT 2'),
    ])
    expect(results[0].totalSize).toBe(1)
    expect(results[1].name).toBe('Account')
    expect(refreshed).toHaveLength(1)
    expect(conn.accessToken).toBe(refreshed[0])
    expect(conn.accessToken).not.toBe(issued.accessToken)
    expect(emulator.requestLog.tokenRequests('refresh_token')).toBe(1)
    expect(emulator.requestLog.count({ status: 401 })).toBe(3)
  })

  it('stops with invalid_grant when the refresh token was revoked', async () => {
    const issued = org.issueTokens({ scopes: ['api', 'refresh_token'] })
    const conn = new jsforce.Connection({
      oauth2: oauth2Config,
      instanceUrl: issued.instanceUrl,
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken ?? '',
      version: '61.0',
    })
    org.faults.revokeRefreshTokens()
    org.faults.expireSessions()
    await expect(conn.query('SELECT Id FROM Account')).rejects.toThrow(
      /expired access\/refresh token/,
    )
  })

  it('does not loop on the blocked-session 401', async () => {
    const issued = org.issueTokens({ scopes: ['api', 'refresh_token'] })
    const conn = new jsforce.Connection({
      oauth2: oauth2Config,
      instanceUrl: issued.instanceUrl,
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken ?? '',
      version: '61.0',
    })
    emulator.requestLog.clear()
    org.faults.setBlockedSession(true)
    await expect(conn.query('SELECT Id FROM Account')).rejects.toMatchObject({
      errorCode: 'INVALID_SESSION_ID',
    })
    expect(emulator.requestLog.tokenRequests()).toBe(0)
  })

  it('logs out by revoking its token', async () => {
    const { conn } = await passwordLogin()
    const token = conn.accessToken ?? ''
    await conn.logout()
    const res = await fetch(`${org.instanceUrl}/services/data/v61.0/`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(res.status).toBe(401)
  })
})
