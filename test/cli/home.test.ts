/**
 * The Callout home is found the way git finds its folder: --home, CALLOUT_HOME, else the nearest
 * .callout/ from the current folder up. Spawned as the real `callout`.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, spawnCli, writeText } from './helpers.ts'

describe('the Callout home', () => {
  let dir: string
  let env: Record<string, string | undefined>
  let config: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'callout-home-'))
    // No CALLOUT_HOME: the home is found from the working folder.
    env = { PATH: process.env.PATH, HOME: dir }
    config = await writeText(
      dir,
      'callout.yaml',
      'namedCredentials: { Api: { url: "https://api.example.com", identityType: anonymous } }\n',
    )
    const project = join(dir, 'project')
    await mkdir(join(project, 'src', 'deep'), { recursive: true })
    const init = await runCli(['init'], env, { cwd: project })
    expect(init.code).toBe(0)
    expect((await runCli(['apply', '-f', config], env, { cwd: project })).code).toBe(0)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('init writes a .gitignore in the home, so git never commits the master key', async () => {
    const home = join(dir, 'project', '.callout')
    expect(await readFile(join(home, '.gitignore'), 'utf8')).toMatch(/^\*$/m)
    execFileSync('git', ['init', '-q'], { cwd: join(dir, 'project') })
    const ignored = execFileSync('git', ['check-ignore', '.callout/master.key'], {
      cwd: join(dir, 'project'),
      encoding: 'utf8',
    })
    expect(ignored.trim()).toBe('.callout/master.key')
  })

  it('from a subfolder, callout finds the project home instead of asking for a new one', async () => {
    const run = await spawnCli(['list'], env, { cwd: join(dir, 'project', 'src', 'deep') })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('Api  https://api.example.com')
    expect(existsSync(join(dir, 'project', 'src', 'deep', '.callout'))).toBe(false)
  })

  it('--home works on every command, relative to the working folder', async () => {
    const elsewhere = join(dir, 'elsewhere')
    await mkdir(elsewhere)
    const run = await runCli(['list', '--home', '../project/.callout'], env, { cwd: elsewhere })
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('Api')
    for (const args of [
      ['status'],
      ['doctor'],
      ['export'],
      ['migrate'],
      ['apply', '-f', config, '--dry-run'],
    ]) {
      const r = await runCli([...args, '--home', '../project/.callout'], env, { cwd: elsewhere })
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' })
    }
  })

  it('with no home anywhere up, MASTER_KEY_MISSING names --home and CALLOUT_HOME before init', async () => {
    const lonely = await mkdtemp(join(tmpdir(), 'callout-nohome-'))
    try {
      const run = await spawnCli(
        ['list'],
        { PATH: process.env.PATH, HOME: lonely },
        { cwd: lonely },
      )
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^error MASTER_KEY_MISSING: /)
      expect(run.stderr).toContain('--home <dir>')
      expect(run.stderr).toContain('CALLOUT_HOME')
      expect(run.stderr).toContain('nearest .callout/')
      expect(run.stderr).toContain('callout init')
    } finally {
      await rm(lonely, { recursive: true, force: true })
    }
  })

  it('--help mentions CALLOUT_HOME and each command takes --home', async () => {
    const help = await runCli(['--help'], env)
    expect(help.stdout).toContain('CALLOUT_HOME')
    const list = await runCli(['list', '--help'], env)
    expect(list.stdout).toContain('--home <dir>')
  })
})
