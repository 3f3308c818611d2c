import { existsSync } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { MasterKey, parseMasterKey } from '../../src/secrets/master-key.ts'
import { Secret } from '../../src/secrets/secret.ts'
import { openStore } from '../../src/store/open-store.ts'
import { BIN, runCli, tempHome, writeText, type TempHome } from './helpers.ts'
import { JWT_USER, jwtApp, startTargetOrg, type TargetOrg } from './target-org.ts'

describe('callout rotate-key', () => {
  const server = jwtApp('Callout')
  let target: TargetOrg
  let t: TempHome
  beforeAll(async () => {
    target = await startTargetOrg({ users: [{ username: JWT_USER }], connectedApps: [server.app] })
  })
  afterAll(async () => {
    await target?.close()
  })
  // Each test rotates the key of a home of its own.
  beforeEach(async () => {
    const { org } = target
    t = await tempHome()
    await server.writeKeys(t.dir)
    await writeText(
      t.dir,
      'callout.yaml',
      `
authProviders:
  TargetOrg: { type: salesforce, loginUrl: ${org.loginUrl}, consumerKey: ${org.connectedApp('Callout').consumerKey} }
externalCredentials:
  TargetAuth:
    protocol: oauth2
    flow: jwt-bearer
    authProvider: TargetOrg
    principals:
      Integration: { type: named, parameters: { username: ${JWT_USER} }, secrets: { privateKey: '\${file:server.key}' } }
namedCredentials:
  Target: { url: ${org.instanceUrl}, externalCredential: TargetAuth }
`,
    )
  })
  afterEach(async () => {
    await t.remove()
  })

  async function setUp(env: Record<string, string | undefined>): Promise<void> {
    expect((await runCli(['init'], env)).code).toBe(0)
    expect((await runCli(['apply', '-f', 'callout.yaml'], env, { cwd: t.dir })).code).toBe(0)
    // a stored token too, so tokens are re-encrypted as well as definitions
    expect((await runCli(['get', 'callout:Target/services/data/v61.0/limits'], env)).code).toBe(0)
  }

  it('with a key file: progress, master.key replaced, master.key.previous kept, credentials still readable', async () => {
    await setUp(t.env)
    const keyPath = join(t.home, 'master.key')
    const before = await readFile(keyPath, 'utf8')

    const run = await runCli(['rotate-key', '--batch-size', '1'], t.env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^re-encrypted \d+\/\d+ rows$/m)
    const progress = run.stdout.match(/^re-encrypted (\d+)\/(\d+) rows$/gm) ?? []
    expect(progress.length).toBeGreaterThan(1)
    expect(run.stdout).toMatch(/^rotated: master key \S+ → \S+ in /m)
    expect(run.stdout).toContain(`${keyPath}.previous`)

    const after = await readFile(keyPath, 'utf8')
    expect(after).not.toBe(before)
    expect(await readFile(`${keyPath}.previous`, 'utf8')).toBe(before)
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600)
    expect(existsSync(`${keyPath}.next`)).toBe(false)

    const status = await runCli(['status', 'Target', '--json'], t.env)
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout)[0].principals[0].status).toBe('authenticated')
    const call = await runCli(['get', 'callout:Target/services/data/v61.0/limits'], t.env)
    expect(call.stderr).toBe('')
    expect(call.code).toBe(0)
    // the cached token was re-encrypted too: a fresh mint is not needed
    target.emulator.faults.expireSessions()
    expect((await runCli(['get', 'callout:Target/services/data/v61.0/limits'], t.env)).code).toBe(0)
  })

  it('the old key no longer opens the store after rotation', async () => {
    await setUp(t.env)
    const keyPath = join(t.home, 'master.key')
    const old = (await readFile(keyPath, 'utf8')).trim()
    expect((await runCli(['rotate-key'], t.env)).code).toBe(0)
    const run = await runCli(['status'], { ...t.env, CALLOUT_MASTER_KEY: old })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error MASTER_KEY_[A-Z_]+: /)
  })

  it('with CALLOUT_MASTER_KEY and no --output: INVALID_ARGUMENT naming --output', async () => {
    const env = { ...t.env, CALLOUT_MASTER_KEY: Buffer.alloc(32, 3).toString('base64') }
    await setUp(env)
    const run = await runCli(['rotate-key'], env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: .*--output/)
  })

  it('with CALLOUT_MASTER_KEY and --output: writes the new key 0600; the new key reads the store', async () => {
    const env = { ...t.env, CALLOUT_MASTER_KEY: Buffer.alloc(32, 3).toString('base64') }
    await setUp(env)
    const run = await runCli(['rotate-key', '--output', 'new.key'], env, { cwd: t.dir })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const out = join(t.dir, 'new.key')
    expect(run.stdout).toContain(`the new key is in ${out}`)
    expect((await stat(out)).mode & 0o777).toBe(0o600)
    const next = (await readFile(out, 'utf8')).trim()
    const call = await runCli(['get', 'callout:Target/services/data/v61.0/limits'], {
      ...env,
      CALLOUT_MASTER_KEY: next,
    })
    expect(call.code).toBe(0)
    // never overwrites an existing file
    const again = await runCli(
      ['rotate-key', '--output', 'new.key'],
      { ...env, CALLOUT_MASTER_KEY: next },
      { cwd: t.dir },
    )
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^error INVALID_ARGUMENT: .*already exists/)
    expect((await readFile(out, 'utf8')).trim()).toBe(next)
  })

  it('killed mid-run: MASTER_KEY_INVALID names master.key.next and `callout rotate-key --resume`, which finishes it', async () => {
    await setUp(t.env)
    const keyPath = join(t.home, 'master.key')
    const old = (await readFile(keyPath, 'utf8')).trim()
    // Enough rows that a rotation in batches of one is still running when it is killed.
    const store = await openStore({ home: t.home, masterKey: parseMasterKey(old) })
    for (let i = 0; i < 300; i++) {
      await store.compareAndSetCredential(
        {
          externalCredential: 'TargetAuth',
          principal: 'Integration',
          userId: `user-${i}`,
          status: 'authenticated',
          accessToken: new Secret(`at-${i}`),
        },
        0,
      )
    }
    await store.close()

    const child = spawn(process.execPath, [BIN, 'rotate-key', '--batch-size', '1'], {
      env: t.env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) =>
        reject(new Error(`rotate-key exited (${code}) before it was killed:\n${out}`)),
      )
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8')
        if (/^re-encrypted [1-9]\d*\/\d+ rows$/m.test(out)) {
          child.removeAllListeners('exit')
          child.once('exit', () => resolve())
          child.kill('SIGKILL')
        }
      })
    })
    expect(out).not.toContain('rotated:')
    expect(existsSync(`${keyPath}.next`)).toBe(true)
    expect((await readFile(keyPath, 'utf8')).trim()).toBe(old)

    const stuck = await runCli(['status'], t.env)
    expect(stuck.code).toBe(1)
    expect(stuck.stderr).toMatch(/^error MASTER_KEY_INVALID: /)
    expect(stuck.stderr).toContain(`${keyPath}.next`)
    expect(stuck.stderr).toContain('`callout rotate-key --resume`')

    const next = (await readFile(`${keyPath}.next`, 'utf8')).trim()
    const resumed = await runCli(['rotate-key', '--resume'], t.env)
    expect(resumed.stderr).toBe('')
    expect(resumed.code).toBe(0)
    expect(resumed.stdout).toMatch(/^rotation finished: master key \S+ in /m)
    expect((await readFile(keyPath, 'utf8')).trim()).toBe(next)
    expect((await readFile(`${keyPath}.previous`, 'utf8')).trim()).toBe(old)
    expect(existsSync(`${keyPath}.next`)).toBe(false)
    const reopened = await openStore({ home: t.home, masterKey: parseMasterKey(next) })
    expect(
      (
        await reopened.getCredential({
          externalCredential: 'TargetAuth',
          principal: 'Integration',
          userId: 'user-299',
        })
      )?.accessToken?.reveal(),
    ).toBe('at-299')
    await reopened.close()
    const call = await runCli(['get', 'callout:Target/services/data/v61.0/limits'], t.env)
    expect(call.stderr).toBe('')
    expect(call.code).toBe(0)
  })

  it('--resume after a rotation killed before it re-wrapped anything rotates to master.key.next', async () => {
    await setUp(t.env)
    const keyPath = join(t.home, 'master.key')
    const pending = MasterKey.generate()
    await writeFile(`${keyPath}.next`, `${pending.toBase64()}\n`, { mode: 0o600 })
    const again = await runCli(['rotate-key'], t.env)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('`callout rotate-key --resume`')
    const resumed = await runCli(['rotate-key', '--resume'], t.env)
    expect(resumed.stderr).toBe('')
    expect(resumed.code).toBe(0)
    expect((await readFile(keyPath, 'utf8')).trim()).toBe(pending.toBase64())
    expect((await runCli(['get', 'callout:Target/services/data/v61.0/limits'], t.env)).code).toBe(0)
    const nothing = await runCli(['rotate-key', '--resume'], t.env)
    expect(nothing.code).toBe(1)
    expect(nothing.stderr).toMatch(/^error INVALID_ARGUMENT: There is no interrupted rotation/)
  })

  it('without any key: MASTER_KEY_MISSING telling to run callout init', async () => {
    const run = await runCli(['rotate-key'], t.env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error MASTER_KEY_MISSING: .*callout init/)
  })

  it.each([['0'], ['abc'], ['1.5'], ['100000']])(
    '--batch-size %s is INVALID_ARGUMENT',
    async (n) => {
      await setUp(t.env)
      const run = await runCli(['rotate-key', '--batch-size', n], t.env)
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: --batch-size/)
    },
  )
})
