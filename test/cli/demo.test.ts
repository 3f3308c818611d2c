import { existsSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliRun } from './helpers.ts'

describe('callout demo (npm run demo)', () => {
  let dir: string
  let home: string
  let run: CliRun
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'callout-demo-'))
    home = join(dir, 'demo-home')
    run = await runCli(
      ['demo', '--home', home],
      { PATH: process.env.PATH, HOME: dir },
      { cwd: dir },
    )
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('exits 0 with nothing on stderr', () => {
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
  })

  it('prints the seven steps in order', () => {
    const steps = run.stdout.match(/^\[(\d)\/7\]/gm)
    expect(steps).toEqual(['[1/7]', '[2/7]', '[3/7]', '[4/7]', '[5/7]', '[6/7]', '[7/7]'])
  })

  it('applies the config, queries, creates a record and recovers from expired sessions', () => {
    expect(run.stdout).toContain('created namedCredential:Target')
    expect(run.stdout).toMatch(/HTTP 200: 3 accounts/)
    expect(run.stdout).toContain('Acme Corporation (Manufacturing)')
    expect(run.stdout).toMatch(/HTTP 201: \{"id":"001\w+","success":true/)
    expect(run.stdout).toMatch(/HTTP 200 after the broker minted 1 new token\(s\) and retried once/)
    expect(run.stdout).toContain('a hostile URL is refused: CALLOUT_URL_MALFORMED')
  })

  it('ends with the status "Authenticated as integration@target.example"', () => {
    const status = run.stdout.slice(run.stdout.indexOf('[7/7]'))
    expect(status).toMatch(/Target {2}http:\/\/127\.0\.0\.1:\d+ {2}oauth2\/jwt-bearer/)
    expect(status).toContain('Integration: Authenticated as integration@target.example')
  })

  it('leaves the demo home with a 0600 key, the store and no private key in the output', async () => {
    expect((await stat(join(home, 'master.key'))).mode & 0o777).toBe(0o600)
    expect(existsSync(join(home, 'callout.db'))).toBe(true)
    expect(run.stdout).not.toContain('PRIVATE KEY')
    expect(run.stdout).toContain(`The demo home stays in ${home}`)
  })

  it('the demo home works with status afterwards', async () => {
    const status = await runCli(['status', '--json'], {
      PATH: process.env.PATH,
      CALLOUT_HOME: home,
    })
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout)[0].principals[0].status).toBe('authenticated')
  })

  it('runs again over an existing demo home', async () => {
    const again = await runCli(
      ['demo', '--home', home],
      { PATH: process.env.PATH, HOME: dir },
      { cwd: dir },
    )
    expect(again.stderr).toBe('')
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('created namedCredential:Target')
  })
})
