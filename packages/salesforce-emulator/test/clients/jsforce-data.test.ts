/**
 * jsforce 3.10.16, unmodified, on what org-to-org syncs use beyond CRUD: parent-to-child
 * subqueries, aggregate queries, and upsert of a standard object by a custom external id.
 */
import jsforce from 'jsforce'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'

describe('jsforce 3.10.16: subqueries, aggregates, upsert by external id', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let conn: jsforce.Connection

  beforeAll(async () => {
    emulator = await startEmulator({
      orgs: [
        {
          name: 'jsforce-data',
          users: [{ username: 'sync@jsforce.example', password: 'Sync-Pass-1' }],
          connectedApps: [{ name: 'Sync', callbackUrls: ['http://localhost:1717/OauthRedirect'] }],
          customFields: {
            Account: [{ name: 'External_Id__c', type: 'string', externalId: true, unique: true }],
          },
        },
      ],
    })
    org = emulator.org('jsforce-data')
    const app = org.connectedApp()
    conn = new jsforce.Connection({
      oauth2: {
        loginUrl: org.loginUrl,
        clientId: app.consumerKey,
        clientSecret: app.consumerSecret,
      },
      version: '61.0',
    })
    await conn.login('sync@jsforce.example', 'Sync-Pass-1')
    const acme = org.data.insert('Account', {
      Name: 'Acme',
      Industry: 'Banking',
      External_Id__c: 'A-1',
    })
    org.data.insert('Account', { Name: 'Globex', Industry: 'Banking' })
    org.data.insert('Account', { Name: 'Initech', Industry: 'Energy' })
    for (const last of ['Lovelace', 'Hopper'])
      org.data.insert('Contact', { LastName: last, AccountId: acme })
  })
  afterAll(async () => {
    await emulator.close()
  })

  it('nests child records of a subquery, null when there are none', async () => {
    const res = await conn.query<{
      Name: string
      Contacts: { totalSize: number; done: boolean; records: { LastName: string }[] } | null
    }>('SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account ORDER BY Name')
    expect(
      res.records.map((r) => [r.Name, r.Contacts?.records.map((c) => c.LastName) ?? null]),
    ).toEqual([
      ['Acme', ['Hopper', 'Lovelace']],
      ['Globex', null],
      ['Initech', null],
    ])
    expect(res.records[0]?.Contacts).toMatchObject({ totalSize: 2, done: true })
  })

  it('runs aggregate queries with GROUP BY, HAVING and expr0', async () => {
    const res = await conn.query<{ Industry: string; n: number; expr0: string }>(
      'SELECT Industry, COUNT(Id) n, MAX(Name) FROM Account GROUP BY Industry HAVING COUNT(Id) > 0 ORDER BY Industry',
    )
    expect(res.records).toEqual([
      { attributes: { type: 'AggregateResult' }, Industry: 'Banking', n: 2, expr0: 'Globex' },
      { attributes: { type: 'AggregateResult' }, Industry: 'Energy', n: 1, expr0: 'Initech' },
    ])
    const err: unknown = await conn.query('SELECT Name, COUNT(Id) FROM Account').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toMatchObject({ errorCode: 'MALFORMED_QUERY' })
    expect(String((err as Error).message)).toContain('Field must be grouped or aggregated: Name')
  })

  it('upserts Accounts by External_Id__c: insert, then update the same record', async () => {
    const created = await conn
      .sobject('Account')
      .upsert({ External_Id__c: 'B-2', Name: 'Umbrella' }, 'External_Id__c')
    expect(created).toMatchObject({ success: true, created: true })
    const updated = await conn
      .sobject('Account')
      .upsert({ External_Id__c: 'b-2', Name: 'Umbrella Corp' }, 'External_Id__c')
    expect(updated).toMatchObject({
      success: true,
      created: false,
      id: (created as { id: string }).id,
    })
    const row = await conn.sobject('Account').retrieve((created as { id: string }).id)
    expect(row).toMatchObject({ Name: 'Umbrella Corp', External_Id__c: 'B-2' })
    const many = await conn.sobject('Account').upsert(
      [
        { External_Id__c: 'A-1', Name: 'Acme Ltd' },
        { External_Id__c: 'C-3', Name: 'Cyberdyne' },
      ],
      'External_Id__c',
    )
    expect(many.map((r) => r.success)).toEqual([true, true])
    const names = await conn.query<{ Name: string }>(
      "SELECT Name FROM Account WHERE External_Id__c IN ('A-1', 'C-3') ORDER BY Name",
    )
    expect(names.records.map((r) => r.Name)).toEqual(['Acme Ltd', 'Cyberdyne'])
  })
})
