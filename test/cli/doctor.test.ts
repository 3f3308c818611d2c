import type { EmulatedOrg, Emulator } from '@callout/salesforce-emulator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Finding } from '../../src/cli/doctor-checks.ts'
import { MasterKey } from '../../src/secrets/index.ts'
import { Secret } from '../../src/secrets/secret.ts'
import { openStore } from '../../src/store/index.ts'
import { runCli, tempHome, type TempHome } from './helpers.ts'
import { JWT_USER, initAndApply, jwtApp, startTargetOrg } from './target-org.ts'

const CANARY = 'CANARY-access-token-8d1f3e'
const CANARY_REFRESH = 'CANARY-refresh-token-51ac07'

/** The lines of a doctor run, split into level, subject and the rest. */
function lines(stdout: string): { level: string; subject: string; text: string }[] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => {
      const match = /^(ok|warn|fail) +([^:]+): (.*)$/.exec(line)
      if (match === null) throw new Error(`not a finding line: ${line}`)
      return { level: match[1]!, subject: match[2]!, text: match[3]! }
    })
}

describe('callout doctor against the Salesforce emulator', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let t: TempHome
  let env: Record<string, string | undefined>

  beforeAll(async () => {
    const server = jwtApp()
    ;({ emulator, org, t } = await startTargetOrg({
      users: [{ username: JWT_USER, name: 'Integration User' }],
      connectedApps: [
        { name: 'Browser', callbackUrls: ['http://localhost:1717/oauth/callback'] },
        server.app,
      ],
    }))
    env = { ...t.env, SF_SECRET: org.connectedApp('Browser').consumerSecret }
    await server.writeKeys(t.dir)
    const { applied } = await initAndApply(
      t,
      env,
      `
authProviders:
  TargetServer: { type: salesforce, loginUrl: ${org.loginUrl}, consumerKey: ${org.connectedApp('Server').consumerKey} }
  TargetBrowser:
    type: salesforce
    loginUrl: ${org.loginUrl}
    consumerKey: ${org.connectedApp('Browser').consumerKey}
    consumerSecret: '\${env:SF_SECRET}'
externalCredentials:
  ServerAuth:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetServer
    principals:
      Integration:
        type: named
        parameters: { username: ${JWT_USER} }
        secrets: { privateKey: '\${file:server.key}' }
  BrokenAuth:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetServer
    principals:
      Integration:
        type: named
        parameters: { username: ${JWT_USER} }
        secrets: { privateKey: '\${file:other.key}' }
  ApiOnly:
    protocol: oauth2
    flow: browser
    authProvider: TargetBrowser
    scope: api
    principals: { Admin: { type: named } }
  Revoked:
    protocol: oauth2
    flow: browser
    authProvider: TargetBrowser
    scope: api refresh_token
    principals: { Admin: { type: named } }
  Planted:
    protocol: oauth2
    flow: browser
    authProvider: TargetBrowser
    scope: api refresh_token
    principals: { Admin: { type: named } }
namedCredentials:
  Target: { url: ${org.instanceUrl}, externalCredential: ServerAuth }
  Lightning: { url: 'https://acme.lightning.force.com', externalCredential: ServerAuth }
  Broken: { url: ${org.instanceUrl}, externalCredential: BrokenAuth }
  Scoped: { url: ${org.instanceUrl}, externalCredential: ApiOnly }
  Reauth: { url: ${org.instanceUrl}, externalCredential: Revoked }
  Canary: { url: ${org.instanceUrl}, externalCredential: Planted }
`,
    )
    // Only the browser flow whose scope is "api" gets a warning.
    expect(applied.stderr).toMatch(
      /^warning: externalCredentials\.ApiOnly: the scope "api" lacks refresh_token: [^\n]*\n$/,
    )
    expect(applied.code).toBe(0)

    // States that need a browser login are written the way the token manager writes them.
    const store = await openStore({ home: t.home, env })
    try {
      const now = Date.now()
      const reauth = await store.compareAndSetCredential(
        {
          externalCredential: 'Revoked',
          principal: 'Admin',
          userId: '',
          status: 'needs-reauth',
          lastError: { code: 'invalid_grant', message: 'expired access/refresh token', at: now },
        },
        0,
      )
      expect(reauth?.status).toBe('needs-reauth')
      const planted = await store.compareAndSetCredential(
        {
          externalCredential: 'Planted',
          principal: 'Admin',
          userId: '',
          status: 'authenticated',
          accessToken: new Secret(CANARY),
          refreshToken: new Secret(CANARY_REFRESH),
          tokenType: 'Bearer',
          issuedAt: now,
          scope: 'api refresh_token',
          instanceUrl: org.instanceUrl,
          identity: { username: 'admin@target.example' },
        },
        0,
      )
      expect(planted?.status).toBe('authenticated')
    } finally {
      await store.close()
    }
  })
  afterAll(async () => {
    await emulator?.close()
    await t?.remove()
  })

  it('a healthy jwt-bearer credential: every line ok, exit 0', async () => {
    const run = await runCli(['doctor', 'Target'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const found = lines(run.stdout)
    expect(found.map((f) => f.level)).toEqual(found.map(() => 'ok'))
    expect(found.map((f) => f.subject)).toEqual(
      expect.arrayContaining(['master key', 'store', 'Target', 'Target Integration']),
    )
    expect(run.stdout).toMatch(/^ok {3}store: schema version \d+ \(up to date\)$/m)
    expect(run.stdout).toContain('ok   Target: enabled')
    // The emulator serves login and API on one origin, the provider's loginUrl: a login host.
    expect(run.stdout).toContain(
      `ok   Target: the URL ${org.instanceUrl} is a login host, which serves no org API; API calls go to the token's instance_url (known after the first token)`,
    )
    expect(run.stdout).toContain('ok   Target Integration: not yet used')
    // Offline: nothing reached the org.
    expect(run.stdout).not.toContain('services/data answered')
  })

  it('--online obtains a token and GETs /services/data: 200, exit 0, no token printed', async () => {
    const run = await runCli(['doctor', 'Target', '--online'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const found = lines(run.stdout)
    expect(found.every((f) => f.level === 'ok')).toBe(true)
    expect(run.stdout).toContain(`ok   Target: obtained a token now (Authenticated as ${JWT_USER})`)
    expect(run.stdout).toContain('ok   Target: GET /services/data/v61.0/ answered 200')
    expect(run.stdout).toContain(`ok   Target Integration: Authenticated as ${JWT_USER}`)
    const store = await openStore({ home: t.home, env })
    try {
      const stored = await store.getCredential({
        externalCredential: 'ServerAuth',
        principal: 'Integration',
        userId: '',
      })
      const token = stored?.accessToken?.reveal()
      expect(token).toBeTypeOf('string')
      expect(run.stdout).not.toContain(token)
    } finally {
      await store.close()
    }
  })

  it('a *.lightning.force.com URL: warn naming instance_url, the stored instance and my.salesforce.com (offline)', async () => {
    expect((await runCli(['auth', 'Target'], env)).code).toBe(0)
    const run = await runCli(['doctor', 'Lightning'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const warn = lines(run.stdout).find((f) => f.level === 'warn')
    expect(warn?.subject).toBe('Lightning')
    expect(warn?.text).toContain('https://acme.lightning.force.com')
    expect(warn?.text).toContain('302 or INVALID_SESSION_ID')
    expect(warn?.text).toContain(`instance_url ${new URL(org.instanceUrl).origin}`)
    expect(warn?.text).toMatch(/ — set the Named Credential URL to .*\.my\.salesforce\.com/)
  })

  it('a browser flow whose scope is "api" only: warn about refresh_token', async () => {
    const run = await runCli(['doctor', 'Scoped'], env)
    expect(run.code).toBe(0)
    const warns = lines(run.stdout).filter((f) => f.level === 'warn')
    expect(warns.map((f) => f.subject)).toEqual(['Scoped', 'Scoped Admin'])
    expect(warns[0]?.text).toContain('the scope "api" lacks refresh_token')
    expect(warns[0]?.text).toContain('2 hours')
    expect(warns[1]?.text).toBe('never authenticated — run callout auth Scoped')
  })

  it('a needs-reauth principal: fail, exit 1, "run callout auth <Name>"', async () => {
    const run = await runCli(['doctor', 'Reauth'], env)
    expect(run.code).toBe(1)
    const fails = lines(run.stdout).filter((f) => f.level === 'fail')
    expect(fails).toEqual([
      {
        level: 'fail',
        subject: 'Reauth Admin',
        text: 'needs re-authentication (invalid_grant) — run callout auth Reauth',
      },
    ])
  })

  it('--online with a key the Connected App does not trust: fail with the typed code, exit 1', async () => {
    const run = await runCli(['doctor', 'Broken', '--online'], env)
    expect(run.code).toBe(1)
    const fail = lines(run.stdout).find((f) => f.level === 'fail' && f.subject === 'Broken')
    expect(fail?.text).toMatch(/^could not obtain a token: (?!INTERNAL)[A-Z_]+: /)
    // Salesforce advice follows the typed error.
    expect(fail?.text).toMatch(/ — \S/)
    expect(run.stdout).not.toContain('PRIVATE KEY')
    expect(run.stdout).not.toContain('services/data answered')
  })

  it('--json prints a parseable findings array without any stored token', async () => {
    const run = await runCli(['doctor', '--json'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(1) // Reauth fails
    const findings = JSON.parse(run.stdout) as Finding[]
    expect(Array.isArray(findings)).toBe(true)
    for (const f of findings) {
      expect(['ok', 'warn', 'fail']).toContain(f.level)
      expect(f.subject).toBeTypeOf('string')
      expect(f.what).toBeTypeOf('string')
    }
    expect(findings).toContainEqual({
      level: 'ok',
      subject: 'Canary Admin',
      what: 'Authenticated as admin@target.example',
    })
    expect(findings).toContainEqual(
      expect.objectContaining({ level: 'fail', subject: 'Reauth Admin', code: 'NEEDS_REAUTH' }),
    )
    expect(run.stdout).not.toContain(CANARY)
    expect(run.stdout).not.toContain(CANARY_REFRESH)
    expect(run.stdout).not.toContain('PRIVATE KEY')
  })

  it('an unknown name is error CREDENTIAL_NOT_FOUND, exit 1', async () => {
    const run = await runCli(['doctor', 'Nope'], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error CREDENTIAL_NOT_FOUND: /)
    expect(run.stdout).toBe('')
  })

  it('a hostile name is CREDENTIAL_NOT_FOUND too, never echoed into a finding', async () => {
    const run = await runCli(['doctor', '../Target\r\nok fake: line'], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error CREDENTIAL_NOT_FOUND: /)
    expect(run.stdout).toBe('')
  })

  it('a master key that does not match the store: fail MASTER_KEY_INVALID, exit 1', async () => {
    const other = MasterKey.generate().toBase64()
    const run = await runCli(['doctor', 'Target'], { ...env, CALLOUT_MASTER_KEY: other })
    expect(run.code).toBe(1)
    const found = lines(run.stdout)
    expect(found[0]).toEqual({
      level: 'ok',
      subject: 'master key',
      text: 'loaded from CALLOUT_MASTER_KEY',
    })
    expect(found[1]?.level).toBe('fail')
    expect(found[1]?.subject).toBe('store')
    expect(found[1]?.text).toMatch(/^cannot open: MASTER_KEY_INVALID: /)
    expect(run.stdout).not.toContain(other)
  })

  it('no master key at all: fail MASTER_KEY_MISSING telling to run callout init', async () => {
    const empty = await tempHome()
    try {
      const run = await runCli(['doctor'], empty.env)
      expect(run.code).toBe(1)
      expect(lines(run.stdout)).toEqual([
        {
          level: 'fail',
          subject: 'master key',
          text: expect.stringMatching(/^cannot load: MASTER_KEY_MISSING: .*callout init/),
        },
      ])
    } finally {
      await empty.remove()
    }
  })
})
