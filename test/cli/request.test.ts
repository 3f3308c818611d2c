import type { EmulatedOrg, Emulator } from '@callout/salesforce-emulator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/index.ts'
import { runCli, writeText, type TempHome } from './helpers.ts'
import { JWT_USER, initAndApply, jwtApp, startTargetOrg } from './target-org.ts'

describe('callout get / request against the Salesforce emulator (jwt-bearer)', () => {
  let emulator: Emulator
  let t: TempHome
  let instanceUrl: string

  beforeAll(async () => {
    const server = jwtApp('Callout')
    let org: EmulatedOrg
    ;({ emulator, org, t } = await startTargetOrg({
      users: [{ username: JWT_USER, name: 'Integration User' }],
      connectedApps: [server.app],
      records: { Account: [{ Name: 'Acme Corporation' }, { Name: 'Globex' }] },
    }))
    instanceUrl = org.instanceUrl
    await server.writeKeys(t.dir)
    const { applied } = await initAndApply(
      t,
      t.env,
      `
authProviders:
  TargetOrg: { type: salesforce, loginUrl: ${org.loginUrl}, consumerKey: ${org.connectedApp('Callout').consumerKey} }
externalCredentials:
  TargetAuth:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetOrg
    principals:
      Integration:
        type: named
        parameters: { username: ${JWT_USER} }
        secrets: { privateKey: '\${file:server.key}' }
namedCredentials:
  Target: { url: ${org.instanceUrl}, externalCredential: TargetAuth }
`,
    )
    expect(applied.stderr).toBe('')
    expect(applied.code).toBe(0)
  })
  afterAll(async () => {
    await emulator?.close()
    await t?.remove()
  })

  it('get prints the body on stdout and exits 0', async () => {
    const run = await runCli(
      [
        'get',
        `callout:Target/services/data/v61.0/query?q=${encodeURIComponent('SELECT Name FROM Account ORDER BY Name')}`,
      ],
      t.env,
    )
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const body = JSON.parse(run.stdout)
    expect(body.totalSize).toBe(2)
    expect(body.records.map((r: { Name: string }) => r.Name)).toEqual([
      'Acme Corporation',
      'Globex',
    ])
  })

  it('-i prints the status line and headers before the body', async () => {
    const run = await runCli(['get', '-i', 'callout:Target/services/data/v61.0/limits'], t.env)
    expect(run.code).toBe(0)
    const [head = '', body = ''] = run.stdout.split('\n\n')
    const lines = head.split('\n')
    expect(lines[0]).toMatch(/^HTTP 200\b/)
    expect(lines).toContainEqual(expect.stringMatching(/^content-type: application\/json/))
    expect(lines).toContainEqual(expect.stringMatching(/^sforce-limit-info: api-usage=\d+\/\d+$/))
    expect(JSON.parse(body)).toHaveProperty('DailyApiRequests')
  })

  it('request -X POST -H -d @file creates a record (201, exit 0)', async () => {
    const file = await writeText(
      t.dir,
      'account.json',
      JSON.stringify({ Name: 'Created From CLI' }),
    )
    const run = await runCli(
      [
        'request',
        '-X',
        'POST',
        '-H',
        'content-type: application/json',
        '-d',
        `@${file}`,
        'callout:Target/services/data/v61.0/sobjects/Account',
      ],
      t.env,
    )
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const body = JSON.parse(run.stdout)
    expect(body.success).toBe(true)
    expect(body.id).toMatch(/^001/)
    const check = await runCli(
      ['get', `callout:Target/services/data/v61.0/sobjects/Account/${body.id}`],
      t.env,
    )
    expect(check.code).toBe(0)
    expect(JSON.parse(check.stdout).Name).toBe('Created From CLI')
  })

  it('-d @- reads the body from stdin and defaults to POST; -i shows 201', async () => {
    const run = await runCli(
      [
        'request',
        '-i',
        '-H',
        'Content-Type: application/json',
        '-d',
        '@-',
        'callout:Target/services/data/v61.0/sobjects/Account',
      ],
      t.env,
      { stdin: JSON.stringify({ Name: 'From Stdin' }) },
    )
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^HTTP 201\b/)
  })

  it('a 404 prints the body, exits 22 and writes error HTTP_404 on stderr', async () => {
    const run = await runCli(
      ['get', 'callout:Target/services/data/v61.0/sobjects/Account/001000000000000AAA'],
      t.env,
    )
    expect(run.code).toBe(22)
    expect(run.stderr).toMatch(/^error HTTP_404: /)
    expect(JSON.parse(run.stdout)[0].errorCode).toBe('NOT_FOUND')
  })

  it('a 400 from the upstream is exit 22 too', async () => {
    const run = await runCli(
      [
        'request',
        '-X',
        'POST',
        '-H',
        'content-type: application/json',
        '-d',
        '{not json',
        'callout:Target/services/data/v61.0/sobjects/Account',
      ],
      t.env,
    )
    expect(run.code).toBe(22)
    expect(run.stderr).toMatch(/^error HTTP_400: /)
  })

  it("a non-2xx response prints Callout's advice (callout-advice) after the status", async () => {
    emulator.faults.setBlockedSession(true)
    try {
      const run = await runCli(['get', 'callout:Target/services/data/v61.0/limits'], t.env)
      expect(run.code).toBe(22)
      expect(run.stderr).toMatch(
        /^error HTTP_401: the upstream answered 401.* — Salesforce says this session is not valid for the REST API/,
      )
      expect(run.stderr).toContain('callout auth Target')
    } finally {
      emulator.faults.setBlockedSession(false)
    }
  })

  it('recovers from expired sessions (401 → new token → retry)', async () => {
    emulator.faults.expireSessions()
    const run = await runCli(['get', 'callout:Target/services/data/v61.0/limits'], t.env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
  })

  it.each([
    ['no colon', 'NoColon'],
    ['empty name', ': value'],
    ['space in name', 'Bad Name: v'],
  ])('a malformed -H (%s) is INVALID_ARGUMENT', async (_label, header) => {
    const run = await runCli(
      ['get', '-H', header, 'callout:Target/services/data/v61.0/limits'],
      t.env,
    )
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: -H .*Name: value/)
    expect(run.stdout).toBe('')
  })

  it.each([['X-A: a\r\nX-Injected: 1'], ['X-A: a\nb'], ['X-A: a\0b']])(
    'CR/LF/NUL in a header value is HEADER_INJECTION (%j)',
    async (header) => {
      const run = await runCli(
        ['get', '-H', header, 'callout:Target/services/data/v61.0/limits'],
        t.env,
      )
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^error HEADER_INJECTION: /)
    },
  )

  it('a bad -X is INVALID_ARGUMENT', async () => {
    const run = await runCli(['request', '-X', 'GET /x HTTP/1.1', 'callout:Target/x'], t.env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: -X /)
  })

  it('a -d @file that does not exist is INVALID_ARGUMENT', async () => {
    const run = await runCli(
      ['request', '-d', '@/nonexistent/body.json', 'callout:Target/x'],
      t.env,
    )
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: -d @\/nonexistent\/body\.json/)
  })

  it.each([
    ['callout:Target/../x', 'CALLOUT_URL_MALFORMED'],
    ['callout:Target/services/../../x', 'CALLOUT_URL_MALFORMED'],
    ['callout:Target@evil.example/x', 'CALLOUT_URL_MALFORMED'],
    ['callout:Target/%2e%2e/%2e%2e/x', 'CALLOUT_URL_MALFORMED'],
    ['callout:Target//evil.example/x', 'CALLOUT_URL_MALFORMED'],
    ['callout:Target/a\\b', 'CALLOUT_URL_MALFORMED'],
    ['callout:Target/a b', 'CALLOUT_URL_MALFORMED'],
    ['callout:Nope/x', 'CREDENTIAL_NOT_FOUND'],
  ])('%s is refused with %s (exit 1)', async (url, code) => {
    const before = emulator.requestLog.entries().length
    const run = await runCli(['get', url], t.env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(new RegExp(`^error ${code}: `))
    expect(run.stdout).toBe('')
    expect(emulator.requestLog.entries().length).toBe(before)
  })

  it('a plain URL without --plain is refused, naming --plain; nothing is sent', async () => {
    const before = emulator.requestLog.entries().length
    const run = await runCli(['get', `${instanceUrl}/services/data`], t.env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error CALLOUT_URL_MALFORMED: .*--plain/)
    expect(emulator.requestLog.entries().length).toBe(before)
  })

  it('--plain calls a plain URL without any credential', async () => {
    const run = await runCli(['get', '--plain', `${instanceUrl}/services/data`], t.env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout)[0]).toMatchObject({ version: '31.0' })
    const [last] = emulator.requestLog.entries().slice(-1)
    expect(last?.path).toBe('/services/data')
    // no credential: a protected resource answers 401, exit 22
    const limits = await runCli(
      ['get', '--plain', `${instanceUrl}/services/data/v61.0/limits`],
      t.env,
    )
    expect(limits.code).toBe(22)
    expect(limits.stderr).toMatch(/^error HTTP_401: /)
  })

  it('status never prints a stored token (canary: the real access token)', async () => {
    await runCli(['get', 'callout:Target/services/data/v61.0/limits'], t.env)
    const store = await openStore({ home: t.home, env: t.env })
    let token: string
    try {
      const [cred] = await store.listCredentials({ externalCredential: 'TargetAuth' })
      expect(cred?.accessToken).toBeDefined()
      token = cred!.accessToken!.reveal()
    } finally {
      await store.close()
    }
    expect(token.length).toBeGreaterThan(20)
    const text = await runCli(['status'], t.env)
    const json = await runCli(['status', 'Target', '--json'], t.env)
    const list = await runCli(['list', '--json'], t.env)
    const exported = await runCli(['export'], t.env)
    for (const run of [text, json, list, exported]) {
      expect(run.code).toBe(0)
      expect(run.stdout + run.stderr).not.toContain(token)
      expect(run.stdout + run.stderr).not.toContain(token.split('!')[1] ?? token)
      expect(run.stdout + run.stderr).not.toContain('PRIVATE KEY')
    }
    expect(text.stdout).toContain(`Target  ${instanceUrl}  oauth2/jwt-bearer`)
    const [report] = JSON.parse(json.stdout)
    expect(report.principals[0]).toMatchObject({
      principal: 'Integration',
      status: 'authenticated',
    })
  })
})
