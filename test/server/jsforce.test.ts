/**
 * jsforce 3.10.16, unmodified, through `callout serve`: through a credential port (login against
 * the port, query, CRUD, describe, then a session expiry in the emulator that jsforce never
 * notices) and through its `proxyUrl` protocol. jsforce only ever holds a placeholder. Every
 * test runs without and with keys cached (then the port answers GETs on its fast path).
 */
import jsforce from 'jsforce'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSalesforceRig, type SalesforceRig } from './salesforce-rig.ts'

const USERNAME = 'jsforce-proxy@target.example'
const V = '61.0'
let rig: SalesforceRig
let proxyOrigin = ''
let portOrigin = ''
let key = ''

/** Every test on the full path (each key read again), then with keys cached (the fast path). */
describe.each([
  ['the full path', 0],
  ['the fast path', 60_000],
] as const)('%s', (_path, keyCacheMs) => {
  beforeAll(async () => {
    rig = await startSalesforceRig(
      USERNAME,
      { Account: [{ Name: 'Acme' }, { Name: 'Globex' }] },
      { keyCacheMs },
    )
    ;({ proxyOrigin, portOrigin, key } = rig)
  })

  afterAll(async () => {
    await rig?.close()
  })

  async function noRealToken(conn: jsforce.Connection): Promise<void> {
    expect(conn.accessToken).toMatch(/^00D000000000000!ck_/)
    const real = await rig.realToken()
    if (real !== undefined) expect(conn.accessToken).not.toContain(real)
  }

  describe('jsforce through a credential port', () => {
    let conn: jsforce.Connection

    it('logs in through the port with the client key and never receives a real token', async () => {
      conn = new jsforce.Connection({
        oauth2: {
          loginUrl: portOrigin,
          clientId: 'callout',
          clientSecret: key,
          redirectUri: 'http://localhost/cb',
        },
        version: V,
      })
      await conn.login('anyone', key)
      expect(conn.instanceUrl).toBe(portOrigin)
      await noRealToken(conn)
      expect(rig.emulator.requestLog.tokenRequests()).toBe(0)
      // identity() follows the local token answer's `id` (placeholder ids): the port asks the org
      // for the real identity, obtaining the credential's first token to do so.
      const identity = await conn.identity()
      expect(identity.username).toBe(USERNAME)
    })

    it('queries, creates, reads, updates, deletes and describes', async () => {
      const q = await conn.query<{ Name: string }>('SELECT Name FROM Account ORDER BY Name')
      expect(q.records.map((r) => r.Name)).toEqual(['Acme', 'Globex'])
      const created = await conn.sobject('Account').create({ Name: 'Initech' })
      expect(created.success).toBe(true)
      const id = (created as { id: string }).id
      const read = (await conn.sobject('Account').retrieve(id)) as { Name: string }
      expect(read.Name).toBe('Initech')
      await conn.sobject('Account').update({ Id: id, Name: 'Initrode' })
      expect(((await conn.sobject('Account').retrieve(id)) as { Name: string }).Name).toBe(
        'Initrode',
      )
      await conn.sobject('Account').destroy(id)
      const describe = await conn.sobject('Account').describe()
      expect(describe.name).toBe('Account')

      expect(rig.emulator.requestLog.tokenRequests()).toBe(1)
    })

    it('a session expiry in the org is handled by the proxy: jsforce never notices', async () => {
      const refreshes: unknown[] = []
      conn.on('refresh', (t) => refreshes.push(t))
      const before = rig.emulator.requestLog.tokenRequests()
      rig.emulator.faults.expireSessions()
      const [a, b] = await Promise.all([
        conn.query<{ Name: string }>("SELECT Name FROM Account WHERE Name = 'Acme'"),
        conn.sobject('Account').create({ Name: 'After expiry' }),
      ])
      expect(a.records[0]?.Name).toBe('Acme')
      expect(b.success).toBe(true)
      expect(refreshes).toEqual([])
      expect(rig.emulator.requestLog.tokenRequests() - before).toBe(1)
      await noRealToken(conn)
    })
  })

  describe('jsforce through proxyUrl', () => {
    it('logs in, queries and creates with a symbolic instance URL', async () => {
      const conn = new jsforce.Connection({
        proxyUrl: `${proxyOrigin}/jsforce-proxy`,
        oauth2: {
          loginUrl: 'https://Target.callout.invalid',
          clientId: 'callout',
          clientSecret: key,
          redirectUri: 'http://localhost/cb',
          proxyUrl: `${proxyOrigin}/jsforce-proxy`,
        },
        version: V,
      })
      await conn.login('anyone', key)
      expect(conn.instanceUrl).toBe('https://target.callout.invalid')
      await noRealToken(conn)
      const q = await conn.query<{ Name: string }>("SELECT Name FROM Account WHERE Name = 'Globex'")
      expect(q.records[0]?.Name).toBe('Globex')
      const created = await conn.sobject('Account').create({ Name: 'Via proxyUrl' })
      expect(created.success).toBe(true)
    })

    it('refuses a connection without the key, and logs no token', async () => {
      const conn = new jsforce.Connection({
        proxyUrl: `${proxyOrigin}/jsforce-proxy`,
        instanceUrl: 'https://Target.callout.invalid',
        accessToken: '00D000000000000!not-a-key',
        version: V,
      })
      const error = await conn.query('SELECT Id FROM Account').then(
        () => undefined,
        (e: Error) => e,
      )
      expect(String(error)).toMatch(/CLIENT_KEY|client key/i)
      const text = rig.log.lines.join('\n')
      expect(text).not.toContain(key)
    })
  })

  it('the port answered GETs on the fast path with keys cached, and none without', async () => {
    const count = await rig.fastCount()
    if (keyCacheMs === 0) expect(count).toBe(0)
    else expect(count).toBeGreaterThan(0)
  })
})
