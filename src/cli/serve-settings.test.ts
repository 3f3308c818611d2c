import { describe, expect, it } from 'vitest'
import { parseServeConfig } from '../definitions/serve-config.ts'
import { isCalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import { SERVER_DEFAULTS } from '../server/server-options.ts'
import { checkCredentialPortNames, serveSettings } from './serve-settings.ts'

const TOKEN = 'metrics-token-0123456789abcdef'
const file = parseServeConfig(
  {
    serve: {
      host: '127.0.0.1',
      port: 7000,
      credentialPorts: { Target: 7001, Billing: 7002 },
      maxBodyBytes: 1024,
      keyCacheMs: 0,
    },
  },
  { source: '/etc/callout.yaml' },
)

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn()
  } catch (error) {
    expect(isCalloutError(error)).toBe(true)
    return error as { code: string; message: string }
  }
  throw new Error('expected an error')
}

describe('serve settings: flags over the file over the defaults', () => {
  it('takes the defaults without a file or flags', () => {
    const s = serveSettings({}, undefined)
    expect(s.host).toBe('127.0.0.1')
    expect(s.port).toBe(7070)
    expect(s.maxBodyBytes).toBe(SERVER_DEFAULTS.maxBodyBytes)
    expect(s.reloadIntervalMs).toBe(2_000)
    expect(s.credentialPorts).toEqual([])
    expect(s.metrics).toBe('loopback')
  })

  it('takes the file, and each flag overrides its option; a flag port replaces the file port', () => {
    const s = serveSettings(
      { port: '8000', keyCacheMs: '250', credentialPort: ['Target=8001', 'Extra=8003'] },
      file,
    )
    expect(s.port).toBe(8000)
    expect(s.maxBodyBytes).toBe(1024)
    expect(s.keyCacheMs).toBe(250)
    expect(s.credentialPorts).toEqual([
      { name: 'Target', port: 8001, from: '--credential-port Target=8001' },
      { name: 'Billing', port: 7002, from: 'serve.credentialPorts.Billing in /etc/callout.yaml' },
      { name: 'Extra', port: 8003, from: '--credential-port Extra=8003' },
    ])
  })

  it('refuses a flag port that collides with a file port, or with the main port', () => {
    const clash = failure(() => serveSettings({ credentialPort: ['Extra=7002'] }, file))
    expect(clash.code).toBe('INVALID_ARGUMENT')
    expect(clash.message).toBe(
      '--credential-port Extra=7002 and serve.credentialPorts.Billing in /etc/callout.yaml use the same port 7002; give each credential port its own port.',
    )
    const main = failure(() => serveSettings({ port: '7001' }, file))
    expect(main.message).toMatch(/serve.credentialPorts.Target .* the port callout serve itself/)
  })

  it('refuses malformed numbers and ports with the flag named', () => {
    for (const [flags, pattern] of [
      [{ port: '70000' }, /--port must be a whole number from 0 to 65535/],
      [{ port: '7o70' }, /--port/],
      [{ maxHeaderBytes: '10' }, /--max-header-bytes must be a whole number from 1024/],
      [{ keyCacheMs: '-1' }, /--key-cache-ms/],
      [{ reloadIntervalMs: '1.5' }, /--reload-interval-ms/],
      [{ credentialPort: ['Target=0'] }, /--credential-port "Target=0"/],
      [{ credentialPort: ['Target'] }, /--credential-port "Target"/],
    ] as const) {
      const error = failure(() => serveSettings(flags, undefined))
      expect(error.code).toBe('INVALID_ARGUMENT')
      expect(error.message).toMatch(pattern)
    }
  })

  it('metrics: loopback without a token, off on a non-loopback host, the token when one is set', () => {
    expect(serveSettings({ host: '::1' }, undefined).metrics).toBe('loopback')
    // (the console is refused over plain http off loopback: these serve the proxy only)
    expect(serveSettings({ host: '0.0.0.0', noConsole: true }, undefined).metrics).toBe('off')
    const token = new Secret(TOKEN)
    expect(serveSettings({ host: '0.0.0.0', noConsole: true }, undefined, token).metrics).toEqual({
      token,
    })
    const fromFile = parseServeConfig(
      { serve: { metricsToken: '${env:T}' } },
      { env: { T: TOKEN } },
    )
    const s = serveSettings({ host: '10.0.0.5', noConsole: true }, fromFile)
    expect(typeof s.metrics === 'object' && s.metrics.token.reveal()).toBe(TOKEN)
  })

  it('allows the no-key switch (flag or file) only on loopback', () => {
    expect(serveSettings({ noAuthUnsafeLoopback: true }, undefined).noAuthUnsafeLoopback).toBe(true)
    const unsafe = parseServeConfig({ serve: { noAuthUnsafeLoopback: true } })
    expect(failure(() => serveSettings({ host: '0.0.0.0' }, unsafe)).message).toMatch(
      /only on a loopback host/,
    )
  })
})

describe('the setup console', () => {
  it('is on by default, on the listening address unless --public-url names an origin', () => {
    expect(serveSettings({}, undefined).console).toEqual({})
    expect(
      serveSettings({ publicUrl: 'https://callout.example.com:8443/' }, undefined).console,
    ).toEqual({ publicUrl: 'https://callout.example.com:8443' })
    expect(serveSettings({ noConsole: true }, undefined).console).toBe('off')
  })

  it('is refused over plain http off loopback, unless https, --no-console or the unsafe switch', () => {
    for (const flags of [
      { host: '0.0.0.0' },
      { host: '10.0.0.5', publicUrl: 'http://x.example' },
    ]) {
      expect(failure(() => serveSettings(flags, undefined)).message).toMatch(
        /plain http on .*--public-url https:.*--no-console/,
      )
    }
    expect(
      serveSettings({ host: '0.0.0.0', publicUrl: 'https://x.example' }, undefined).console,
    ).toEqual({ publicUrl: 'https://x.example' })
    expect(
      serveSettings({ host: '0.0.0.0', consoleInsecureHttp: true }, undefined).console,
    ).toEqual({})
  })

  it('refuses a --public-url that is not an http(s) origin', () => {
    for (const publicUrl of [
      'callout.example.com',
      'https://u:p@x.example',
      'https://x.example/path',
      'ftp://x.example',
      'https://x.example/?q=1',
      'https://x.example/#f',
    ]) {
      expect(failure(() => serveSettings({ publicUrl }, undefined)).message).toContain(
        '--public-url must be an origin',
      )
    }
  })
})

describe('the console options in the serve section', () => {
  it('come from the file; flags override; the same rules apply', () => {
    const https = parseServeConfig({
      serve: { host: '0.0.0.0', publicUrl: 'https://callout.example.com' },
    })
    expect(serveSettings({}, https).console).toEqual({ publicUrl: 'https://callout.example.com' })
    expect(serveSettings({ publicUrl: 'https://other.example' }, https).console).toEqual({
      publicUrl: 'https://other.example',
    })
    expect(serveSettings({}, parseServeConfig({ serve: { noConsole: true } })).console).toBe('off')
    const plain = parseServeConfig({ serve: { host: '0.0.0.0' } })
    expect(failure(() => serveSettings({}, plain)).message).toMatch(
      /plain http on 0.0.0.0.*publicUrl, noConsole and consoleInsecureHttp/,
    )
    const insecure = parseServeConfig({ serve: { host: '0.0.0.0', consoleInsecureHttp: true } })
    expect(serveSettings({}, insecure).console).toEqual({})
  })

  it('refuses a publicUrl in the file that is not an origin', () => {
    for (const publicUrl of ['https://x.example/path', 'x.example', 'https://u:p@x.example', 7]) {
      const error = failure(() => parseServeConfig({ serve: { publicUrl } }))
      expect(error.code).toBe('CONFIG_INVALID')
      expect(error.message).toContain('serve.publicUrl')
    }
  })
})

describe('credential port names', () => {
  it('must name a Named Credential in the store; a typo gets a suggestion', () => {
    const s = serveSettings({}, file)
    checkCredentialPortNames(s.credentialPorts, ['Target', 'Billing', 'Other'])
    const error = failure(() => checkCredentialPortNames(s.credentialPorts, ['Targt', 'Billing']))
    expect(error.code).toBe('CREDENTIAL_NOT_FOUND')
    expect(error.message).toMatch(
      /^serve.credentialPorts.Target in \/etc\/callout.yaml names the Named Credential Target, which is not in the store — did you mean Targt\?/,
    )
  })
})
