/**
 * Change tracking through jsforce 3.10.16, unmodified: `sobject.updated()` and `deleted()`
 * against the emulator's clock, their bad-input answers over HTTP, and the Streaming API's fast
 * refusal in the CometD handshake shape (jsforce's Faye client stops instead of retrying).
 */
import jsforce, { type Connection } from 'jsforce'
import { StreamingExtension } from 'jsforce/lib/api/streaming.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'

const USER = 'sync@tracking.example'
const PASSWORD = 'Tracking-1'
const MINUTE = 60_000

let emulator: Emulator
let org: EmulatedOrg
let conn: Connection

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [
      {
        name: 'tracking',
        users: [{ username: USER, password: PASSWORD }],
        records: { Account: [{ Name: 'Old One' }, { Name: 'Old Two' }, { Name: 'Old Three' }] },
      },
    ],
  })
  org = emulator.org('tracking')
  const app = org.connectedApp()
  conn = new jsforce.Connection({
    oauth2: { loginUrl: org.loginUrl, clientId: app.consumerKey, clientSecret: app.consumerSecret },
    version: '61.0',
  })
  await conn.login(USER, PASSWORD)
})

afterAll(async () => {
  await emulator.close()
})

const iso = (ms: number): string => new Date(ms).toISOString()

describe('updated and deleted through jsforce', () => {
  it('lists what changed and what was deleted in the window, and nothing outside it', async () => {
    const seeded = await conn.query<{ Id: string; Name: string }>(
      'SELECT Id, Name FROM Account ORDER BY Name',
    )
    const [oldOne, , oldTwo] = seeded.records // Old One, Old Three (left alone), Old Two
    emulator.clock.advance(10 * MINUTE)
    const windowStart = emulator.clock.now()
    emulator.clock.advance(MINUTE)
    const made = (await conn.sobject('Account').create({ Name: 'New' })) as { id: string }
    await conn.sobject('Account').update({ Id: oldOne?.Id ?? '', Name: 'Old One, renamed' })
    await conn.sobject('Account').destroy(oldTwo?.Id ?? '')
    emulator.clock.advance(2 * MINUTE)
    const end = emulator.clock.now()

    const updated = await conn.sobject('Account').updated(iso(windowStart), iso(end))
    expect([...updated.ids].sort()).toEqual([made.id, oldOne?.Id].sort())
    expect(updated.latestDateCovered).toBe(
      iso(Math.floor(end / MINUTE) * MINUTE).replace('Z', '+0000'),
    )

    const deleted = await conn.sobject('Account').deleted(iso(windowStart), iso(end))
    expect(deleted.deletedRecords.map((r) => r.id)).toEqual([oldTwo?.Id])
    const deletedAt = Date.parse(deleted.deletedRecords[0]?.deletedDate.replace('+0000', 'Z') ?? '')
    expect(deletedAt).toBeGreaterThanOrEqual(windowStart)
    expect(deletedAt).toBeLessThan(end)
    expect(deleted.earliestDateAvailable).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000\+0000$/)

    const before = await conn
      .sobject('Account')
      .updated(iso(windowStart - 5 * MINUTE), iso(windowStart))
    expect(before.ids).toEqual([])
    const none = await conn
      .sobject('Account')
      .deleted(iso(windowStart - 5 * MINUTE), iso(windowStart))
    expect(none.deletedRecords).toEqual([])
  })
})

describe('updated and deleted: bad input over HTTP', () => {
  const get = async (
    path: string,
  ): Promise<{ status: number; body: { errorCode: string; message: string }[] }> => {
    const res = await fetch(`${org.instanceUrl}/services/data/v61.0/sobjects/${path}`, {
      headers: { authorization: `Bearer ${conn.accessToken ?? ''}` },
    })
    return {
      status: res.status,
      body: (await res.json()) as { errorCode: string; message: string }[],
    }
  }
  const now = (): number => emulator.clock.now()
  const q = (start: number | string, end: number | string): string =>
    new URLSearchParams({
      start: typeof start === 'number' ? iso(start) : start,
      end: typeof end === 'number' ? iso(end) : end,
    }).toString()

  it.each([
    ['Account/updated', 400, 'MISSING_ARGUMENT'],
    ['Account/deleted?start=2026-01-01T00:00:00Z', 400, 'MISSING_ARGUMENT'],
  ])('%s → %i %s', async (path, status, code) => {
    const res = await get(path)
    expect(res.status).toBe(status)
    expect(res.body[0]?.errorCode).toBe(code)
  })

  it('refuses unreadable dates, short windows and starts older than 30 days', async () => {
    const cases = [
      q('yesterday', now()),
      q('2026-11-01T00:00:00 00:00', now()),
      q(now() - 30_000, now()),
      q(now(), now() - 10 * MINUTE),
      q(now() - 31 * 24 * 60 * MINUTE, now()),
    ]
    for (const query of cases) {
      for (const kind of ['updated', 'deleted']) {
        const res = await get(`Account/${kind}?${query}`)
        expect(res.status, `${kind}?${query}`).toBe(400)
        expect(res.body[0]?.errorCode).toBe('INVALID_REPLICATION_DATE')
      }
    }
    const unknown = await get(`Widget/updated?${q(now() - 10 * MINUTE, now())}`)
    expect(unknown.status).toBe(404)
    expect(unknown.body[0]?.errorCode).toBe('NOT_FOUND')
  })
})

describe('Streaming API (/cometd)', () => {
  it('denies the jsforce handshake at once, and the Faye client does not retry', async () => {
    const failure = new Promise<Record<string, unknown>>((resolve) => {
      const client = conn.streaming.createClient([
        new StreamingExtension.AuthFailure((message: Record<string, unknown>) => resolve(message)),
      ])
      void client.subscribe('/topic/AccountUpdates', () => undefined)
    })
    const message = await failure
    expect(message).toMatchObject({
      channel: '/meta/handshake',
      successful: false,
      error: '403::Handshake denied',
      advice: { reconnect: 'none' },
      ext: { sfdc: { failureReason: expect.stringContaining('is not emulated') } },
    })
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const handshakes = emulator.requestLog
      .entries({ path: /^\/cometd\// })
      .filter((e) => e.method === 'POST')
    expect(handshakes).toHaveLength(1)
  })

  it('answers a bad session with Salesforce 401::Authentication invalid, and garbage with a denial', async () => {
    const post = async (body: string, token: string): Promise<unknown> => {
      const res = await fetch(`${org.instanceUrl}/cometd/61.0`, {
        method: 'POST',
        headers: { authorization: `OAuth ${token}`, 'content-type': 'application/json' },
        body,
      })
      expect(res.status).toBe(200)
      return res.json()
    }
    const handshake = JSON.stringify([{ channel: '/meta/handshake', version: '1.0', id: '1' }])
    expect(await post(handshake, 'nope')).toEqual([
      expect.objectContaining({
        id: '1',
        successful: false,
        ext: expect.objectContaining({ sfdc: { failureReason: '401::Authentication invalid' } }),
      }),
    ])
    expect(await post('{not json', conn.accessToken ?? '')).toEqual([
      expect.objectContaining({ channel: '/meta/handshake', successful: false }),
    ])
  })
})
