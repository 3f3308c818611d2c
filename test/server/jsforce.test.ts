/**
 * jsforce 3.10.16, unmodified, through `callout serve`: through a credential port (login against
 * the port, query, CRUD, describe, then a session expiry in the emulator that jsforce never
 * notices) and through its `proxyUrl` protocol. jsforce only ever holds a placeholder.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import jsforce from 'jsforce'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '@callout/salesforce-emulator'
import { openBroker, parseConfig, type Broker } from '../../src/index.ts'
import { MasterKey } from '../../src/secrets/index.ts'
import type { KyselyStore } from '../../src/store/kysely-store.ts'
import { buildServer, type CalloutServer } from '../../src/server/build-server.ts'
import { generateClientKey } from '../../src/server/client-key.ts'
import { buildCredentialPort } from '../../src/server/credential-port.ts'
import { memoryLogger, type MemoryLog } from '../e2e/helpers/e2e.ts'

const USERNAME = 'jsforce-proxy@target.example'
const V = '61.0'
let emulator: Emulator
let broker: Broker
let home: string
let server: CalloutServer
let port: FastifyInstance
let proxyOrigin = ''
let portOrigin = ''
let key = ''
let log: MemoryLog

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
        records: { Account: [{ Name: 'Acme' }, { Name: 'Globex' }] },
      },
    ],
  })
  const org = emulator.org('target')
  home = await mkdtemp(join(tmpdir(), 'callout-proxy-jsforce-'))
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
        namedCredentials: { Target: { url: org.instanceUrl, externalCredential: 'TargetAuth' } },
      },
      { allowInlineSecrets: true, env: {} },
    ),
  )
  const store = broker.store as KyselyStore
  const generated = generateClientKey()
  key = generated.key
  await store.clientKeys.createClientKey({
    id: generated.id,
    name: 'jsforce',
    rules: ['Target'],
    anyUser: false,
    keyHash: generated.hash,
    createdAt: Date.now(),
  })
  log = memoryLogger()
  server = buildServer({
    broker,
    keys: store.clientKeys,
    logger: log.logger,
    processMetrics: false,
  })
  await server.app.listen({ host: '127.0.0.1', port: 0 })
  proxyOrigin = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`
  port = buildCredentialPort(server, 'Target', () => portOrigin)
  await port.listen({ host: '127.0.0.1', port: 0 })
  portOrigin = `http://127.0.0.1:${(port.server.address() as AddressInfo).port}`
  broker.on('refreshed', () => undefined)
})

afterAll(async () => {
  await port?.close()
  await server?.app.close()
  await broker?.close()
  await emulator?.close()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

async function noRealToken(conn: jsforce.Connection): Promise<void> {
  expect(conn.accessToken).toMatch(/^00D000000000000!ck_/)
  const stored = await broker.store.getCredential({
    externalCredential: 'TargetAuth',
    principal: 'Integration',
    userId: '',
  })
  const real = stored?.accessToken?.reveal()
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
    expect(emulator.requestLog.tokenRequests()).toBe(0)
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
    expect(((await conn.sobject('Account').retrieve(id)) as { Name: string }).Name).toBe('Initrode')
    await conn.sobject('Account').destroy(id)
    const describe = await conn.sobject('Account').describe()
    expect(describe.name).toBe('Account')
    expect(emulator.requestLog.tokenRequests()).toBe(1)
  })

  it('a session expiry in the org is handled by the proxy: jsforce never notices', async () => {
    const refreshes: unknown[] = []
    conn.on('refresh', (t) => refreshes.push(t))
    const before = emulator.requestLog.tokenRequests()
    emulator.faults.expireSessions()
    const [a, b] = await Promise.all([
      conn.query<{ Name: string }>("SELECT Name FROM Account WHERE Name = 'Acme'"),
      conn.sobject('Account').create({ Name: 'After expiry' }),
    ])
    expect(a.records[0]?.Name).toBe('Acme')
    expect(b.success).toBe(true)
    expect(refreshes).toEqual([])
    expect(emulator.requestLog.tokenRequests() - before).toBe(1)
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
    const text = log.lines.join('\n')
    expect(text).not.toContain(key)
  })
})
