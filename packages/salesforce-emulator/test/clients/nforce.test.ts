/**
 * nforce 1.13, unmodified, against the emulator: the password and web-server OAuth flows,
 * identity, automatic refresh after an expired session, CRUD, queries across pages, SOSL search,
 * describe, limits and Apex REST.
 */
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'
import { authorize } from '../helpers/oauth.ts'

// nforce ships CommonJS without types; the test uses it as a consumer would.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const nforce: any = createRequire(import.meta.url)('nforce')

const CALLBACK = 'http://localhost:1717/OauthRedirect'

describe('nforce 1.13 against the emulator', () => {
  let emulator: Emulator
  let org: EmulatedOrg

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const connection = (extra: Record<string, unknown> = {}): any => {
    const app = org.connectedApp()
    return nforce.createConnection({
      clientId: app.consumerKey,
      clientSecret: app.consumerSecret,
      redirectUri: CALLBACK,
      loginUri: `${org.loginUrl}/services/oauth2/token`,
      authEndpoint: `${org.loginUrl}/services/oauth2/authorize`,
      apiVersion: 'v61.0',
      mode: 'single',
      ...extra,
    })
  }

  beforeAll(async () => {
    emulator = await startEmulator({
      orgs: [
        {
          name: 'nforce',
          queryBatchSize: 5,
          users: [{ username: 'dev@nforce.example', password: 'Nforce-Pass-1', name: 'Dev User' }],
          connectedApps: [{ name: 'Nforce', callbackUrls: [CALLBACK] }],
          records: { Account: Array.from({ length: 12 }, (_, i) => ({ Name: `Paged ${i}` })) },
        },
      ],
    })
    org = emulator.org('nforce')
    org.registerApexRoute('GET', '/Greeting/*', (req) => ({
      body: { greeting: `hello ${req.user.username}`, path: req.path },
    }))
  })
  afterAll(async () => {
    await emulator.close()
  })

  it('logs in with the password flow and reads the identity', async () => {
    const conn = connection()
    const oauth = await conn.authenticate({
      username: 'dev@nforce.example',
      password: 'Nforce-Pass-1',
    })
    expect(oauth.instance_url).toBe(org.instanceUrl)
    expect(oauth.access_token).toMatch(/^00D/)
    const identity = await conn.getIdentity()
    expect(identity).toMatchObject({ username: 'dev@nforce.example', display_name: 'Dev User' })
  })

  it('refuses a wrong password with the OAuth error', async () => {
    const err = await connection()
      .authenticate({ username: 'dev@nforce.example', password: 'wrong' })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect(String((err as Error).message)).toContain('authentication failure')
  })

  it('completes the web-server flow from getAuthUri and refreshes itself after a 401', async () => {
    const conn = connection({ autoRefresh: true })
    const outcome = await authorize(
      conn.getAuthUri({ scope: ['api', 'refresh_token'], state: 'st' }),
      {
        username: 'dev@nforce.example',
        password: 'Nforce-Pass-1',
      },
    )
    expect(outcome.params.get('state')).toBe('st')
    const oauth = await conn.authenticate({ code: outcome.params.get('code') })
    expect(oauth.refresh_token).toBeDefined()
    const first = oauth.access_token as string
    org.faults.expireSessions()
    emulator.requestLog.clear()
    const res = await conn.query({ query: 'SELECT Id FROM Account LIMIT 1' })
    expect(res.records).toHaveLength(1)
    expect(emulator.requestLog.tokenRequests('refresh_token')).toBe(1)
    expect(conn.oauth.access_token).not.toBe(first)
  })

  it('creates, reads, updates and deletes a record', async () => {
    const conn = connection()
    await conn.authenticate({ username: 'dev@nforce.example', password: 'Nforce-Pass-1' })
    const acc = nforce.createSObject('Account', { Name: 'Nforce Co', Industry: 'Technology' })
    const created = await conn.insert({ sobject: acc })
    expect(created).toMatchObject({ success: true })
    const id = created.id as string
    const fetched = await conn.getRecord({ type: 'Account', id })
    expect(fetched.get('Name')).toBe('Nforce Co')
    fetched.set('Name', 'Nforce Corp')
    await conn.update({ sobject: fetched })
    expect((await conn.getRecord({ type: 'Account', id })).get('Name')).toBe('Nforce Corp')
    await conn.delete({ sobject: fetched })
    const gone = await conn.getRecord({ type: 'Account', id }).catch((e: unknown) => e)
    expect(gone).toMatchObject({ statusCode: 404, errorCode: 'ENTITY_IS_DELETED' })
  })

  it('queries across pages with fetchAll, and reports SOQL errors with their code', async () => {
    const conn = connection()
    await conn.authenticate({ username: 'dev@nforce.example', password: 'Nforce-Pass-1' })
    const all = await conn.query({
      query: "SELECT Name FROM Account WHERE Name LIKE 'Paged%' ORDER BY Name",
      fetchAll: true,
    })
    expect(all.records).toHaveLength(12)
    expect(all.records[11].get('Name')).toBe('Paged 9')
    const err = await conn.query({ query: 'SELECT Nope FROM Account' }).catch((e: unknown) => e)
    expect(err).toMatchObject({ statusCode: 400, errorCode: 'INVALID_FIELD' })
  })

  it('searches with SOSL', async () => {
    const conn = connection()
    await conn.authenticate({ username: 'dev@nforce.example', password: 'Nforce-Pass-1' })
    const found = await conn.search({
      search: 'FIND {Paged 1*} IN NAME FIELDS RETURNING Account(Name ORDER BY Name)',
    })
    expect(found.searchRecords.map((r: { Name: string }) => r.Name)).toEqual([
      'Paged 1',
      'Paged 10',
      'Paged 11',
    ])
    const err = await conn.search({ search: 'FIND Paged' }).catch((e: unknown) => e)
    expect(err).toMatchObject({ statusCode: 400, errorCode: 'MALFORMED_SEARCH' })
  })

  it('describes, reads limits and calls Apex REST', async () => {
    const conn = connection()
    await conn.authenticate({ username: 'dev@nforce.example', password: 'Nforce-Pass-1' })
    const describe = await conn.getDescribe({ type: 'Account' })
    expect(describe.name).toBe('Account')
    const limits = await conn.getLimits({ type: 'Account' })
    expect(limits.DailyApiRequests.Max).toBe(15000)
    const apex = await conn.apexRest({ uri: 'Greeting/world' })
    expect(apex).toEqual({ greeting: 'hello dev@nforce.example', path: '/Greeting/world' })
  })
})
