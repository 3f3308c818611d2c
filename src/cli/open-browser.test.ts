import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openBrowser, openerEnv } from './open-browser.ts'

const dirs: string[] = []
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

describe('openBrowser', () => {
  it.skipIf(process.platform !== 'linux')(
    'a real opener (xdg-open on PATH) sees the URL but not the master key or env secrets',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'callout-opener-'))
      dirs.push(dir)
      const dump = join(dir, 'env.txt')
      await writeFile(
        join(dir, 'xdg-open'),
        `#!/bin/sh\nenv > "${dump}.tmp"\necho "$1" >> "${dump}.tmp"\nmv "${dump}.tmp" "${dump}"\n`,
      )
      await chmod(join(dir, 'xdg-open'), 0o755)
      const env = {
        PATH: `${dir}:${process.env.PATH ?? ''}`,
        HOME: dir,
        DISPLAY: ':0',
        XDG_RUNTIME_DIR: '/run/user/1000',
        CALLOUT_MASTER_KEY: 'MASTER-KEY-CANARY-4f1c',
        API_CLIENT_SECRET: 'ENV-SECRET-CANARY-9e2b',
      }
      expect(openBrowser('https://login.example.com/authorize?state=s', env)).toBe(true)
      const until = Date.now() + 10_000
      while (!existsSync(dump) && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      const seen = await readFile(dump, 'utf8')
      expect(seen).toContain('https://login.example.com/authorize?state=s')
      expect(seen).toContain('DISPLAY=:0')
      expect(seen).toContain('XDG_RUNTIME_DIR=/run/user/1000')
      expect(seen).not.toContain('MASTER-KEY-CANARY-4f1c')
      expect(seen).not.toContain('ENV-SECRET-CANARY-9e2b')
      expect(seen).not.toContain('CALLOUT_')
    },
  )

  it('openerEnv keeps the desktop and locale variables only', () => {
    expect(
      openerEnv({
        PATH: '/bin',
        LANG: 'C',
        LC_ALL: 'C',
        BROWSER: 'firefox',
        CALLOUT_STORE: 'x',
        AWS_SECRET_ACCESS_KEY: 'y',
      }),
    ).toEqual({ PATH: '/bin', LANG: 'C', LC_ALL: 'C', BROWSER: 'firefox' })
  })
})
