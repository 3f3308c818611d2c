/**
 * `callout demo` as a user runs it: a child process from a clean home telling the org-to-org
 * story (two emulated orgs, the admin API, the browser flow through the target's login and
 * approval pages, resources / record / query, the refresh counted in the emulator's request log,
 * the Lightning 302 and the doctor's advice, the proxy with a client key from curl's and
 * Python's point of view), again over an existing demo home, and `--keep` with live URLs.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli, spawnCli, type CliRun } from './helpers.ts'

let dir: string
let home: string
let run: CliRun
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callout-demo-'))
  home = join(dir, 'demo-home')
  run = await spawnCli(
    ['demo', '--home', home],
    { PATH: process.env.PATH, HOME: dir },
    { cwd: dir },
  )
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The lines of step `n` (from its `[n/6]` header to the next one). */
function stepText(stdout: string, n: number): string {
  const from = stdout.indexOf(`[${n}/6]`)
  const to = stdout.indexOf(`[${n + 1}/6]`)
  return stdout.slice(from, to === -1 ? undefined : to)
}

describe('callout demo (npm run demo), a child process from a clean home', () => {
  it('exits 0 with nothing on stderr and prints the six steps in order', () => {
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout.match(/^\[(\d)\/6\]/gm)).toEqual([
      '[1/6]',
      '[2/6]',
      '[3/6]',
      '[4/6]',
      '[5/6]',
      '[6/6]',
    ])
  })

  it('starts two orgs and registers the Connected App with the console callback URL', () => {
    const one = stepText(run.stdout, 1)
    expect(one).toMatch(/source org http:\/\/127\.0\.0\.1:\d+/)
    expect(one).toMatch(/target org http:\/\/127\.0\.0\.1:\d+/)
    expect(one).toMatch(
      /Connected App "SourceOrgIntegration", callback URL http:\/\/127\.0\.0\.1:\d+\/services\/authcallback\/TargetOrg/,
    )
  })

  it('creates the definitions through the admin API and authenticates through the login and approval pages', () => {
    const two = stepText(run.stdout, 2)
    expect(two).toContain('admin API: POST /admin/api/authProviders TargetOrg')
    expect(two).toContain('admin API: POST /admin/api/namedCredentials Target')
    expect(two).toMatch(
      /console: Authenticate → http:\/\/127\.0\.0\.1:\d+\/services\/oauth2\/authorize/,
    )
    expect(two).toContain(
      'target: login page, approval page (admin@target.example) → /services/authcallback/TargetOrg',
    )
    expect(two).toContain('Authenticated as admin@target.example')
  })

  it('lists the REST resources, reads an Account by Id and queries', () => {
    const three = stepText(run.stdout, 3)
    expect(three).toMatch(
      /HTTP 200 \{"sobjects":"\/services\/data\/v61\.0\/sobjects","query":"\/services\/data\/v61\.0\/query",/,
    )
    expect(three).toMatch(
      /HTTP 200 \{"Id":"001\w{15}","Name":"Acme Corporation","Industry":"Manufacturing"\}/,
    )
    expect(three).toMatch(
      /HTTP 200 totalSize 3: Acme Corporation \(001\w+\), Globex \(001\w+\), Initech/,
    )
  })

  it('counts one refresh and one retry, follows the Lightning 302 and prints the doctor advice', () => {
    const four = stepText(run.stdout, 4)
    expect(four).toContain(
      'HTTP 200: the emulator logged 1 refresh_token request(s) and 2 GET /services/data/v61.0/limits',
    )
    expect(four).toMatch(
      /HTTP 200: the Lightning host answered 1 × 302 Found to http:\/\/127\.0\.0\.1:\d+, followed by the broker/,
    )
    expect(four).toContain(
      'callout doctor: warn TargetLightning: GET /services/data/v61.0/limits answered 302',
    )
    expect(four).toContain('*.lightning.force.com')
  })

  it('calls the credential through the proxy, curl-style with the key masked, and from Python', () => {
    const five = stepText(run.stdout, 5)
    expect(five).toMatch(
      /\$ curl -H "Proxy-Authorization: Bearer ck_[0-9a-f]{12}_…" 'http:\/\/127\.0\.0\.1:\d+\/callout\/Target\/services\/data\/v61\.0\/sobjects\/Account\/001\w+'/,
    )
    expect(five).toMatch(/HTTP 200 \{"Id":"001\w+","Name":"Acme Corporation"/)
    expect(five).toMatch(/^ {6}\{"Id": "001\w+", "Name": "Acme Corporation"\}$/m)
    expect(run.stdout).not.toMatch(/ck_[0-9a-f]{12}_[0-9a-f]{8}/)
  })

  it('leaves the demo home with a 0600 key and the store, and status reads it', async () => {
    expect((await stat(join(home, 'master.key'))).mode & 0o777).toBe(0o600)
    expect(existsSync(join(home, 'callout.db'))).toBe(true)
    expect(run.stdout).toContain(`The demo home stays in ${home}`)
    const status = await runCli(['status', '--json'], {
      PATH: process.env.PATH,
      CALLOUT_HOME: home,
    })
    expect(status.code).toBe(0)
    // after step 4's refresh, whose Salesforce response names only the identity URL
    expect(JSON.parse(status.stdout)[0].principals[0]).toMatchObject({
      status: 'authenticated',
      summary: 'Authenticated as admin@target.example',
    })
  })

  it('runs again over an existing demo home, and says so when python3 is absent', async () => {
    const again = await runCli(['demo', '--home', home], { PATH: dir, HOME: dir }, { cwd: dir })
    expect(again.stderr).toBe('')
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('Authenticated as admin@target.example')
    expect(again.stdout).toContain('python: skipped (python3 is not installed)')
  })
})

describe('callout demo --home refuses what is not a demo home', () => {
  it('leaves a non-empty directory without master.key, and a file, as they were', async () => {
    const other = join(dir, 'projects')
    await mkdir(other)
    await writeFile(join(other, 'notes.txt'), 'mine')
    const refused = await runCli(['demo', '--home', other], { PATH: dir, HOME: dir }, { cwd: dir })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('INVALID_ARGUMENT')
    expect(refused.stderr).toContain('is not empty and is not a demo home')
    expect(await readFile(join(other, 'notes.txt'), 'utf8')).toBe('mine')

    const file = join(dir, 'a-file')
    await writeFile(file, 'also mine')
    const asFile = await runCli(['demo', '--home', file], { PATH: dir, HOME: dir }, { cwd: dir })
    expect(asFile.code).not.toBe(0)
    expect(asFile.stderr).toContain('is a file; give a directory')
    expect(await readFile(file, 'utf8')).toBe('also mine')
  })
})

describe('callout demo --keep', () => {
  let child: ChildProcess
  let out = ''
  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })

  it('prints URLs that answer (the console in Chromium to the detail page), and stops on SIGINT', async () => {
    child = spawn(process.execPath, [BIN, 'demo', '--keep', '--home', join(dir, 'keep-home')], {
      env: { PATH: process.env.PATH ?? '', HOME: dir },
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
    await new Promise<void>((ready, fail) => {
      child.stdout!.on('data', () => {
        if (/client key {7}ck_\S+\n/.test(out)) ready()
      })
      child.on('close', (code) => fail(new Error(`demo --keep exited ${code}: ${out}`)))
    })
    expect(out).toContain('[6/6] running until Ctrl-C')
    const url = (label: string): string => new RegExp(`${label} +(http://\\S+)`).exec(out)![1]!
    const key = /client key {7}(ck_\S+)/.exec(out)![1]!

    const login = await fetch(`${url('console')}login`)
    expect(login.status).toBe(200)
    expect(await login.text()).toContain('name="password"')
    expect(out).toMatch(/console +http:\/\/\S+ \(admin \/ demo-\S+\)/)

    const [, adminUser, adminPassword] = /console +http:\/\/\S+ \((\S+) \/ (\S+)\)/.exec(out)!
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    try {
      const page = await browser.newPage()
      await page.goto(url('console'))
      expect(new URL(page.url()).pathname).toBe('/login')
      await page.fill('#username', adminUser!)
      await page.fill('#password', adminPassword!)
      await Promise.all([page.waitForNavigation(), page.click('main button[type="submit"]')])
      await page.goto(`${url('console')}named-credentials/Target`)
      expect(await page.textContent('main')).toContain('Authenticated as admin@target.example')
    } finally {
      await browser.close()
    }

    const proxied = await fetch(url('proxy'), {
      headers: { 'proxy-authorization': `Bearer ${key}` },
    })
    expect(proxied.status).toBe(200)
    expect(await proxied.json()).toHaveProperty('sobjects')

    for (const org of ['target org', 'source org']) {
      const res = await fetch(`${url(org)}/services/data/`)
      expect(res.status).toBe(200)
    }

    const exited = new Promise<number | null>((done) => child.on('close', done))
    child.kill('SIGINT')
    expect(await exited).toBe(0)
  })
})
