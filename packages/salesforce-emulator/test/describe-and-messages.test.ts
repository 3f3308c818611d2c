/**
 * Describe, records and error messages as clients type and read them: labels, the describe
 * properties typed clients expect, User.ProfileId, the caller's spelling in INVALID_FIELD
 * messages, and the documented limits keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'
import { getJson } from './helpers/oauth.ts'

describe('describe and messages', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let token: string
  const get = (path: string) => getJson(`${org.instanceUrl}/services/data/v61.0${path}`, token)
  const soql = (text: string) => get(`/query?q=${encodeURIComponent(text)}`)

  beforeAll(async () => {
    emulator = await startEmulator({
      orgs: [
        {
          name: 'describe',
          users: [
            { username: 'admin@describe.example' },
            { username: 'ops@describe.example', profile: 'Standard User' },
            { username: 'dev@describe.example', profile: 'standard user' },
          ],
        },
      ],
    })
    org = emulator.org('describe')
    token = org.issueTokens().accessToken
  })
  afterAll(async () => {
    await emulator.close()
  })

  it('labels fields as Salesforce writes them', async () => {
    const res = await get('/sobjects/Account/describe')
    const label = (name: string) =>
      (res.body.fields as { name: string; label: string }[]).find((f) => f.name === name)?.label
    expect(label('Id')).toBe('Account ID')
    expect(label('CreatedById')).toBe('Created By ID')
    expect(label('CreatedDate')).toBe('Created Date')
    expect(label('LastModifiedById')).toBe('Last Modified By ID')
    expect(label('OwnerId')).toBe('Owner ID')
    const contact = await get('/sobjects/Contact/describe')
    expect(
      (contact.body.fields as { name: string; label: string }[])
        .filter((f) => ['Id', 'AccountId'].includes(f.name))
        .map((f) => f.label),
    ).toEqual(['Contact ID', 'Account ID'])
  })

  it('answers the describe properties typed clients read', async () => {
    const res = await get('/sobjects/Account/describe')
    expect(res.body).toMatchObject({
      actionOverrides: [],
      compactLayoutable: true,
      deepCloneable: false,
      idEnabled: true,
      isInterface: false,
      listviewable: null,
      lookupLayoutable: null,
      namedLayoutInfos: [],
      searchLayoutable: true,
      urls: {
        uiDetailTemplate: `${org.instanceUrl}/{ID}`,
        uiEditTemplate: `${org.instanceUrl}/{ID}/e`,
        uiNewRecord: `${org.instanceUrl}/001/e`,
      },
    })
    const global = await get('/sobjects')
    const account = (global.body.sobjects as { name: string }[]).find((s) => s.name === 'Account')
    expect(account).toMatchObject({ deepCloneable: false, idEnabled: true, isInterface: false })
    expect(
      (res.body.childRelationships as { relationshipName: string }[]).map(
        (r) => r.relationshipName,
      ),
    ).toEqual(expect.arrayContaining(['Contacts', 'Opportunities', 'Cases', 'ChildAccounts']))
  })

  it('gives User records a ProfileId that points at a Profile, shared by name', async () => {
    const ops = await get(`/sobjects/User/${org.user('ops@describe.example').userId}`)
    expect(ops.body.ProfileName).toBeUndefined()
    expect(ops.body.ProfileId).toMatch(/^00e/)
    const dev = await get(`/sobjects/User/${org.user('dev@describe.example').userId}`)
    expect(dev.body.ProfileId).toBe(ops.body.ProfileId)
    const res = await soql('SELECT Username, Profile.Name FROM User ORDER BY Username')
    expect(
      (res.body.records as { Username: string; Profile: { Name: string } }[]).map((r) => [
        r.Username,
        r.Profile.Name,
      ]),
    ).toEqual([
      ['admin@describe.example', 'System Administrator'],
      ['dev@describe.example', 'Standard User'],
      ['ops@describe.example', 'Standard User'],
    ])
  })

  it('keeps the caller’s spelling of a field in INVALID_FIELD messages', async () => {
    const typed = await soql('SELECT Id FROM Account WHERE nAmE = 5')
    expect(typed.status).toBe(400)
    expect(typed.body[0].errorCode).toBe('INVALID_FIELD')
    expect(typed.body[0].message).toContain(
      "value of filter criterion for field 'nAmE' must be of type string and should be enclosed in quotes",
    )
    const unknown = await soql('SELECT nAmEx FROM Account')
    expect(unknown.body[0].message).toContain("No such column 'nAmEx' on entity 'Account'")
    const body = await fetch(`${org.instanceUrl}/services/data/v61.0/sobjects/Account`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ Name: 'x', indusTREE: 'y' }),
    })
    expect(await body.json()).toEqual([
      {
        message: "No such column 'indusTREE' on sobject of type Account",
        errorCode: 'INVALID_FIELD',
      },
    ])
  })

  it('lists the documented limits, each { Max, Remaining }', async () => {
    const res = await get('/limits')
    for (const key of [
      'DailyApiRequests',
      'DailyAsyncApexExecutions',
      'DailyBulkApiBatches',
      'DailyBulkV2QueryJobs',
      'DailyStreamingApiEvents',
      'DataStorageMB',
      'FileStorageMB',
      'HourlyODataCallout',
      'SingleEmail',
      'StreamingApiConcurrentClients',
      'PermissionTypes',
    ]) {
      expect(res.body[key], key).toEqual({ Max: expect.any(Number), Remaining: expect.any(Number) })
    }
  })
})
