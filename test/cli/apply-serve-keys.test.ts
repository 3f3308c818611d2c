/**
 * `callout apply --dry-run` checks the file's `serve:` section as `callout serve -f` would, and
 * `callout keys list` lists every key even when one stored row was tampered with.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawSqlite } from '../helpers/raw-sql.ts'
import { runCli, tempHome, writeText, type TempHome } from './helpers.ts'

const DEFINITIONS = `
externalCredentials:
  WeatherAuth:
    protocol: basic
    principals: { Main: { type: named, parameters: { username: weather-user }, secrets: { password: '\${env:WEATHER_PASSWORD}' } } }
namedCredentials:
  Weather: { url: https://weather.example.com, externalCredential: WeatherAuth }
`

let t: TempHome
let env: Record<string, string | undefined>

beforeAll(async () => {
  t = await tempHome()
  env = { ...t.env, WEATHER_PASSWORD: 'pw-1', METRICS_TOKEN: 'a-metrics-token-of-32-characters' }
  expect((await runCli(['init'], env)).code).toBe(0)
})
afterAll(async () => t?.remove())

async function dryRun(serve: string) {
  const file = await writeText(t.dir, 'callout.yaml', `${DEFINITIONS}serve:\n${serve}`)
  return runCli(['apply', '-f', file, '--dry-run'], env)
}

describe('callout apply --dry-run and the serve: section', () => {
  it('a valid section passes and is named', async () => {
    const run = await dryRun(
      "  port: 7070\n  credentialPorts: { Weather: 7071 }\n  metricsToken: '${env:METRICS_TOKEN}'\n",
    )
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('valid (2 definitions and the serve: section); nothing written')
  })

  it.each([
    ['an unknown key', '  prot: 7070\n', /serve\.prot.*did you mean "port"/],
    ['a port out of range', '  port: 70000\n', /serve\.port/],
    ['two credentials on one port', '  credentialPorts: { Weather: 7071, Other: 7071 }\n', /7071/],
    [
      'a missing reference',
      "  metricsToken: '${env:NOT_SET_ANYWHERE}'\n",
      /CONFIG_REFERENCE_MISSING[\s\S]*NOT_SET_ANYWHERE/,
    ],
    [
      'no client keys off loopback',
      '  host: 0.0.0.0\n  noAuthUnsafeLoopback: true\n',
      /INVALID_ARGUMENT[\s\S]*loopback/,
    ],
  ])('%s fails, and nothing is written', async (_label, serve, message) => {
    const run = await dryRun(serve)
    expect(run.code).not.toBe(0)
    expect(run.stderr).toMatch(message)
    expect(run.stdout).not.toContain('valid (')
    expect(JSON.parse((await runCli(['list', '--json'], env)).stdout)).toEqual([])
  })

  it('a credential port naming a credential the file does not define is a warning', async () => {
    const run = await dryRun('  credentialPorts: { Wether: 7071 }\n')
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/warning: .*Wether.*did you mean Weather\?/)
  })
})

describe('callout keys list with a tampered row', () => {
  it('lists the others, marks that one TAMPERED with advice to revoke it, and revocation works', async () => {
    const created = async (name: string) => {
      const run = await runCli(['keys', 'create', '--allow', 'Weather:GET', '--name', name], env)
      expect(run.code).toBe(0)
      return run.stdout.trim().split('_')[1] ?? ''
    }
    const good = await created('good-bot')
    const bad = await created('bad-bot')
    // Widen one key's rules behind Callout's back.
    rawSqlite(join(t.home, 'callout.db'), 'update client_keys set rules = ? where id = ?', [
      '["Weather"]',
      bad,
    ])

    const listed = await runCli(['keys', 'list'], env)
    expect(listed.code).toBe(0)
    expect(listed.stdout).toMatch(new RegExp(`^${good}  good-bot\\s+active\\s+Weather:GET$`, 'm'))
    expect(listed.stdout).toMatch(new RegExp(`^${bad}  bad-bot\\s+TAMPERED$`, 'm'))
    expect(listed.stdout).not.toMatch(/"Weather"|Weather(?!:GET)\b.*bad-bot/)
    expect(listed.stderr).toContain(`\`callout keys revoke ${bad}\``)

    const json = JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout) as {
      id: string
      state: string
      rules?: string[]
    }[]
    expect(json.find((k) => k.id === good)).toMatchObject({
      state: 'active',
      rules: ['Weather:GET'],
    })
    const marked = json.find((k) => k.id === bad)
    expect(marked).toMatchObject({ state: 'tampered', advice: expect.stringContaining('revoke') })
    expect(marked?.rules).toBeUndefined()

    const revoked = await runCli(['keys', 'revoke', bad], env)
    expect(revoked.code).toBe(0)
    const after = await runCli(['keys', 'list'], env)
    expect(after.code).toBe(0)
    expect(after.stdout).toMatch(new RegExp(`^${bad}  bad-bot\\s+revoked`, 'm'))
    expect(after.stdout).toMatch(new RegExp(`^${good}  good-bot\\s+active`, 'm'))
  })
})
