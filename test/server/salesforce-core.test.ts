/**
 * @salesforce/core 8 (with @jsforce/jsforce-node 3.10.16), unmodified, through a credential port
 * of `callout serve`: `AuthInfo`/`Connection` pointed at the port with a placeholder access token
 * (and, second way in, a refresh-token login against the port with the client key), then query,
 * CRUD, describe and identity, and a session expiry in the emulated org that the SDK never notices.
 * Its auth files go to a temporary HOME and hold only the placeholder and the client key. Every
 * test runs without and with keys cached (then the port answers GETs on its fast path).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSalesforceRig, type SalesforceRig } from './salesforce-rig.ts'

type Core = typeof import('@salesforce/core')
type Connection = Awaited<ReturnType<Core['Connection']['create']>>

/** One org user per run (the SDK keeps files and caches per username). */
let username = ''
const SF_ENV = {
  SF_USE_GENERIC_UNIX_KEYCHAIN: 'true',
  SF_DISABLE_DNS_CHECK: 'true',
  SF_DISABLE_LOG_FILE: 'true',
  SF_DISABLE_TELEMETRY: 'true',
}
let rig: SalesforceRig
let core: Core
let sfHome = ''
const saved: Record<string, string | undefined> = {}

beforeAll(async () => {
  // @salesforce/core reads HOME when it loads: point it at a temporary folder first.
  sfHome = await mkdtemp(join(tmpdir(), 'callout-sfcore-home-'))
  for (const [name, value] of Object.entries({ ...SF_ENV, HOME: sfHome })) {
    saved[name] = process.env[name]
    process.env[name] = value
  }
  core = await import('@salesforce/core')
})

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  if (sfHome !== '') await rm(sfHome, { recursive: true, force: true })
})

/** Every file @salesforce/core wrote, as text. */
async function writtenFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  for (const name of await readdir(sfHome, { recursive: true })) {
    const text = await readFile(join(sfHome, name), 'utf8').catch(() => undefined)
    if (text !== undefined) files.set(name, text)
  }
  return files
}

async function expectNoRealToken(conn: Connection): Promise<void> {
  const real = await rig.realToken()
  expect(real).toBeDefined()
  expect(conn.accessToken).toBe(`00D000000000000!${rig.key}`)
  const fields = conn.getAuthInfoFields()
  expect(JSON.stringify(fields)).not.toContain(real!)
  for (const [, text] of await writtenFiles()) expect(text).not.toContain(real!)
}

/** Every test on the full path (each key read again), then with keys cached (the fast path). */
describe.each([
  ['the full path', 0],
  ['the fast path', 60_000],
] as const)('@salesforce/core through a credential port, %s', (_path, keyCacheMs) => {
  let conn: Connection

  beforeAll(async () => {
    username = `core-${keyCacheMs}@target.example`
    rig = await startSalesforceRig(
      username,
      { Account: [{ Name: 'Acme' }, { Name: 'Globex' }] },
      { keyCacheMs },
    )
  })
  afterAll(async () => rig?.close())

  it('AuthInfo with a placeholder access token on the port: query, CRUD, describe, identity', async () => {
    const authInfo = await core.AuthInfo.create({
      accessTokenOptions: {
        accessToken: `00D000000000000!${rig.key}`,
        instanceUrl: rig.portOrigin,
        loginUrl: rig.portOrigin,
      },
    })
    // AuthInfo asked the port who it is (userinfo, then the User record): the org's real user.
    expect(authInfo.getUsername()).toBe(username)
    conn = await core.Connection.create({ authInfo })
    expect(conn.instanceUrl).toBe(rig.portOrigin)

    const q = await conn.query<{ Name: string }>('SELECT Name FROM Account ORDER BY Name')
    expect(q.records.map((r) => r.Name)).toEqual(['Acme', 'Globex'])
    const created = await conn.sobject('Account').create({ Name: 'Initech' })
    expect(created.success).toBe(true)
    const id = (created as { id: string }).id
    expect(((await conn.sobject('Account').retrieve(id)) as { Name: string }).Name).toBe('Initech')
    await conn.sobject('Account').update({ Id: id, Name: 'Initrode' })
    const one = await conn.singleRecordQuery<{ Name: string }>(
      `SELECT Name FROM Account WHERE Id = '${id}'`,
    )
    expect(one.Name).toBe('Initrode')
    await conn.sobject('Account').destroy(id)
    expect((await conn.sobject('Account').describe()).name).toBe('Account')
    expect((await conn.describeGlobal()).sobjects.some((s) => s.name === 'Account')).toBe(true)
    // identity() follows the absolute `identity` URL of the versioned root: rewritten to the port.
    const identity = await conn.identity()
    expect(identity.username).toBe(username)
    // One token request in all, made by Callout (jwt-bearer), none by the SDK.
    expect(rig.emulator.requestLog.tokenRequests()).toBe(1)
    await expectNoRealToken(conn)
  })

  it('a session expiry in the org is handled by Callout: the SDK never notices', async () => {
    const refreshes: unknown[] = []
    conn.on('refresh', (token) => refreshes.push(token))
    const before = rig.emulator.requestLog.tokenRequests()
    rig.emulator.faults.expireSessions()
    const [q, created] = await Promise.all([
      conn.query<{ Name: string }>("SELECT Name FROM Account WHERE Name = 'Acme'"),
      conn.sobject('Account').create({ Name: 'After expiry' }),
      conn.sobject('Account').describe(),
    ])
    expect(q.records[0]?.Name).toBe('Acme')
    expect(created.success).toBe(true)
    expect(refreshes).toEqual([])
    expect(rig.emulator.requestLog.tokenRequests() - before).toBe(1)
    await expectNoRealToken(conn)
  })

  it('a refresh-token login against the port gets a local placeholder; the org sees no login', async () => {
    const before = rig.emulator.requestLog.tokenRequests()
    const authInfo = await core.AuthInfo.create({
      oauth2Options: { refreshToken: rig.key, loginUrl: rig.portOrigin, clientId: 'PlatformCLI' },
    })
    const fields = authInfo.getFields(true)
    expect(fields.accessToken).toBe(`00D000000000000!${rig.key}`)
    expect(fields.instanceUrl).toBe(rig.portOrigin)
    const second = await core.Connection.create({ authInfo })
    expect((await second.query('SELECT Id FROM Account')).totalSize).toBeGreaterThan(0)
    expect(rig.emulator.requestLog.tokenRequests()).toBe(before)
    await expectNoRealToken(second)
  })

  it('writes its auth files under the temporary HOME only, encrypted', async () => {
    const files = await writtenFiles()
    expect([...files.keys()].sort()).toEqual(
      expect.arrayContaining(['.sfdx/key.json', `.sfdx/${username}.json`]),
    )
    // The client key is in them only encrypted (what AuthInfo encrypts: fields named *token*).
    for (const [, text] of files) expect(text).not.toContain(rig.key)
  })

  it('the Metadata API (SOAP): the placeholder in the envelope is replaced with the real session', async () => {
    const soap = { path: /^\/services\/Soap\/m\// }
    const before = rig.emulator.requestLog.entries(soap).length
    const listed = await conn.metadata.list([{ type: 'ApexClass' }])
    // The emulated org holds no metadata: an empty list means its session check passed.
    expect(listed).toEqual([])
    expect(rig.emulator.requestLog.entries(soap).length).toBe(before + 1)
  })

  it('the port answered GETs on the fast path with keys cached, and none without', async () => {
    const count = await rig.fastCount()
    if (keyCacheMs === 0) expect(count).toBe(0)
    else expect(count).toBeGreaterThan(0)
  })
})
