/**
 * The proxy's fast path against the Salesforce emulator: an expired session (401
 * INVALID_SESSION_ID) is refreshed once and the request sent once more, a session without API
 * access gets Callout's advice and no refresh, and a Salesforce 500 that is not about the session
 * passes through as it is — each decided from the body the fast path held, as the full path does.
 */
import { request } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startSalesforceRig, type SalesforceRig } from './salesforce-rig.ts'

const PATH = '/services/data/v61.0/limits'
let rig: SalesforceRig

async function fastCount(): Promise<number> {
  const text = await (await request(`${rig.proxyOrigin}/metrics`)).body.text()
  return Number(/^callout_proxy_fast_path_total (\d+)$/m.exec(text)?.[1] ?? NaN)
}

async function limits(): Promise<{ status: number; advice: unknown; text: string }> {
  const res = await request(`${rig.proxyOrigin}/callout/Target${PATH}`, {
    headers: { 'proxy-authorization': `Bearer ${rig.key}` },
  })
  return {
    status: res.statusCode,
    advice: res.headers['callout-advice'],
    text: await res.body.text(),
  }
}

beforeAll(async () => {
  rig = await startSalesforceRig('fast@target.example', {})
})

afterAll(async () => {
  await rig?.close()
})

beforeEach(async () => {
  expect((await limits()).status).toBe(200)
})

describe('the fast path on Salesforce', () => {
  it('an expired session: one token request, the org sees the call twice (401, then 200)', async () => {
    const tokens = rig.emulator.requestLog.tokenRequests()
    const calls = rig.emulator.requestLog.count({ path: PATH })
    rig.emulator.faults.expireSessions()
    const res = await limits()
    expect(res.status).toBe(200)
    expect(rig.emulator.requestLog.tokenRequests()).toBe(tokens + 1)
    expect(rig.emulator.requestLog.count({ path: PATH })).toBe(calls + 2)
    expect(rig.emulator.requestLog.count({ path: PATH, status: 401 })).toBeGreaterThanOrEqual(1)
  })

  it('a session not valid for the REST API: advice, no refresh, answered on the fast path', async () => {
    const tokens = rig.emulator.requestLog.tokenRequests()
    const before = await fastCount()
    rig.emulator.org('target').faults.setBlockedSession(true)
    try {
      const res = await limits()
      expect(res.status).toBe(401)
      expect(res.text).toContain('This session is not valid for use with the REST API')
      expect(String(res.advice)).toMatch(/Target/)
    } finally {
      rig.emulator.org('target').faults.setBlockedSession(false)
    }
    expect(rig.emulator.requestLog.tokenRequests()).toBe(tokens)
    expect(await fastCount()).toBe(before + 1)
  })

  it('a 500 that is not about the session passes through once, unchanged', async () => {
    const tokens = rig.emulator.requestLog.tokenRequests()
    const calls = rig.emulator.requestLog.count({ path: PATH })
    const before = await fastCount()
    rig.emulator.org('target').faults.failNext(1, { status: 500 })
    const res = await limits()
    expect(res.status).toBe(500)
    expect(res.advice).toBeUndefined()
    expect(rig.emulator.requestLog.count({ path: PATH })).toBe(calls + 1)
    expect(rig.emulator.requestLog.tokenRequests()).toBe(tokens)
    expect(await fastCount()).toBe(before + 1)
  })
})
