/**
 * `callout init --admin`, `callout admin create|password` and `callout admin token …` in-process,
 * and `callout serve` refusing to serve the console over plain http off loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/index.ts'
import { verifyPassword } from '../../src/server/admin/passwords.ts'
import { AdminAuth } from '../../src/server/admin/admin-auth.ts'
import { runCli, tempHome, type TempHome } from './helpers.ts'

let home: TempHome
const PASSWORD = 'a long enough passphrase'

beforeAll(async () => {
  home = await tempHome()
})
afterAll(async () => home?.remove())

async function withStore<T>(fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>) {
  const store = await openStore({ home: home.home, env: home.env })
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

describe('callout admin', () => {
  it('init offers the first admin, and creates it from --password-stdin', async () => {
    const bare = await tempHome()
    try {
      const plain = await runCli(['init'], bare.env)
      expect(plain.code).toBe(0)
      expect(plain.stdout).toContain('callout admin create --username <name>')
    } finally {
      await bare.remove()
    }
    const run = await runCli(['init', '--admin', 'alice', '--password-stdin'], home.env, {
      stdin: `${PASSWORD}\n`,
    })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('created console admin alice')
    expect(run.stdout).not.toContain('callout admin create')
    expect(run.stdout + run.stderr).not.toContain(PASSWORD)
    const user = await withStore((s) => s.admin.getAdminUser('alice'))
    expect(await verifyPassword(PASSWORD, user!.passwordHash)).toBe(true)
    expect(await verifyPassword(`${PASSWORD}\n`, user!.passwordHash)).toBe(false)
  })

  it('refuses a duplicate name, a bad name and a short password, storing nothing', async () => {
    const dup = await runCli(
      ['admin', 'create', '--username', 'alice', '--password-stdin'],
      home.env,
      {
        stdin: 'another long passphrase',
      },
    )
    expect(dup.code).toBe(1)
    expect(dup.stderr).toMatch(/^error INVALID_ARGUMENT: An admin named "alice" already exists/)
    const bad = await runCli(
      ['admin', 'create', '--username', '<b>', '--password-stdin'],
      home.env,
      {
        stdin: PASSWORD,
      },
    )
    expect(bad.stderr).toMatch(/^error INVALID_ARGUMENT: An admin username must/)
    const short = await runCli(
      ['admin', 'create', '--username', 'bob', '--password-stdin'],
      home.env,
      {
        stdin: 'short',
      },
    )
    expect(short.stderr).toMatch(/12 to 1024 characters \(this one has 5\)/)
    expect(short.stderr).not.toContain('short\n')
    expect(await withStore((s) => s.admin.countAdminUsers())).toBe(1)
    const noTty = await runCli(['admin', 'create', '--username', 'bob'], home.env)
    expect(noTty.stderr).toContain('--password-stdin')
  })

  it('sets a new password, clearing a lockout and ending sessions', async () => {
    await withStore(async (store) => {
      const auth = new AdminAuth({ store: store.admin, clock: { now: () => Date.now() } })
      await auth.login('alice', PASSWORD)
      for (let i = 0; i < 5; i++)
        await auth.login('alice', 'wrong wrong wrong').catch(() => undefined)
      await expect(auth.login('alice', PASSWORD)).rejects.toMatchObject({
        code: 'ADMIN_LOCKED_OUT',
      })
    })
    const run = await runCli(
      ['admin', 'password', '--username', 'alice', '--password-stdin'],
      home.env,
      {
        stdin: 'the second passphrase',
      },
    )
    expect(run.code).toBe(0)
    await withStore(async (store) => {
      const auth = new AdminAuth({ store: store.admin, clock: { now: () => Date.now() } })
      await expect(auth.login('alice', PASSWORD)).rejects.toMatchObject({
        code: 'ADMIN_LOGIN_FAILED',
      })
      const { session } = await auth.login('alice', 'the second passphrase')
      expect(session.username).toBe('alice')
    })
    const missing = await runCli(
      ['admin', 'password', '--username', 'zed', '--password-stdin'],
      home.env,
      {
        stdin: 'the second passphrase',
      },
    )
    expect(missing.stderr).toContain('No admin is named "zed"')
  })

  it('creates, lists and revokes admin API tokens; the token is printed once and stored hashed', async () => {
    const created = await runCli(
      ['admin', 'token', 'create', '--name', 'deploy-bot', '--expires', '2d'],
      home.env,
    )
    expect(created.code).toBe(0)
    const token = created.stdout.trim()
    expect(token).toMatch(/^cat_[0-9a-f]{12}_[0-9a-f]{64}$/)
    const id = token.slice(4, 16)
    const list = await runCli(['admin', 'token', 'list', '--json'], home.env)
    expect(list.stdout).not.toContain(token.slice(17))
    expect(JSON.parse(list.stdout)).toMatchObject([{ id, name: 'deploy-bot', state: 'active' }])
    await withStore(async (store) => {
      const auth = new AdminAuth({ store: store.admin, clock: { now: () => Date.now() } })
      expect(await auth.token(`Bearer ${token}`)).toMatchObject({ actor: `token:${id}` })
      await expect(
        auth.token(`Bearer ${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`),
      ).rejects.toMatchObject({
        code: 'ADMIN_AUTH_REQUIRED',
      })
    })
    expect((await runCli(['admin', 'token', 'revoke', id], home.env)).code).toBe(0)
    expect((await runCli(['admin', 'token', 'revoke', id], home.env)).stderr).toContain(
      'No active admin API token',
    )
    await withStore(async (store) => {
      const auth = new AdminAuth({ store: store.admin, clock: { now: () => Date.now() } })
      await expect(auth.token(`Bearer ${token}`)).rejects.toMatchObject({
        code: 'ADMIN_AUTH_REQUIRED',
      })
      const actions = (await store.admin.listAudit()).map((e) => e.action)
      expect(actions).toEqual(
        expect.arrayContaining([
          'admin.create',
          'admin.password',
          'adminToken.create',
          'adminToken.revoke',
        ]),
      )
      expect(JSON.stringify(await store.admin.listAudit())).not.toContain(token)
    })
  })
})

describe('callout serve and the console', () => {
  it('refuses the console over plain http on a non-loopback address', async () => {
    const run = await runCli(['serve', '--host', '0.0.0.0', '--port', '0'], home.env)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      /^error INVALID_ARGUMENT: The setup console would be served over plain http on 0\.0\.0\.0/,
    )
    expect(run.stderr).toContain('--no-console')
    const http = await runCli(
      ['serve', '--host', '0.0.0.0', '--port', '0', '--public-url', 'http://callout.example.com'],
      home.env,
    )
    expect(http.code).toBe(1)
  })

  it('refuses a malformed --public-url', async () => {
    for (const url of [
      'callout.example.com',
      'https://u:p@x.example',
      'https://x.example/path',
      'ftp://x.example',
      'https://x.example/?q=1',
    ]) {
      const run = await runCli(['serve', '--port', '0', '--public-url', url], home.env)
      expect(run.code, url).toBe(1)
      expect(run.stderr).toContain('--public-url must be an origin')
    }
  })
})
