import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  MasterKey,
  createMasterKeyFile,
  loadMasterKey,
  masterKeyFingerprint,
  parseMasterKey,
  resolveHome,
} from './master-key.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callout-mk-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('parseMasterKey', () => {
  const raw = randomBytes(32)

  it.each([
    ['base64', raw.toString('base64')],
    ['base64 without padding', raw.toString('base64').replace(/=$/, '')],
    ['base64url', raw.toString('base64url')],
    ['hex', raw.toString('hex')],
    ['HEX', raw.toString('hex').toUpperCase()],
    ['with surrounding whitespace', `  ${raw.toString('base64')}\n`],
  ])('accepts %s', (_label, text) => {
    expect(parseMasterKey(text).reveal().equals(raw)).toBe(true)
  })

  it.each([
    ['empty', ''],
    ['31 bytes', randomBytes(31).toString('base64')],
    ['33 bytes', randomBytes(33).toString('base64')],
    ['63 hex digits', raw.toString('hex').slice(1)],
    ['a password', 'hunter2-is-my-password'],
    [
      'mixed alphabets',
      // 43 characters mixing base64 ('+') and base64url ('-') alphabets, deterministically.
      `${'A'.repeat(20)}+-${'A'.repeat(21)}`,
    ],
    ['non-canonical base64 (trailing bits set)', `${'A'.repeat(42)}B=`],
    ['embedded NUL', `${raw.toString('hex').slice(0, 32)}\0${raw.toString('hex').slice(33)}`],
  ])('rejects %s with MASTER_KEY_INVALID, never echoing the input', (_label, text) => {
    let error: unknown
    try {
      parseMasterKey(text)
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({ code: 'MASTER_KEY_INVALID' })
    const message = (error as Error).message
    expect(message).toContain('callout init')
    expect(message).toContain('openssl rand -base64 32')
    if (text.length > 3) expect(message).not.toContain(text.trim())
  })

  it('rejects a non-string without throwing a TypeError', () => {
    expect(() => parseMasterKey(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'MASTER_KEY_INVALID' }),
    )
  })
})

describe('MasterKey', () => {
  it('has a 16-hex-digit fingerprint and never prints its bytes', () => {
    const key = MasterKey.generate()
    expect(key.id).toMatch(/^[0-9a-f]{16}$/)
    expect(key.id).toBe(masterKeyFingerprint(key.reveal()))
    const b64 = key.toBase64()
    for (const printed of [String(key), JSON.stringify({ key }), inspect(key), `${key}`]) {
      expect(printed).not.toContain(b64)
      expect(printed).not.toContain(key.reveal().toString('hex'))
      expect(printed).toContain(key.id)
    }
  })

  it('fingerprint is the first 8 bytes of SHA-256', () => {
    // SHA-256 of 32 zero bytes is 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925
    expect(masterKeyFingerprint(Buffer.alloc(32))).toBe('66687aadf862bd77')
  })

  it('fromBytes rejects a wrong length', () => {
    expect(() => MasterKey.fromBytes(Buffer.alloc(16))).toThrow(
      expect.objectContaining({ code: 'MASTER_KEY_INVALID' }),
    )
  })
})

describe('resolveHome', () => {
  it('uses CALLOUT_HOME, else ./.callout', () => {
    expect(resolveHome({ CALLOUT_HOME: '/srv/callout' })).toBe('/srv/callout')
    expect(resolveHome({})).toBe(resolve('.callout'))
    expect(resolveHome({ CALLOUT_HOME: '  ' })).toBe(resolve('.callout'))
  })
})

describe('loadMasterKey', () => {
  it('prefers CALLOUT_MASTER_KEY', async () => {
    const key = MasterKey.generate()
    const loaded = await loadMasterKey({
      env: { CALLOUT_MASTER_KEY: key.toBase64() },
      home: join(dir, 'none'),
    })
    expect(loaded.id).toBe(key.id)
  })

  it('fails with MASTER_KEY_MISSING naming callout init when there is no key', async () => {
    await expect(loadMasterKey({ env: {}, home: join(dir, 'none') })).rejects.toMatchObject({
      code: 'MASTER_KEY_MISSING',
      message: expect.stringContaining('callout init'),
    })
  })

  it('reads a 0600 key file created by createMasterKeyFile', async () => {
    const home = join(dir, 'home-ok')
    const { path, key } = await createMasterKeyFile(home)
    expect(path).toBe(join(home, 'master.key'))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(home)).mode & 0o777).toBe(0o700)
    const loaded = await loadMasterKey({ env: {}, home })
    expect(loaded.id).toBe(key.id)
  })

  it('refuses a key file readable by group or others, naming chmod 600', async () => {
    const home = join(dir, 'home-open')
    const { path } = await createMasterKeyFile(home)
    for (const mode of [0o644, 0o640, 0o604]) {
      await chmod(path, mode)
      await expect(loadMasterKey({ env: {}, home })).rejects.toMatchObject({
        code: 'MASTER_KEY_INVALID',
        message: expect.stringContaining(`chmod 600 ${path}`),
      })
    }
    await chmod(path, 0o400)
    await expect(loadMasterKey({ env: {}, home })).resolves.toBeInstanceOf(MasterKey)
  })

  it('refuses a malformed key file without echoing it', async () => {
    const home = join(dir, 'home-bad')
    await mkdir(home, { recursive: true, mode: 0o700 })
    await writeFile(join(home, 'master.key'), 'not-a-key-canary-91c\n', { mode: 0o600 })
    const error = await loadMasterKey({ env: {}, home }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'MASTER_KEY_INVALID' })
    expect((error as Error).message).not.toContain('canary-91c')
  })

  it('refuses a directory in place of the key file', async () => {
    const home = join(dir, 'home-dir')
    await mkdir(join(home, 'master.key'), { recursive: true })
    await expect(loadMasterKey({ env: {}, home })).rejects.toMatchObject({
      code: 'MASTER_KEY_INVALID',
    })
  })
})

describe('createMasterKeyFile', () => {
  it('never overwrites an existing key', async () => {
    const home = join(dir, 'home-twice')
    const { path } = await createMasterKeyFile(home)
    const before = await readFile(path, 'utf8')
    await expect(createMasterKeyFile(home)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(await readFile(path, 'utf8')).toBe(before)
  })
})
