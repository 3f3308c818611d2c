import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isCalloutError, type CalloutError } from '../errors.ts'
import { parseConfig } from './config-file.ts'
import { loadServeConfig, parseServeConfig } from './serve-config.ts'

const TOKEN = 'metrics-token-0123456789abcdef'
const ENV = { CALLOUT_METRICS_TOKEN: TOKEN }
const dir = mkdtempSync(join(tmpdir(), 'callout-serve-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function problems(input: string | object, env: Record<string, string> = ENV): CalloutError {
  try {
    parseServeConfig(input, { env })
  } catch (error) {
    expect(isCalloutError(error)).toBe(true)
    return error as CalloutError
  }
  throw new Error('expected CONFIG_INVALID')
}

function issues(error: CalloutError): { path: string; message: string }[] {
  return error.details.issues as { path: string; message: string }[]
}

describe('the serve section', () => {
  it('reads host, port, credential ports, the metrics token and limits', () => {
    const serve = parseServeConfig(
      `
serve:
  host: 0.0.0.0
  port: 7070
  credentialPorts: { Salesforce: 7071, Billing: 7072 }
  metricsToken: \${env:CALLOUT_METRICS_TOKEN}
  maxBodyBytes: 1048576
  reloadIntervalMs: 0
`,
      { env: ENV },
    )
    expect(serve.host).toBe('0.0.0.0')
    expect(serve.port).toBe(7070)
    expect([...serve.credentialPorts]).toEqual([
      ['Salesforce', 7071],
      ['Billing', 7072],
    ])
    expect(serve.metricsToken?.reveal()).toBe(TOKEN)
    expect(serve.maxBodyBytes).toBe(1_048_576)
    expect(serve.reloadIntervalMs).toBe(0)
    expect(serve.clientTimeoutMs).toBeUndefined()
    expect(JSON.stringify(serve)).not.toContain(TOKEN)
  })

  it('names unknown keys with the closest valid one, at every level', () => {
    const error = problems('serve: { prot: 7070, credentialPort: { A: 7071 } }\nserv: {}')
    expect(error.code).toBe('CONFIG_INVALID')
    expect(issues(error)).toEqual([
      { path: 'serv', message: 'is not a known key — did you mean "serve"?' },
    ])
    const inner = problems('serve: { prot: 7070, credentialPort: { A: 7071 } }')
    expect(issues(inner).map((i) => `${i.path}: ${i.message}`)).toEqual([
      'serve.prot: is not a known key — did you mean "port"?',
      'serve.credentialPort: is not a known key — did you mean "credentialPorts"?',
    ])
  })

  it('refuses ports out of range, non-integers and strings', () => {
    const error = problems(
      'serve: { port: 70000, credentialPorts: { A: 0, B: -1, C: 71.5, D: "7074", E: 65536 } }',
    )
    const byPath = Object.fromEntries(issues(error).map((i) => [i.path, i.message]))
    expect(byPath['serve.port']).toMatch(/at most 65535/)
    expect(byPath['serve.credentialPorts.A']).toMatch(/at least 1/)
    expect(byPath['serve.credentialPorts.B']).toMatch(/at least 1/)
    expect(byPath['serve.credentialPorts.C']).toMatch(/whole number/)
    expect(byPath['serve.credentialPorts.D']).toMatch(/must be a number, not a string/)
    expect(byPath['serve.credentialPorts.E']).toMatch(/at most 65535/)
  })

  it('refuses two credentials on one port, and a credential port equal to the main port', () => {
    const error = problems('serve: { port: 7070, credentialPorts: { A: 7071, B: 7071, C: 7070 } }')
    expect(issues(error)).toEqual([
      {
        path: 'serve.credentialPorts.B',
        message: 'uses port 7071, like A — give each credential port its own port',
      },
      {
        path: 'serve.credentialPorts.C',
        message: 'uses port 7070, which serve.port already uses — pick another port',
      },
    ])
  })

  it('refuses invalid credential names, hosts and types', () => {
    const error = problems(
      'serve: { host: "a b", credentialPorts: { "1bad": 7071 }, noAuthUnsafeLoopback: "yes" }',
    )
    const paths = issues(error).map((i) => i.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        'serve.host',
        'serve.credentialPorts["1bad"]',
        'serve.noAuthUnsafeLoopback',
      ]),
    )
  })

  it('requires a reference for the metrics token, never echoes it, and refuses short tokens', () => {
    const literal = problems({ serve: { metricsToken: TOKEN } })
    expect(literal.message).toMatch(/\$\{env:NAME\}/)
    expect(literal.message).not.toContain(TOKEN)
    const short = problems({ serve: { metricsToken: '${env:SHORT}' } }, { SHORT: 'abc' })
    expect(issues(short)[0]?.message).toMatch(/shorter than 16 characters/)
    expect(short.message).not.toContain('abc')
    const unset = problems({ serve: { metricsToken: '${env:NOPE}' } }, {})
    expect(unset.code).toBe('CONFIG_REFERENCE_MISSING')
  })

  it('needs a serve section, a mapping, and valid YAML', () => {
    expect(issues(problems('namedCredentials: {}'))[0]?.path).toBe('serve')
    expect(problems('- a\n- b').code).toBe('CONFIG_INVALID')
    const syntax = problems('serve: { port: 7070')
    expect(syntax.details.line).toBeTypeOf('number')
    expect(problems('serve: [7070]').code).toBe('CONFIG_INVALID')
  })

  it('reads a file; callout apply ignores the section (and never needs its secrets)', async () => {
    const file = join(dir, 'callout.yaml')
    writeFileSync(
      file,
      [
        'namedCredentials:',
        '  Api: { url: "https://api.example.com", identityType: anonymous }',
        'serve:',
        '  credentialPorts: { Api: 7071 }',
        '  metricsToken: ${env:CALLOUT_METRICS_TOKEN}',
      ].join('\n'),
    )
    const serve = await loadServeConfig(file, { env: ENV })
    expect(serve.source).toBe(file)
    expect(serve.credentialPorts.get('Api')).toBe(7071)
    const defs = parseConfig(
      'namedCredentials: { Api: { url: "https://api.example.com", identityType: anonymous } }\nserve: { metricsToken: "${env:UNSET}", bogus: 1 }',
      { env: {} },
    )
    expect([...defs.namedCredentials.keys()]).toEqual(['Api'])
    await expect(loadServeConfig(join(dir, 'missing.yaml'))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    })
  })
})
