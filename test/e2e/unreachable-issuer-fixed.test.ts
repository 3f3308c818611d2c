/**
 * End to end: an AuthProvider pointing at an unreachable token endpoint fails with an error that
 * names the URL it tried, and cools down; fixing the definition and applying it again clears the
 * cooldown and the stored last error at once.
 */
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig, type Broker } from '../../src/index.ts'
import {
  listen,
  makeHome,
  openTestBroker,
  sendJson,
  TokenStub,
  type Listening,
  type TestHome,
} from './helpers/e2e.ts'
import { runCli } from '../cli/helpers.ts'

let stub: TokenStub
let upstream: Listening
let home: TestHome
let broker: Broker
let deadUrl: string

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function config(tokenUrl: string): object {
  return {
    authProviders: {
      Idp: {
        type: 'oauth2',
        tokenUrl,
        consumerKey: 'stub-client',
        consumerSecret: '${env:STUB_SECRET}',
      },
    },
    externalCredentials: {
      Machine: {
        protocol: 'oauth2',
        flow: 'client-credentials',
        authProvider: 'Idp',
        principals: { Service: { type: 'named' } },
      },
    },
    namedCredentials: { Api: { url: `${upstream.origin}/api`, externalCredential: 'Machine' } },
  }
}

beforeAll(async () => {
  stub = await new TokenStub().start()
  upstream = await listen((_req, res) => sendJson(res, 200, { ok: true }))
  home = await makeHome({ STUB_SECRET: 'stub-secret' })
  deadUrl = `http://127.0.0.1:${await closedPort()}/token`
  broker = await openTestBroker(home, config(deadUrl))
})

afterAll(async () => {
  await broker?.close()
  await Promise.all([stub?.listening.close(), upstream?.close()])
  await home?.cleanup()
})

describe('an unreachable token endpoint, fixed and applied again', () => {
  it('names the URL it tried, cools down, and works at once after the fix is applied', async () => {
    const first = await broker.fetch('callout:Api/x').then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string },
    )
    expect(first).toMatchObject({ code: 'TOKEN_ENDPOINT_ERROR' })
    expect(first?.message).toContain(deadUrl)
    await expect(broker.fetch('callout:Api/x')).rejects.toMatchObject({ code: 'REFRESH_COOLDOWN' })
    const [before] = await broker.status('Api')
    expect(before?.principals[0]?.lastError?.code).toBe('TOKEN_ENDPOINT_ERROR')

    await broker.apply(parseConfig(config(stub.tokenUrl), { env: home.env, onWarning: () => {} }))
    const res = await broker.fetch('callout:Api/x')
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect(stub.requests).toBe(1)
    const [after] = await broker.status('Api')
    expect(after?.principals[0]?.status).toBe('authenticated')
    expect(after?.principals[0]?.lastError).toBeUndefined()
  })
})

describe('the same fix applied with the CLI', () => {
  it('callout apply clears the stored error and the cooldown for every process', async () => {
    const cliHome = await makeHome({ STUB_SECRET: 'stub-secret' })
    const file = join(cliHome.dir, 'callout.json')
    try {
      await writeFile(file, JSON.stringify(config(deadUrl)))
      expect((await runCli(['apply', '-f', file], cliHome.env)).code).toBe(0)
      const failed = await runCli(['get', 'callout:Api/x'], cliHome.env)
      expect(failed.code).toBe(1)
      expect(failed.stderr).toContain('TOKEN_ENDPOINT_ERROR')
      // The stored error makes the next process cool down too.
      const cooling = await runCli(['get', 'callout:Api/x'], cliHome.env)
      expect(cooling.stderr).toContain('REFRESH_COOLDOWN')

      await writeFile(file, JSON.stringify(config(stub.tokenUrl)))
      expect((await runCli(['apply', '-f', file], cliHome.env)).code).toBe(0)
      const before = stub.requests
      const fixed = await runCli(['get', 'callout:Api/x'], cliHome.env)
      expect(fixed.stderr).toBe('')
      expect(fixed.code).toBe(0)
      expect(stub.requests).toBe(before + 1)
      const status = await runCli(['status', 'Api', '--json'], cliHome.env)
      expect(status.stdout).not.toContain('TOKEN_ENDPOINT_ERROR')
    } finally {
      await cliHome.cleanup()
    }
  })
})
