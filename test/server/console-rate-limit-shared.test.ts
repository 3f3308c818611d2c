/**
 * The console's login rate limit is one budget for every `callout serve` on a database: two
 * instances on one PostgreSQL share it (the counters live in the store), where @fastify/rate-limit's
 * default in-memory store would give each instance its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as pg from '../helpers/postgres.ts'
import {
  Browser,
  TEST_SCRYPT_COST,
  consoleRig,
  type ConsoleInstance,
  type ConsoleRig,
} from './console-helpers.ts'

const schema = pg.testSchemaName('callout_login_limit')
let rig: ConsoleRig
let a: ConsoleInstance
let b: ConsoleInstance

beforeAll(async () => {
  await pg.requirePostgres()
  await pg.withPostgres((client) => client.query(`create schema "${schema}"`))
  const storeUrl = new URL(pg.testPostgresUrl())
  storeUrl.searchParams.set('options', `-c search_path=${schema}`)
  rig = await consoleRig({ scryptCost: TEST_SCRYPT_COST, storeUrl: storeUrl.href })
  const limit = { loginRateLimit: { max: 4, timeWindowMs: 60_000 }, sharedRateLimit: true }
  a = await rig.start(limit)
  b = await rig.start(limit)
})
afterAll(async () => {
  await rig?.close()
  await pg.dropTestSchemas([schema])
})

describe('the login rate limit across instances', () => {
  it('counts attempts on either instance against one budget, then answers 429 on both', async () => {
    const on = [new Browser(a.origin), new Browser(b.origin)] as const
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const res = await on[i % 2]!.login('nobody', `wrong-${i}`)
      statuses.push(res.status)
    }
    // Four attempts, two on each instance: each alone is under its limit of 4.
    expect(statuses).toEqual([401, 401, 401, 401])
    for (const browser of on) {
      const limited = await browser.login('nobody', 'wrong-again')
      expect(limited.status).toBe(429)
      expect(limited.body).toContain('RATE_LIMITED')
      expect(limited.headers['retry-after']).toMatch(/^\d+$/)
    }
    const [row] = await pg.withPostgres(
      async (client) => (await client.query('select key, count from rate_limits')).rows,
      schema,
    )
    expect(row).toMatchObject({ key: 'POST /login|127.0.0.1', count: 6 })
  })
})
