/**
 * @salesforce/core 8.x (with @jsforce/jsforce-node 3.10.16), unmodified: JWT `AuthInfo`,
 * `Connection`, `autoFetchQuery`, `singleRecordQuery`, `tooling.query`, and the JWT re-mint after an expired
 * session. HOME and the SF_* settings point at a temporary directory, so nothing touches the real
 * home or keychain.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '@callout/salesforce-emulator'

const ENV = {
  SF_USE_GENERIC_UNIX_KEYCHAIN: 'true',
  SFDX_USE_GENERIC_UNIX_KEYCHAIN: 'true',
  SF_DISABLE_TELEMETRY: 'true',
  SF_DISABLE_LOG_FILE: 'true',
  SF_DISABLE_DNS_CHECK: 'true',
  SF_AUTOUPDATE_DISABLE: 'true',
}

describe('@salesforce/core 8 against the emulator', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let home: string
  let keyFile: string
  let consumerKey: string
  const saved = new Map<string, string | undefined>()
  let core: typeof import('@salesforce/core')
  let authInfo: import('@salesforce/core').AuthInfo

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'sfcore-home-'))
    for (const [key, value] of Object.entries({ ...ENV, HOME: home, USERPROFILE: home })) {
      saved.set(key, process.env[key])
      process.env[key] = value
    }
    core = await import('@salesforce/core')
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    keyFile = join(home, 'server.key')
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
    emulator = await startEmulator({
      orgs: [
        {
          name: 'sfcore',
          queryBatchSize: 4,
          users: [
            { username: 'ci@sfcore.example', name: 'Ci Bot' },
            { username: 'other@sfcore.example' },
          ],
          records: { Account: Array.from({ length: 10 }, (_, i) => ({ Name: `Core ${i}` })) },
        },
      ],
    })
    org = emulator.org('sfcore')
    consumerKey = org.addConnectedApp({
      name: 'Sf Cli Jwt',
      callbackUrls: ['http://localhost:1717/OauthRedirect'],
      certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }).consumerKey
  })
  afterAll(async () => {
    await emulator.close()
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
    rmSync(home, { recursive: true, force: true })
  })

  it('authenticates with JWT AuthInfo and learns the org', async () => {
    authInfo = await core.AuthInfo.create({
      username: 'ci@sfcore.example',
      oauth2Options: { clientId: consumerKey, loginUrl: org.loginUrl, privateKeyFile: keyFile },
    })
    const fields = authInfo.getFields(true)
    expect(fields.orgId).toBe(org.orgId)
    expect(fields.instanceUrl).toBe(org.instanceUrl)
    expect(fields.isDevHub).toBe(false)
    expect(fields.accessToken).toMatch(/^00D/)
    expect(
      emulator.requestLog.count({ path: '/services/oauth2/token', status: 200 }),
    ).toBeGreaterThan(0)
  })

  it('queries through Connection: autoFetchQuery pages, singleRecordQuery finds one', async () => {
    const conn = await core.Connection.create({ authInfo })
    const all = await conn.autoFetchQuery(
      "SELECT Name FROM Account WHERE Name LIKE 'Core%' ORDER BY Name",
    )
    expect(all.totalSize).toBe(10)
    expect(all.records.map((r) => (r as { Name?: string }).Name)).toEqual(
      Array.from({ length: 10 }, (_, i) => `Core ${i}`),
    )
    const one = await conn.singleRecordQuery<{ Id: string; Name: string }>(
      "SELECT Id, Name FROM Account WHERE Name = 'Core 3'",
    )
    expect(one.Name).toBe('Core 3')
    await expect(
      conn.singleRecordQuery("SELECT Id FROM Account WHERE Name = 'none'"),
    ).rejects.toMatchObject({ name: 'SingleRecordQuery_NoRecords' })
    await expect(
      conn.singleRecordQuery("SELECT Id FROM Account WHERE Name LIKE 'Core%'"),
    ).rejects.toMatchObject({
      name: 'SingleRecordQuery_MultipleRecords',
    })
  })

  it('queries the Tooling API', async () => {
    org.addCustomField('Account', { name: 'External_Id__c', type: 'string', externalId: true })
    const conn = await core.Connection.create({ authInfo })
    const entity = await conn.tooling.query(
      "SELECT QualifiedApiName, KeyPrefix FROM EntityDefinition WHERE QualifiedApiName = 'Account'",
    )
    expect(entity.records).toEqual([
      expect.objectContaining({ QualifiedApiName: 'Account', KeyPrefix: '001' }),
    ])
    const fields = await conn.tooling.query(
      "SELECT DeveloperName FROM CustomField WHERE TableEnumOrId = 'Account'",
    )
    expect(fields.records.map((r) => (r as { DeveloperName?: string }).DeveloperName)).toEqual([
      'External_Id',
    ])
  })

  it('re-mints a JWT token when the session expires, then answers', async () => {
    const conn = await core.Connection.create({ authInfo })
    const before = conn.accessToken
    org.faults.expireSessions()
    emulator.requestLog.clear()
    const res = await conn.query<{ Name: string }>('SELECT Name FROM Organization')
    expect(res.records[0]?.Name).toBe('sfcore')
    expect(emulator.requestLog.tokenRequests('urn:ietf:params:oauth:grant-type:jwt-bearer')).toBe(1)
    expect(conn.accessToken).not.toBe(before)
  })

  it('reports an app that does not trust the key', async () => {
    const other = org.addConnectedApp({ name: 'No Cert', callbackUrls: ['http://localhost/cb'] })
    await expect(
      core.AuthInfo.create({
        username: 'other@sfcore.example',
        oauth2Options: {
          clientId: other.consumerKey,
          loginUrl: org.loginUrl,
          privateKeyFile: keyFile,
        },
      }),
    ).rejects.toThrow(/invalid client credentials/)
  })
})
