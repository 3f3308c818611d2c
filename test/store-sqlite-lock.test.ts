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
 * How much more of the wait the event loop may spend stalled than it does with no store work at
 * all. The driver's synchronous slice is 2 ms against backoffs of up to 50 ms, so a correct wait
 * stalls a few per cent of the time; a driver that waits synchronously in slices of 100 ms stalls
 * about two thirds of it, and one that waits in a single call stalls all of it. A loaded machine's
 * scheduler alone can stall a process for hundreds of ms at a time, so a single largest gap is not
 * a measure of the driver.
 */
const MAX_ADDED_STALLED_SHARE = 0.35
/** No single stall may come near the length of the lock: that is a wait that blocks. */
const MAX_GAP_MS = HOLD_MS / 3

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

/** Timer gaps over `ms` with nothing else to do: the scheduler's own noise. */
async function baselineGaps(ms: number): Promise<Gaps> {
  const probe = gapProbe()
  await new Promise((resolve) => setTimeout(resolve, ms))
  return probe.stop()
}

interface Gaps {
  /** The largest gap between two ticks, in ms. */
  readonly largest: number
  /** The share of the measured time spent in gaps longer than a tick's slack (0..1). */
  readonly stalledShare: number
}

const TICK_MS = 5
/** A gap up to this long is a tick on time; anything beyond is counted as stalled. */
const TICK_SLACK_MS = 3 * TICK_MS

/** Measures the gaps between 5 ms timer ticks until stopped. */
function gapProbe(): { stop(): Gaps } {
  const started = performance.now()
  let last = started
  let largest = 0
  let stalled = 0
  const record = (now: number): void => {
    const gap = now - last
    largest = Math.max(largest, gap)
    if (gap > TICK_SLACK_MS) stalled += gap - TICK_MS
    last = now
  }
  const timer = setInterval(() => record(performance.now()), TICK_MS)
  return {
    stop() {
      clearInterval(timer)
      const now = performance.now()
      record(now)
      return { largest, stalledShare: stalled / Math.max(1, now - started) }
    },
  }
}

/** Asserts the loop kept turning while the lock was waited for (see MAX_ADDED_STALLED_SHARE). */
function expectLoopKeptTurning(during: Gaps, baseline: Gaps): void {
  expect(during.largest).toBeLessThan(MAX_GAP_MS)
  expect(during.stalledShare).toBeLessThan(baseline.stalledShare + MAX_ADDED_STALLED_SHARE)
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
      const baseline = await baselineGaps(1_000)
      const holder = await holdWriteLock(path, HOLD_MS)
      const exited = new Promise((resolve) => holder.once('exit', resolve))
      const probe = gapProbe()
      const started = performance.now()
      const stored = await store.compareAndSetCredential(credential, 0)
      const waited = performance.now() - started
      const gaps = probe.stop()
      await exited
      expect(stored?.version).toBe(1)
      expect(waited).toBeGreaterThan(HOLD_MS - 500)
      expectLoopKeptTurning(gaps, baseline)
      console.info(
        `waited ${Math.round(waited)} ms for the lock; event loop stalled ${(100 * gaps.stalledShare).toFixed(1)}% of it, largest gap ${gaps.largest.toFixed(1)} ms (${(100 * baseline.stalledShare).toFixed(1)}%, ${baseline.largest.toFixed(1)} ms with no work)`,
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
      const baseline = await baselineGaps(1_000)
      const holder = await holdWriteLock(path, HOLD_MS)
      const exited = new Promise((resolve) => holder.once('exit', resolve))
      const probe = gapProbe()
      const error = await store.compareAndSetCredential(credential, 0).catch((e: unknown) => e)
      const gaps = probe.stop()
      expect(error).toMatchObject({
        code: 'STORE_BUSY',
        details: { retryable: true, driverCode: expect.stringMatching(/^SQLITE_BUSY/) },
      })
      expectLoopKeptTurning(gaps, baseline)
      await exited
      expect(await store.getCredential(credential)).toBeUndefined()
      // Once the lock is free, the same write goes through.
      expect((await store.compareAndSetCredential(credential, 0))?.version).toBe(1)
    } finally {
      await store.close()
    }
  })
})
