import { describe, expect, it } from 'vitest'
import { SingleFlight } from './single-flight.ts'

describe('SingleFlight', () => {
  it('runs once for concurrent callers with the same key and shares the result', async () => {
    const flights = new SingleFlight<string, number>()
    let runs = 0
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const fn = async () => {
      runs++
      await gate
      return 42
    }
    const calls = Array.from({ length: 100 }, () => flights.run('k', fn))
    expect(flights.has('k')).toBe(true)
    release()
    expect(await Promise.all(calls)).toEqual(Array(100).fill(42))
    expect(runs).toBe(1)
    expect(flights.size).toBe(0)
  })

  it('runOwn waits for the run in flight (even a failing one) instead of joining it; later runs join it', async () => {
    const flights = new SingleFlight<string, string>()
    const order: string[] = []
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const first = flights.run('k', async () => {
      order.push('first')
      await gate
      throw new Error('boom')
    })
    let finish!: () => void
    const done = new Promise<void>((r) => (finish = r))
    const own = flights.runOwn('k', async () => {
      order.push('own')
      await done
      return 'own'
    })
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(order).toEqual(['first'])
    release()
    await expect(first).rejects.toThrow('boom')
    // Started once the first settled: a run now joins it.
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(order).toEqual(['first', 'own'])
    const joined = flights.run('k', async () => 'another')
    finish()
    expect(await own).toBe('own')
    expect(await joined).toBe('own')
    expect(order).toEqual(['first', 'own'])
  })

  it('keeps keys apart', async () => {
    const flights = new SingleFlight<string, string>()
    const [a, b] = await Promise.all([
      flights.run('a', async () => 'A'),
      flights.run('b', async () => 'B'),
    ])
    expect([a, b]).toEqual(['A', 'B'])
  })

  it('shares a rejection and starts afresh afterwards', async () => {
    const flights = new SingleFlight<string, string>()
    let runs = 0
    const failing = async () => {
      runs++
      throw new Error('boom')
    }
    const results = await Promise.allSettled([flights.run('k', failing), flights.run('k', failing)])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    expect(runs).toBe(1)
    expect(await flights.run('k', async () => 'ok')).toBe('ok')
  })

  it('does not hold a synchronous throw as an in-flight entry', async () => {
    const flights = new SingleFlight<string, string>()
    await expect(
      flights.run('k', () => {
        throw new Error('sync')
      }),
    ).rejects.toThrow('sync')
    expect(flights.has('k')).toBe(false)
  })
})
