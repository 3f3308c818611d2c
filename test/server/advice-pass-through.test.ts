/**
 * Callout's advice reaches proxy clients: a Salesforce 401 that is a scope problem ("This session
 * is not valid for use with the REST API") is not refreshed, and its `callout-advice` header comes
 * through API mode and a credential port, beside the org's own body.
 */
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSalesforceRig, type SalesforceRig } from './salesforce-rig.ts'

let rig: SalesforceRig

beforeAll(async () => {
  rig = await startSalesforceRig('advice@target.example', { Account: [{ Name: 'Acme' }] })
})

afterAll(async () => {
  await rig?.close()
})

describe('callout-advice through the proxy', () => {
  it.each([
    [
      'API mode',
      () => `${rig.proxyOrigin}/callout/Target/services/data/v61.0/limits`,
      'proxy-authorization',
    ],
    ['a credential port', () => `${rig.portOrigin}/services/data/v61.0/limits`, 'authorization'],
  ])(
    '%s: the advice header and the org body pass through; no refresh',
    async (_mode, url, header) => {
      const ok = await request(url(), { headers: { [header]: `Bearer ${rig.key}` } })
      expect(ok.statusCode).toBe(200)
      await ok.body.dump()
      const before = rig.emulator.requestLog.tokenRequests()
      rig.emulator.org('target').faults.setBlockedSession(true)
      try {
        const res = await request(url(), { headers: { [header]: `Bearer ${rig.key}` } })
        const text = await res.body.text()
        expect(res.statusCode).toBe(401)
        expect(text).toContain('This session is not valid for use with the REST API')
        expect(String(res.headers['callout-advice'])).toMatch(/Target/)
        expect(rig.emulator.requestLog.tokenRequests()).toBe(before)
      } finally {
        rig.emulator.org('target').faults.setBlockedSession(false)
      }
    },
  )
})
