import { existsSync } from 'node:fs'
import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli, tempHome, writeText, type TempHome } from './helpers.ts'

const CANARY = 'canary-pw-7f3a9c1e5b'

const CONFIG = `
authProviders:
  Idp:
    type: oauth2
    tokenUrl: https://idp.example.com/oauth/token
    consumerKey: client-1
    consumerSecret: '\${env:IDP_SECRET}'
externalCredentials:
  ApiAuth:
    protocol: oauth2
    flow: client-credentials
    authProvider: Idp
    principals:
      Service: { type: named }
  WeatherAuth:
    protocol: basic
    principals:
      Main:
        type: named
        parameters: { username: weather-user }
        secrets: { password: '\${env:WEATHER_PASSWORD}' }
namedCredentials:
  Api: { url: https://api.example.com/v1, externalCredential: ApiAuth }
  Weather: { url: https://weather.example.com, externalCredential: WeatherAuth }
`

describe('callout init', () => {
  let t: TempHome
  beforeEach(async () => {
    t = await tempHome()
  })
  afterEach(async () => {
    await t.remove()
  })

  it('creates the home, a 0600 master key and the store; a second run keeps the key', async () => {
    const first = await runCli(['init'], t.env)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    const keyPath = join(t.home, 'master.key')
    expect(first.stdout).toContain(`created ${keyPath} (mode 0600)`)
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600)
    expect((await stat(t.home)).mode & 0o777).toBe(0o700)
    expect(existsSync(join(t.home, 'callout.db'))).toBe(true)
    const key = await readFile(keyPath, 'utf8')

    const second = await runCli(['init'], t.env)
    expect(second.code).toBe(0)
    expect(second.stdout).toContain(`master key: ${keyPath} (kept)`)
    expect(await readFile(keyPath, 'utf8')).toBe(key)
  })

  it('creates no key file when CALLOUT_MASTER_KEY is set', async () => {
    const env = { ...t.env, CALLOUT_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') }
    const run = await runCli(['init'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('master key: from CALLOUT_MASTER_KEY')
    expect(existsSync(join(t.home, 'master.key'))).toBe(false)
    expect(existsSync(join(t.home, 'callout.db'))).toBe(true)
  })
})

describe('commands that need a master key', () => {
  let t: TempHome
  beforeEach(async () => {
    t = await tempHome()
  })
  afterEach(async () => {
    await t.remove()
  })

  it.each([['list'], ['status'], ['export'], ['migrate']])(
    '%s without a master key says to run callout init',
    async (command) => {
      const run = await runCli([command], t.env)
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^error MASTER_KEY_MISSING: .*callout init/m)
      expect(run.stdout).toBe('')
    },
  )

  it('get without a master key says to run callout init', async () => {
    const run = await runCli(['get', 'callout:Api/x'], t.env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error MASTER_KEY_MISSING: .*callout init/m)
  })
})

describe('callout apply, list, status, export, migrate', () => {
  let t: TempHome
  let env: Record<string, string | undefined>
  let config: string
  beforeEach(async () => {
    t = await tempHome()
    env = { ...t.env, IDP_SECRET: 'idp-secret-value-1', WEATHER_PASSWORD: CANARY }
    expect((await runCli(['init'], env)).code).toBe(0)
    config = await writeText(t.dir, 'callout.yaml', CONFIG)
  })
  afterEach(async () => {
    await t.remove()
  })

  it('prints created, then unchanged, then updated', async () => {
    const first = await runCli(['apply', '-f', config], env)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toContain('created namedCredential:Api')
    expect(first.stdout).toContain('created namedCredential:Weather')
    expect(first.stdout).toContain('created externalCredential:WeatherAuth')
    expect(first.stdout).toContain('created authProvider:Idp')
    expect(first.stdout).toMatch(/: 5 created, 0 updated, 0 unchanged, 0 deleted$/m)

    const again = await runCli(['apply', '-f', config], env)
    expect(again.code).toBe(0)
    expect(again.stdout).not.toContain('created ')
    expect(again.stdout).toMatch(/: 0 created, 0 updated, 5 unchanged, 0 deleted$/m)

    const changed = await writeText(
      t.dir,
      'changed.yaml',
      CONFIG.replace('https://api.example.com/v1', 'https://api.example.com/v2'),
    )
    const update = await runCli(['apply', '-f', changed], env)
    expect(update.code).toBe(0)
    expect(update.stdout).toContain('updated namedCredential:Api')
    expect(update.stdout).toMatch(/: 0 created, 1 updated, 4 unchanged, 0 deleted$/m)
    const list = await runCli(['list', '--json'], env)
    expect(JSON.parse(list.stdout).find((r: { name: string }) => r.name === 'Api').url).toBe(
      'https://api.example.com/v2',
    )
  })

  it('resolves a relative -f against the working directory', async () => {
    const run = await runCli(['apply', '-f', 'callout.yaml'], env, { cwd: t.dir })
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`applied ${config}`)
  })

  it('--dry-run validates and writes nothing', async () => {
    const run = await runCli(['apply', '-f', config, '--dry-run'], env)
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('valid (5 definitions); nothing written (--dry-run)')
    const list = await runCli(['list', '--json'], env)
    expect(JSON.parse(list.stdout)).toEqual([])
  })

  it('--prune deletes definitions that are not in the file', async () => {
    await runCli(['apply', '-f', config], env)
    const smaller = CONFIG.replace(/ {2}Weather: .*\n/, '').replace(
      / {2}WeatherAuth:[\s\S]*?(?=namedCredentials:)/,
      '',
    )
    const file = await writeText(t.dir, 'smaller.yaml', smaller)

    const kept = await runCli(['apply', '-f', file], env)
    expect(kept.code).toBe(0)
    expect(kept.stdout).toMatch(/0 deleted$/m)
    expect((await runCli(['list'], env)).stdout).toContain('Weather')

    const pruned = await runCli(['apply', '-f', file, '--prune'], env)
    expect(pruned.code).toBe(0)
    expect(pruned.stdout).toContain('deleted namedCredential:Weather')
    expect(pruned.stdout).toContain('deleted externalCredential:WeatherAuth')
    const names = JSON.parse((await runCli(['list', '--json'], env)).stdout).map(
      (r: { name: string }) => r.name,
    )
    expect(names).toEqual(['Api'])
  })

  it('a malformed config is CONFIG_INVALID naming the path of each problem, and writes nothing', async () => {
    const bad = await writeText(
      t.dir,
      'bad.yaml',
      CONFIG.replace('https://api.example.com/v1', 'http://api.example.com/v1').replace(
        'externalCredential: WeatherAuth',
        'externalCredential: Nope',
      ),
    )
    const run = await runCli(['apply', '-f', bad], env)
    expect(run.code).toBe(1)
    expect(run.stdout).toBe('')
    expect(run.stderr).toMatch(/^error CONFIG_INVALID: /)
    expect(run.stderr).toContain('namedCredentials.Api.url')
    expect(run.stderr).toContain('namedCredentials.Weather.externalCredential')
    expect(JSON.parse((await runCli(['list', '--json'], env)).stdout)).toEqual([])
  })

  it('a header formula that does not parse is CONFIG_INVALID at apply time, and writes nothing', async () => {
    const bad = await writeText(
      t.dir,
      'headers.yaml',
      CONFIG.replace(
        'Api: { url: https://api.example.com/v1, externalCredential: ApiAuth }',
        'Api: { url: https://api.example.com/v1, externalCredential: ApiAuth, headers: { Accept: application/json } }',
      ),
    )
    const run = await runCli(['apply', '-f', bad], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error CONFIG_INVALID: /)
    expect(run.stderr).toContain('namedCredentials.Api.headers[0] (Accept)')
    expect(run.stderr).toContain('quote it, e.g. "\'application/json\'"')
    expect(JSON.parse((await runCli(['list', '--json'], env)).stdout)).toEqual([])
  })

  it('a YAML syntax error is CONFIG_INVALID', async () => {
    const bad = await writeText(t.dir, 'syntax.yaml', 'namedCredentials:\n  Api: { url: [\n')
    const run = await runCli(['apply', '-f', bad], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error CONFIG_INVALID: /)
  })

  it('an inline secret is refused', async () => {
    const bad = await writeText(
      t.dir,
      'inline.yaml',
      CONFIG.replace("'${env:WEATHER_PASSWORD}'", 'hunter2-inline'),
    )
    const run = await runCli(['apply', '-f', bad], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error CONFIG_INVALID: /)
    expect(run.stderr).toContain('externalCredentials.WeatherAuth.principals.Main.secrets.password')
    expect(run.stderr).not.toContain('hunter2-inline')
  })

  it('a missing ${env:X} is CONFIG_REFERENCE_MISSING naming X, and writes nothing', async () => {
    const run = await runCli(['apply', '-f', config], { ...env, WEATHER_PASSWORD: undefined })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error CONFIG_REFERENCE_MISSING: .*WEATHER_PASSWORD/s)
    expect(JSON.parse((await runCli(['list', '--json'], env)).stdout)).toEqual([])
  })

  it('a missing ${env:X}, a key typo and an undefined ExternalCredential are reported together, with lines', async () => {
    const bad = await writeText(
      t.dir,
      'three-problems.yaml',
      CONFIG.replace(
        '    flow: client-credentials\n',
        '    flow: client-credentials\n    scpoe: api\n',
      ).replace('externalCredential: WeatherAuth', 'externalCredential: WeatherAuht'),
    )
    const run = await runCli(['apply', '-f', bad], { ...env, WEATHER_PASSWORD: undefined })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      /^error CONFIG_INVALID: The configuration in \S+three-problems\.yaml has 3 problems:\n/,
    )
    const lines = run.stderr.split('\n').filter((line) => line.startsWith('  '))
    expect(lines).toEqual([
      expect.stringMatching(
        /^ {2}externalCredentials\.ApiAuth\.scpoe \(line 12\): is not a known key — did you mean "scope"\?/,
      ),
      expect.stringMatching(
        /^ {2}externalCredentials\.WeatherAuth\.principals\.Main\.secrets\.password \(line 22\): \$\{env:WEATHER_PASSWORD\} cannot be resolved/,
      ),
      expect.stringMatching(
        /^ {2}namedCredentials\.Weather\.externalCredential \(line 25\): names the ExternalCredential WeatherAuht, which is not defined/,
      ),
    ])
    expect(run.stderr).not.toContain('idp-secret-value-1')
    expect(JSON.parse((await runCli(['list', '--json'], env)).stdout)).toEqual([])
  })

  it('a missing config file is an error that names the file', async () => {
    const run = await runCli(['apply', '-f', join(t.dir, 'nope.yaml')], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error [A-Z_]+: .*nope\.yaml/)
  })

  it('apply without -f is a usage error (exit 2)', async () => {
    const run = await runCli(['apply'], env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("required option '-f, --file <path>' not specified")
  })

  it('list prints one line per credential, --json the rows', async () => {
    const empty = await runCli(['list'], env)
    expect(empty.code).toBe(0)
    expect(empty.stdout).toContain('no named credentials yet: run `callout apply -f callout.yaml`')
    await runCli(['apply', '-f', config], env)
    const text = await runCli(['list'], env)
    expect(text.code).toBe(0)
    expect(text.stdout.trim().split('\n')).toEqual([
      'Api      https://api.example.com/v1  ApiAuth oauth2/client-credentials',
      'Weather  https://weather.example.com  WeatherAuth basic',
    ])
    const json = await runCli(['list', '--json'], env)
    expect(JSON.parse(json.stdout)).toEqual([
      {
        name: 'Api',
        url: 'https://api.example.com/v1',
        externalCredential: 'ApiAuth',
        protocol: 'oauth2',
        flow: 'client-credentials',
        enabled: true,
      },
      {
        name: 'Weather',
        url: 'https://weather.example.com',
        externalCredential: 'WeatherAuth',
        protocol: 'basic',
        enabled: true,
      },
    ])
  })

  it('status shows each principal and never a secret; an unknown name is CREDENTIAL_NOT_FOUND', async () => {
    await runCli(['apply', '-f', config], env)
    const all = await runCli(['status'], env)
    expect(all.code).toBe(0)
    expect(all.stdout).toContain('Api  https://api.example.com/v1  oauth2/client-credentials')
    expect(all.stdout).toContain(
      '  Service: Not yet used: a token is obtained on the first callout',
    )
    expect(all.stdout).toContain('  Main: Uses basic credentials; no token to refresh')
    const one = await runCli(['status', 'Weather', '--json'], env)
    expect(one.code).toBe(0)
    const reports = JSON.parse(one.stdout)
    expect(reports).toHaveLength(1)
    expect(reports[0]).toMatchObject({ name: 'Weather', protocol: 'basic' })
    for (const out of [all.stdout, one.stdout, all.stderr, one.stderr]) {
      expect(out).not.toContain(CANARY)
      expect(out).not.toContain('idp-secret-value-1')
    }
    const missing = await runCli(['status', 'Nope'], env)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^error CREDENTIAL_NOT_FOUND: .*Nope/)
  })

  it('export writes the definitions with ${env:…} references and no secret value', async () => {
    await runCli(['apply', '-f', config], env)
    const run = await runCli(['export'], env)
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('namedCredentials:')
    expect(run.stdout).toContain('https://api.example.com/v1')
    expect(run.stdout).toMatch(/\$\{env:[A-Z0-9_]+\}/)
    expect(run.stdout).not.toContain(CANARY)
    expect(run.stdout).not.toContain('idp-secret-value-1')

    const out = await runCli(['export', '-o', 'exported.yaml'], env, { cwd: t.dir })
    expect(out.code).toBe(0)
    const path = join(t.dir, 'exported.yaml')
    expect(out.stdout).toBe(`wrote ${path}\n`)
    expect(await readFile(path, 'utf8')).toBe(run.stdout)
  })

  it('an exported file applies again once its references are set', async () => {
    await runCli(['apply', '-f', config], env)
    await runCli(['export', '-o', 'exported.yaml'], env, { cwd: t.dir })
    const text = await readFile(join(t.dir, 'exported.yaml'), 'utf8')
    const refs = [...text.matchAll(/\$\{env:([A-Z0-9_]+)\}/g)].map((m) => m[1]!)
    const refEnv: Record<string, string> = {}
    for (const name of refs) refEnv[name] = 'x'
    const run = await runCli(
      ['apply', '-f', 'exported.yaml', '--dry-run'],
      { ...env, ...refEnv },
      { cwd: t.dir },
    )
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
  })

  it('migrate prints the schema version', async () => {
    const run = await runCli(['migrate'], env)
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^schema version \d+ \(up to date\)$/m)
  })

  it('writes nothing but the key, the store and its .gitignore into the home', async () => {
    await runCli(['apply', '-f', config], env)
    const files = (await readdir(t.home)).filter((f) => !f.startsWith('callout.db'))
    expect(files.sort()).toEqual(['.gitignore', 'master.key'])
  })
})

describe('usage errors', () => {
  it.each([[['frobnicate']], [['list', '--bogus']], [['status', 'A', 'B']], [['get']]])(
    '%j exits 2',
    async (argv) => {
      const t = await tempHome()
      try {
        const run = await runCli(argv, t.env)
        expect(run.code).toBe(2)
        expect(run.stderr).toMatch(/^error: /m)
        expect(run.stderr).toContain('callout --help')
      } finally {
        await t.remove()
      }
    },
  )

  it('--help and --version exit 0', async () => {
    const t = await tempHome()
    try {
      const help = await runCli(['--help'], t.env)
      expect(help.code).toBe(0)
      expect(help.stdout).toContain('Usage: callout')
      const version = await runCli(['--version'], t.env)
      expect(version.code).toBe(0)
      expect(version.stdout.trim()).toBe('0.1.0')
    } finally {
      await t.remove()
    }
  })
})
