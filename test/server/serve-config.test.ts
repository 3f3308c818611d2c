/**
 * `callout serve -f callout.yaml`: the `serve` section (credential ports, metrics token, limits)
 * with flags over it, the same file applied by `callout apply` (which ignores the section), and
 * `/metrics` behind its token (or off on a non-loopback address). The real command, in-process.
 */
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveCommand, type ServeOptions } from '../../src/cli/commands/serve.ts'
import { listen, TokenServer, type Listening } from '../helpers/callout-servers.ts'
import {
  captureIo,
  freePort,
  runCli,
  tempHome,
  waitFor,
  writeText,
  type CapturedIo,
  type TempHome,
} from '../cli/helpers.ts'

const METRICS_TOKEN = randomBytes(24).toString('hex')
let home: TempHome
let tokens: TokenServer
let upstream: Listening
let key = ''

beforeAll(async () => {
  tokens = await new TokenServer().start()
  upstream = await listen((req, res) => {
    const ok = req.headers.authorization === `Bearer ${tokens.current}`
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ url: req.url }))
  })
  home = await tempHome({
    CALLOUT_MASTER_KEY: randomBytes(32).toString('base64'),
    PROXY_SECRET: 'serve-config-secret',
  })
  // No CALLOUT_METRICS_TOKEN here: apply ignores the serve section and never needs its secrets.
  const file = await writeText(home.dir, 'callout.yaml', config(await freePort()))
  const applied = await runCli(['apply', '-f', file], home.env)
  expect(applied.stderr).toBe('')
  expect(applied.code).toBe(0)
  key = (await runCli(['keys', 'create', '--allow', 'Api'], home.env)).stdout.trim()
})

afterAll(async () => {
  await tokens?.listening.close()
  await upstream?.close()
  await home?.remove()
})

function config(apiPort: number, serve: string[] = []): string {
  return [
    'authProviders:',
    `  Provider: { type: oauth2, consumerKey: client-id, consumerSecret: '\${env:PROXY_SECRET}', tokenUrl: '${tokens.tokenUrl}' }`,
    'externalCredentials:',
    '  Api: { protocol: oauth2, flow: client-credentials, authProvider: Provider, principals: { Default: { type: named } } }',
    'namedCredentials:',
    `  Api: { url: '${upstream.origin}/api', externalCredential: Api }`,
    'serve:',
    '  host: 127.0.0.1',
    '  port: 0',
    `  credentialPorts: { Api: ${apiPort} }`,
    "  metricsToken: '${env:CALLOUT_METRICS_TOKEN}'",
    '  reloadIntervalMs: 0',
    ...serve.map((line) => `  ${line}`),
  ].join('\n')
}

/** A running `callout serve`, stopped by `stop()`. */
interface Running {
  readonly captured: CapturedIo
  readonly origin: string
  stop(): Promise<void>
}

async function serve(options: ServeOptions, env = home.env): Promise<Running> {
  const captured = captureIo({ ...env, CALLOUT_METRICS_TOKEN: METRICS_TOKEN }, { cwd: home.dir })
  const signals = new EventEmitter()
  let failure: unknown
  const done = serveCommand(captured.io, options, signals).catch((error: unknown) => {
    failure = error
  })
  await waitFor(
    () => failure !== undefined || /listening on \S+[\s\S]*\n$/.test(captured.stderr()),
    20_000,
  )
  if (failure !== undefined) throw failure as Error
  await waitFor(() => captured.stderr().split('\n').length > 1 + options.credentialPort!.length)
  return {
    captured,
    origin: /listening on (http:\S+)/.exec(captured.stderr())?.[1] ?? '',
    stop: async () => {
      signals.emit('SIGTERM')
      await done
    },
  }
}

async function metrics(origin: string, authorization?: string) {
  const res = await request(`${origin}/metrics`, {
    headers: authorization === undefined ? {} : { authorization },
  })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

describe('callout serve -f with a serve section', () => {
  it('serves the credential ports of the file, a flag overriding a port; /metrics needs its token', async () => {
    const filePort = await freePort()
    const flagPort = await freePort()
    const file = await writeText(home.dir, 'serve.yaml', config(filePort))
    const run = await serve({ file, credentialPort: [`Api=${flagPort}`] })
    try {
      expect(run.captured.stderr()).toContain(
        `Api as a bare origin on http://127.0.0.1:${flagPort}`,
      )
      const res = await request(`http://127.0.0.1:${flagPort}/hello`, {
        headers: { authorization: `Bearer ${key}` },
      })
      expect(res.statusCode).toBe(200)
      expect(await res.body.json()).toEqual({ url: '/api/hello' })
      await expect(request(`http://127.0.0.1:${filePort}/hello`)).rejects.toMatchObject({
        code: 'ECONNREFUSED',
      })

      const missing = await metrics(run.origin)
      expect(missing.status).toBe(401)
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="callout metrics"')
      expect(JSON.parse(missing.text).error.code).toBe('METRICS_TOKEN_INVALID')
      const wrongToken = `${METRICS_TOKEN.slice(0, -1)}x`
      for (const wrong of [
        `Bearer ${wrongToken}`,
        `Basic ${Buffer.from(`a:${METRICS_TOKEN}`).toString('base64')}`,
        `Bearer ${METRICS_TOKEN} extra`,
        `Bearer ${key}`,
      ]) {
        const answer = await metrics(run.origin, wrong)
        expect(answer.status).toBe(401)
        // No detail: a wrong token is answered exactly like a missing one.
        expect(answer.text).toBe(missing.text)
        expect(answer.text).not.toContain(METRICS_TOKEN)
        expect(answer.text).not.toContain(wrongToken)
      }
      const ok = await metrics(run.origin, `Bearer ${METRICS_TOKEN}`)
      expect(ok.status).toBe(200)
      expect(ok.headers['www-authenticate']).toBeUndefined()
      expect(ok.text).toMatch(
        /callout_proxy_requests_total\{credential="Api",status_class="2xx"\} 1/,
      )
    } finally {
      await run.stop()
    }
    expect(run.captured.stdout()).not.toContain(METRICS_TOKEN)
    expect(run.captured.stderr()).not.toContain(METRICS_TOKEN)
  })

  it('turns /metrics off on a non-loopback address without a token, and says so', async () => {
    const file = await writeText(
      home.dir,
      'public.yaml',
      config(await freePort())
        .replace(/^ {2}metricsToken:.*$/m, '')
        .replace('host: 127.0.0.1', 'host: 0.0.0.0'),
    )
    const run = await serve({ file, credentialPort: [], noConsole: true })
    try {
      expect(run.captured.stderr()).toContain('/metrics is off')
      const port = new URL(run.origin).port
      const off = await metrics(`http://127.0.0.1:${port}`)
      expect(off.status).toBe(404)
      expect(JSON.parse(off.text).error.code).toBe('ROUTE_NOT_FOUND')
      expect((await request(`http://127.0.0.1:${port}/healthz`)).statusCode).toBe(200)
    } finally {
      await run.stop()
    }
  })

  it('refuses a credential port for an unknown credential with a suggestion, and listens on nothing', async () => {
    const file = await writeText(
      home.dir,
      'typo.yaml',
      config(await freePort()).replace('credentialPorts: { Api:', 'credentialPorts: { Apj:'),
    )
    const run = await runCli(['serve', '-f', file], {
      ...home.env,
      CALLOUT_METRICS_TOKEN: METRICS_TOKEN,
    })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('CREDENTIAL_NOT_FOUND')
    expect(run.stderr).toContain(`serve.credentialPorts.Apj in ${file}`)
    expect(run.stderr).toContain('did you mean Api?')
    expect(run.stderr).not.toContain('listening on')
  })

  it('refuses a malformed serve section with every problem, before opening the store', async () => {
    const file = await writeText(
      home.dir,
      'bad.yaml',
      config(7071, ['prot: 7070', 'maxBodyBytes: -5']).replace(
        'credentialPorts: { Api: 7071 }',
        'credentialPorts: { Api: 7071, Other: 7071, Big: 99999 }',
      ),
    )
    const run = await runCli(['serve', '-f', file], {
      ...home.env,
      CALLOUT_METRICS_TOKEN: METRICS_TOKEN,
    })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('CONFIG_INVALID')
    expect(run.stderr).toContain('serve.prot: is not a known key — did you mean "port"?')
    expect(run.stderr).toContain('serve.maxBodyBytes: must be at least 1')
    expect(run.stderr).toContain('serve.credentialPorts.Big: must be at most 65535')
    const unset = await runCli(
      ['serve', '-f', await writeText(home.dir, 'ok.yaml', config(7071))],
      {
        ...home.env,
      },
    )
    expect(unset.code).toBe(1)
    expect(unset.stderr).toContain('CALLOUT_METRICS_TOKEN')
  })

  it('refuses a weak --metrics-token-file without printing it', async () => {
    const weak = await writeText(home.dir, 'weak.token', 'short-token\n')
    const run = await runCli(['serve', '--metrics-token-file', weak], home.env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('at least 16 characters')
    expect(run.stderr).not.toContain('short-token')
  })
})
