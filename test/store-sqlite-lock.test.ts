/**
 * A SQLite write lock held by another process must not freeze this process's event loop: the wait
 * for the lock is asynchronous. Another process (a real one) holds `BEGIN IMMEDIATE` for 3 s while
 * this one writes; the largest gap between timer ticks is measured.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MasterKey } from '../src/secrets/master-key.ts'
import { Secret } from '../src/secrets/secret.ts'
import { openStore } from '../src/store/open-store.ts'

const HOLD_MS = 3_000
/**
 * The largest event-loop gap allowed while the lock is waited for, on top of the gap this process
 * shows with no store work at all (a loaded machine's scheduler alone makes tens of ms).
 */
const MAX_ADDED_GAP_MS = 50

let tmp: string
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'callout-lock-'))
})
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
})

/** Starts a process that holds the database's write lock for `ms`; resolves once it holds it. */
async function holdWriteLock(path: string, ms: number): Promise<ChildProcess> {
  const script = `
    import Database from 'better-sqlite3'
    const db = new Database(${JSON.stringify(path)})
    db.prepare('begin immediate').run()
    db.prepare("insert into leases (name, holder, expires_at) values ('other', 'other', 1)").run()
    process.stdout.write('locked\\n')
    setTimeout(() => { db.prepare('commit').run(); db.close(); process.exit(0) }, ${ms})
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the lock holder exited early (${code})`)))
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve()
    })
  })
  return child
}

/** The largest timer gap over `ms` with nothing else to do: the scheduler's own noise. */
async function baselineGap(ms: number): Promise<number> {
  const probe = gapProbe()
  await new Promise((resolve) => setTimeout(resolve, ms))
  return probe.stop()
}

/** Measures the largest gap between 5 ms timer ticks until stopped. */
function gapProbe(): { stop(): number } {
  let last = performance.now()
  let largest = 0
  const timer = setInterval(() => {
    const now = performance.now()
    largest = Math.max(largest, now - last)
    last = now
  }, 5)
  return {
    stop() {
      clearInterval(timer)
      return Math.max(largest, performance.now() - last)
    },
  }
}

const credential = {
  externalCredential: 'Ext',
  principal: 'Integration',
  userId: '',
  status: 'authenticated' as const,
  accessToken: new Secret('at-1'),
}

describe('a SQLite lock held by another process', () => {
  it('is waited for without blocking the event loop, and the write succeeds once it is released', async () => {
    const home = join(tmp, 'wait')
    const path = join(home, 'callout.db')
    const store = await openStore({ url: `sqlite:${path}`, home, masterKey: MasterKey.generate() })
    try {
      const baseline = await baselineGap(1_000)
      const holder = await holdWriteLock(path, HOLD_MS)
      const exited = new Promise((resolve) => holder.once('exit', resolve))
      const probe = gapProbe()
      const started = performance.now()
      const stored = await store.compareAndSetCredential(credential, 0)
      const waited = performance.now() - started
      const gap = probe.stop()
      await exited
      expect(stored?.version).toBe(1)
      expect(waited).toBeGreaterThan(HOLD_MS - 500)
      expect(gap).toBeLessThan(baseline + MAX_ADDED_GAP_MS)
      console.info(
        `waited ${Math.round(waited)} ms for the lock; largest event-loop gap ${gap.toFixed(1)} ms (${baseline.toFixed(1)} ms with no work)`,
      )
    } finally {
      await store.close()
    }
  })

  it('past busyTimeoutMs is STORE_BUSY (retryable), writes nothing, and still never blocks', async () => {
    const home = join(tmp, 'exhaust')
    const path = join(home, 'callout.db')
    const store = await openStore({
      url: `sqlite:${path}`,
      home,
      masterKey: MasterKey.generate(),
      busyTimeoutMs: 500,
    })
    try {
      const baseline = await baselineGap(1_000)
      const holder = await holdWriteLock(path, HOLD_MS)
      const exited = new Promise((resolve) => holder.once('exit', resolve))
      const probe = gapProbe()
      const error = await store.compareAndSetCredential(credential, 0).catch((e: unknown) => e)
      const gap = probe.stop()
      expect(error).toMatchObject({
        code: 'STORE_BUSY',
        details: { retryable: true, driverCode: expect.stringMatching(/^SQLITE_BUSY/) },
      })
      expect(gap).toBeLessThan(baseline + MAX_ADDED_GAP_MS)
      await exited
      expect(await store.getCredential(credential)).toBeUndefined()
      // Once the lock is free, the same write goes through.
      expect((await store.compareAndSetCredential(credential, 0))?.version).toBe(1)
    } finally {
      await store.close()
    }
  })
})
