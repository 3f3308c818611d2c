/**
 * `broker.jsforce(name)`: jsforce 3.10.16, unmodified, against the Salesforce emulator, with its
 * session refresh going through the broker.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Connection } from 'jsforce'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '@callout/salesforce-emulator'
import { openBroker, parseConfig, type Broker } from '../../src/index.ts'
import { MasterKey } from '../../src/secrets/index.ts'

const USERNAME = 'jsforce-integration@target.example'

let emulator: Emulator
let broker: Broker
let home: string

beforeAll(async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  emulator = await startEmulator({
    orgs: [
      {
        name: 'target',
        users: [{ username: USERNAME }],
        connectedApps: [
          {
            name: 'Callout',
            callbackUrls: ['http://localhost:7171/oauth/callback'],
            certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          },
        ],
        queryBatchSize: 200,
        records: {
          Account: Array.from({ length: 450 }, (_, i) => ({
            Name: `Account ${String(i).padStart(3, '0')}`,
          })),
        },
      },
    ],
  })
  const org = emulator.org('target')
  home = await mkdtemp(join(tmpdir(), 'callout-jsforce-'))
  broker = await openBroker({ home, masterKey: MasterKey.generate(), store: ':memory:', env: {} })
  await broker.apply(
    parseConfig(
      {
        authProviders: {
          Target: {
            type: 'salesforce',
            loginUrl: org.loginUrl,
            consumerKey: org.connectedApp('Callout').consumerKey,
          },
        },
        externalCredentials: {
          TargetAuth: {
            protocol: 'oauth2',
            flow: 'jwt-bearer',
            authProvider: 'Target',
            principals: {
              Integration: {
                type: 'named',
                parameters: { username: USERNAME },
                secrets: {
                  privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
                },
              },
            },
          },
        },
        namedCredentials: { Target: { url: org.loginUrl, externalCredential: 'TargetAuth' } },
      },
      { allowInlineSecrets: true, env: {} },
    ),
  )
})

afterAll(async () => {
  await broker?.close()
  await emulator?.close()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

beforeEach(() => emulator.faults.reset())

describe('broker.jsforce', () => {
  it('queries with autoFetch over several pages on the token the broker minted', async () => {
    const conn = (await broker.jsforce('Target')) as Connection
    const records: { Name: string }[] = []
    await new Promise<void>((resolve, reject) => {
      conn
        .query('SELECT Name FROM Account ORDER BY Name')
        .on('record', (r: { Name: string }) => records.push(r))
        .on('end', () => resolve())
        .on('error', reject)
        .run({ autoFetch: true, maxFetch: 1000 })
    })
    expect(records).toHaveLength(450)
    expect(records[0]?.Name).toBe('Account 000')
    expect(records[449]?.Name).toBe('Account 449')
  })

  it('recovers from expired sessions with exactly one token request through the broker', async () => {
    const conn = (await broker.jsforce('Target')) as Connection
    emulator.faults.expireSessions()
    const before = emulator.requestLog.tokenRequests()
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        conn.query<{ Name: string }>("SELECT Name FROM Account WHERE Name = 'Account 007'"),
      ),
    )
    for (const r of results) expect(r.records[0]?.Name).toBe('Account 007')
    expect(emulator.requestLog.tokenRequests() - before).toBe(1)
    // The broker's own callouts use the same fresh token: no further token request.
    const res = await broker.fetch('callout:Target/services/data/v61.0/limits')
    expect(res.status).toBe(200)
    await res.body?.cancel()
    expect(emulator.requestLog.tokenRequests() - before).toBe(1)
  })

  it('stops with REFRESH_LOOP when the org keeps rejecting freshly minted tokens', async () => {
    const conn = (await broker.jsforce('Target')) as Connection
    emulator.faults.failNext(10, { status: 401, scope: 'rest' })
    const before = emulator.requestLog.tokenRequests()
    const error = await conn.query('SELECT Name FROM Account LIMIT 1').then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(error).toBeInstanceOf(Error)
    expect(error?.message).toMatch(
      /^Unable to refresh session due to: .*refreshing again cannot help/,
    )
    // One refresh happened; the loop guard refused the second.
    expect(emulator.requestLog.tokenRequests() - before).toBe(1)
  })

  it('refuses an unknown credential with CREDENTIAL_NOT_FOUND', async () => {
    await expect(broker.jsforce('Nope')).rejects.toMatchObject({ code: 'CREDENTIAL_NOT_FOUND' })
  })
})
