import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, spawnCli, tempHome, writeText, type TempHome } from './helpers.ts'

/** `node bin/callout.js …` as users run it: real exit statuses and stderr. */
describe('bin/callout.js', () => {
  let t: TempHome
  beforeAll(async () => {
    t = await tempHome()
  })
  afterAll(async () => {
    await t.remove()
  })

  it.concurrent(
    'without a master key: exit 1 and MASTER_KEY_MISSING telling to run callout init',
    async () => {
      const empty = await tempHome()
      const run = await spawnCli(['list'], empty.env).finally(() => empty.remove())
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^error MASTER_KEY_MISSING: .*callout init/)
      expect(run.stdout).toBe('')
    },
  )

  it.concurrent(
    '--help into a closed pipe exits 0 quietly (callout --help | head -3)',
    async () => {
      const child = spawn(process.execPath, [BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] })
      // Closed before the process has started: its first write meets EPIPE.
      child.stdout.destroy()
      let stderr = ''
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
      expect(stderr).toBe('')
      expect(code).toBe(0)
    },
  )

  it.concurrent('an error into a closed stderr still exits with its status, quietly', async () => {
    const child = spawn(process.execPath, [BIN, 'frobnicate'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stderr.destroy()
    let stdout = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(stdout).toBe('')
    expect(code).toBe(2)
  })

  it.concurrent('an unknown command exits 2 with usage help on stderr', async () => {
    const run = await spawnCli(['frobnicate'], t.env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("error: unknown command 'frobnicate'")
    expect(run.stderr).toContain('callout --help')
  })

  it.concurrent('an unknown option exits 2', async () => {
    const run = await spawnCli(['list', '--bogus'], t.env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("error: unknown option '--bogus'")
  })

  it.concurrent(
    'init (exit 0), then a malformed config exits 1 with CONFIG_INVALID and writes nothing',
    async () => {
      const init = await spawnCli(['init'], t.env)
      expect(init.stderr).toBe('')
      expect(init.code).toBe(0)
      expect((await stat(join(t.home, 'master.key'))).mode & 0o777).toBe(0o600)
      expect(existsSync(join(t.home, 'callout.db'))).toBe(true)
      const file = await writeText(
        t.dir,
        'bad.yaml',
        'namedCredentials:\n  Api: { url: ftp://x, externalCredential: Nope }\n',
      )
      const run = await spawnCli(['apply', '-f', file], t.env)
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^error CONFIG_INVALID: /)
      expect(run.stderr).toContain('namedCredentials.Api')
      const list = await spawnCli(['list', '--json'], t.env)
      expect(list.code).toBe(0)
      expect(JSON.parse(list.stdout)).toEqual([])
    },
  )

  it.concurrent('a hostile callout URL exits 1 with CALLOUT_URL_MALFORMED', async () => {
    const run = await spawnCli(['get', 'callout:Target/../x'], t.env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error CALLOUT_URL_MALFORMED: /)
  })

  it.concurrent('--version prints the version (exit 0)', async () => {
    const run = await spawnCli(['--version'], t.env)
    expect(run.code).toBe(0)
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})
