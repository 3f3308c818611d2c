/**
 * jsforce 3.10.16, unmodified, through a credential port for the APIs that carry the session
 * outside `Authorization`: a SOAP login answered by the port, a SOAP call (`<sessionId>` in the
 * envelope) and Bulk API 1.0 requests (`X-SFDC-Session`, a GET too: never on the fast path) that
 * reach the emulator's session checks with the real token in place of the placeholder. jsforce
 * only ever holds a placeholder. Every test runs without and with keys cached.
 */
import jsforce from 'jsforce'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest } from './helpers.ts'
import { startSalesforceRig, type SalesforceRig } from './salesforce-rig.ts'

const USERNAME = 'soap-bulk@target.example'
const V = '61.0'
let rig: SalesforceRig

/** Every test on the full path (each key read again), then with keys cached (the fast path). */
describe.each([
  ['the full path', 0],
  ['the fast path', 60_000],
] as const)('%s', (_path, keyCacheMs) => {
  beforeAll(async () => {
    rig = await startSalesforceRig(USERNAME, { Account: [{ Name: 'Acme' }] }, { keyCacheMs })
  })
  afterAll(async () => rig?.close())

  /** A connection that logs in through the port's OAuth token endpoint with the client key. */
  function oauthConnection(): jsforce.Connection {
    return new jsforce.Connection({
      oauth2: {
        loginUrl: rig.portOrigin,
        clientId: 'callout',
        clientSecret: rig.key,
        redirectUri: 'http://localhost/cb',
      },
      version: V,
    })
  }

  async function placeholderOnly(conn: jsforce.Connection): Promise<void> {
    expect(conn.accessToken).toMatch(/^00D000000000000!ck_/)
    const real = await rig.realToken()
    expect(real).toBeDefined()
    expect(conn.accessToken).not.toContain(real)
  }

  describe('SOAP through a credential port', () => {
    let conn: jsforce.Connection

    it('a SOAP login is answered by the port: a placeholder session, serverUrl on the port', async () => {
      conn = new jsforce.Connection({ loginUrl: rig.portOrigin, version: V })
      const info = await conn.login('anyone', rig.key)
      expect(conn.instanceUrl).toBe(rig.portOrigin)
      expect(info.organizationId).toMatch(/^00D000000000000/)
      expect(conn.accessToken).toMatch(/^00D000000000000!ck_/)
      expect(rig.emulator.requestLog.tokenRequests()).toBe(0)
    })

    it('a SOAP call (getUserInfo) reaches the org with the real session id', async () => {
      const user = await conn.soap.getUserInfo()
      expect(user.userName).toBe(USERNAME)
      await placeholderOnly(conn)
    })

    it('after an OAuth login through the port too', async () => {
      const oauth = oauthConnection()
      await oauth.login('anyone', rig.key)
      const stamp = await oauth.soap.getServerTimestamp()
      expect(Date.parse(stamp.timestamp)).not.toBeNaN()
    })

    it('a wrong key in the SOAP login is the INVALID_LOGIN fault', async () => {
      const wrong = new jsforce.Connection({ loginUrl: rig.portOrigin, version: V })
      await expect(wrong.login('anyone', `ck_${'0'.repeat(12)}_${'0'.repeat(64)}`)).rejects.toThrow(
        /INVALID_LOGIN: CLIENT_KEY_INVALID/,
      )
    })

    it('an envelope without the placeholder is 401 CLIENT_KEY_MISSING, and nothing reaches the org', async () => {
      const before = rig.emulator.requestLog.entries({ path: `/services/Soap/u/${V}` }).length
      const res = await request(`${rig.portOrigin}/services/Soap/u/${V}`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml', soapaction: '""' },
        body: '<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header><SessionHeader><sessionId>guess</sessionId></SessionHeader></se:Header><se:Body><getUserInfo/></se:Body></se:Envelope>',
      })
      expect(res.statusCode).toBe(401)
      expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe(
        'CLIENT_KEY_MISSING',
      )
      expect(rig.emulator.requestLog.entries({ path: `/services/Soap/u/${V}` }).length).toBe(before)
    })

    it('a SOAP body over the limit is 413 REQUEST_TOO_LARGE', async () => {
      const res = await rawRequest(
        rig.portOrigin,
        `POST /services/Soap/u/${V} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n` +
          `Content-Length: ${64 * 1024 * 1024}\r\n\r\n<se:Envelope>`,
      )
      expect(res.status).toBe(413)
      expect(res.body).toContain('REQUEST_TOO_LARGE')
      expect(res.body).toContain('SOAP')
    })
  })

  describe('Bulk API 1.0 through a credential port', () => {
    it('X-SFDC-Session carries the client key; the org sees the real session and answers past its session check', async () => {
      const conn = oauthConnection()
      await conn.login('anyone', rig.key)
      // The emulator answers a valid session with FeatureNotEnabled (Bulk API 1.0 is not emulated),
      // an invalid one with InvalidSessionId.
      await expect(conn.bulk.load('Account', 'insert', [{ Name: 'v1' }])).rejects.toThrow(
        /Bulk API 1\.0 \(\/services\/async\) is not emulated/,
      )
      await placeholderOnly(conn)
    })

    it('a GET with X-SFDC-Session (a job status) reaches the org with the real session, never on the fast path', async () => {
      const rest = await request(`${rig.portOrigin}/services/data/v${V}/limits`, {
        headers: { authorization: `Bearer 00D000000000000!${rig.key}` },
      })
      expect(rest.statusCode).toBe(200)
      await rest.body.dump()
      const before = await rig.fastCount()
      const res = await request(`${rig.portOrigin}/services/async/${V}/job/750000000000001AAA`, {
        headers: { 'x-sfdc-session': `00D000000000000!${rig.key}` },
      })
      const text = await res.body.text()
      expect(res.statusCode).toBe(400)
      expect(text).toContain('<exceptionCode>FeatureNotEnabled</exceptionCode>')
      expect(await rig.fastCount()).toBe(before)
    })
  })

  it('the port answered GETs on the fast path with keys cached, and none without', async () => {
    const count = await rig.fastCount()
    if (keyCacheMs === 0) expect(count).toBe(0)
    else expect(count).toBeGreaterThan(0)
  })
})
