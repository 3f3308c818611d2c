/**
 * The Salesforce emulator behind `callout serve`: an emulated org with a JWT bearer Named
 * Credential `Target`, a broker on SQLite in memory, the server on 127.0.0.1 port 0 and a
 * credential port for `Target`, and a client key allowed to use it. For the SDK tests (jsforce,
 * @salesforce/core) that must only ever hold a placeholder.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { startEmulator, type Emulator } from '@callout/salesforce-emulator'
import { openBroker, parseConfig, type Broker } from '../../src/index.ts'
import { MasterKey } from '../../src/secrets/index.ts'
import type { KyselyStore } from '../../src/store/kysely-store.ts'
import { buildServer, type CalloutServer } from '../../src/server/build-server.ts'
import { generateClientKey } from '../../src/server/client-key.ts'
import { memoryLogger, type MemoryLog } from '../e2e/helpers/e2e.ts'
import { fastPathCount, listenCredentialPort } from './helpers.ts'

/** A running emulator, broker, server and credential port. */
export interface SalesforceRig {
  readonly emulator: Emulator
  readonly broker: Broker
  readonly server: CalloutServer
  readonly port: FastifyInstance
  /** The main server (`/callout/…`, `/jsforce-proxy`). */
  readonly proxyOrigin: string
  /** The credential port serving `Target`. */
  readonly portOrigin: string
  /** A client key allowed to use `Target`. */
  readonly key: string
  readonly log: MemoryLog
  /** The real access token the broker holds for `Target` now (never given to a client). */
  realToken(): Promise<string | undefined>
  /** Requests the fast paths answered so far (`callout_proxy_fast_path_total`). */
  fastCount(): Promise<number>
  close(): Promise<void>
}

/**
 * Starts the rig for `username` with the `records` the org starts with. `keyCacheMs` is the
 * server's (0: every key read again, so nothing takes the fast path).
 *
 * @example
 * const rig = await startSalesforceRig('sdk@target.example', { Account: [{ Name: 'Acme' }] })
 */
export async function startSalesforceRig(
  username: string,
  records: Record<string, Record<string, unknown>[]>,
  options: { readonly keyCacheMs?: number } = {},
): Promise<SalesforceRig> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const emulator = await startEmulator({
    orgs: [
      {
        name: 'target',
        users: [{ username }],
        connectedApps: [
          {
            name: 'Callout',
            callbackUrls: ['http://localhost:7171/oauth/callback'],
            certificate: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          },
        ],
        records,
      },
    ],
  })
  const org = emulator.org('target')
  const home = await mkdtemp(join(tmpdir(), 'callout-proxy-sf-'))
  const broker = await openBroker({
    home,
    masterKey: MasterKey.generate(),
    store: ':memory:',
    env: {},
  })
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
                parameters: { username },
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
  await store.clientKeys.createClientKey({
    id: generated.id,
    name: 'sdk',
    rules: ['Target'],
    anyUser: false,
    keyHash: generated.hash,
    createdAt: Date.now(),
  })
  const log = memoryLogger()
  const server = buildServer({
    broker,
    keys: store.clientKeys,
    logger: log.logger,
    processMetrics: false,
    ...options,
  })
  await server.app.listen({ host: '127.0.0.1', port: 0 })
  const { app: port, origin: portOrigin } = await listenCredentialPort(server, 'Target')
  const proxyOrigin = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`
  return {
    emulator,
    broker,
    server,
    port,
    proxyOrigin,
    portOrigin,
    key: generated.key,
    log,
    fastCount: () => fastPathCount(proxyOrigin),
    realToken: async () =>
      (
        await broker.store.getCredential({
          externalCredential: 'TargetAuth',
          principal: 'Integration',
          userId: '',
        })
      )?.accessToken?.reveal(),
    close: async () => {
      await port.close()
      await server.app.close()
      await broker.close()
      await emulator.close()
      await rm(home, { recursive: true, force: true })
    },
  }
}
