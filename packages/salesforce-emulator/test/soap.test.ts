import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../src/index.ts'

let emulator: Emulator
let instance = ''
let token = ''

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [{ name: 'soap', users: [{ username: 'soap@example.com', password: 'Pw-12345!' }] }],
  })
  const org = emulator.org('soap')
  instance = org.instanceUrl
  const app = org.connectedApp(org.connectedApps[0]!.name)
  const res = await fetch(`${org.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: app.consumerKey,
      client_secret: app.consumerSecret,
      username: 'soap@example.com',
      password: 'Pw-12345!',
    }),
  })
  token = ((await res.json()) as { access_token: string }).access_token
})
afterAll(async () => emulator?.close())

const envelope = (session: string, operation: string) =>
  `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header><SessionHeader><sessionId>${session}</sessionId></SessionHeader></soapenv:Header><soapenv:Body><${operation}/></soapenv:Body></soapenv:Envelope>`

async function soap(path: string, session: string, operation: string, headers = {}) {
  const res = await fetch(`${instance}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml', soapaction: '""', ...headers },
    body: envelope(session, operation),
  })
  return { status: res.status, text: await res.text() }
}

describe('SOAP API', () => {
  it('getUserInfo with the session id of the envelope', async () => {
    const res = await soap('/services/Soap/u/61.0', token, 'getUserInfo')
    expect(res.status).toBe(200)
    expect(res.text).toContain('<userName>soap@example.com</userName>')
  })

  it('an invalid session is HTTP 500 sf:INVALID_SESSION_ID, even with a valid Authorization header', async () => {
    const res = await soap('/services/Soap/u/61.0', 'nope', 'getUserInfo', {
      authorization: `Bearer ${token}`,
    })
    expect(res.status).toBe(500)
    expect(res.text).toContain('<faultcode>sf:INVALID_SESSION_ID</faultcode>')
  })

  it('listMetadata is empty; other operations are sf:INVALID_OPERATION', async () => {
    const listed = await soap('/services/Soap/m/61.0', token, 'listMetadata')
    expect(listed.status).toBe(200)
    expect(listed.text).toContain('listMetadataResponse')
    const other = await soap('/services/Soap/u/61.0', token, 'query')
    expect(other.status).toBe(500)
    expect(other.text).toContain('sf:INVALID_OPERATION')
  })

  it('Bulk API 1.0 reads X-SFDC-Session only, never Authorization', async () => {
    const bulk = (headers: Record<string, string>) =>
      fetch(`${instance}/services/async/61.0/job`, {
        method: 'POST',
        headers: { 'content-type': 'application/xml', ...headers },
        body: '<jobInfo/>',
      }).then((r) => r.text())
    expect(await bulk({ authorization: `Bearer ${token}` })).toContain('InvalidSessionId')
    expect(await bulk({ 'x-sfdc-session': token })).toContain('FeatureNotEnabled')
  })
})
