/**
 * Bulk API 2.0 against jsforce 3.10.16, unmodified (`bulk2.loadAndWaitForResults`,
 * `bulk2.query` across `Sforce-Locator` pages), and the bad-input answers over HTTP: unknown job,
 * wrong state, malformed CSV, oversized upload, a second upload, bad JSON, bad locators. Bulk
 * API 1.0 fails fast in the v1 error shape.
 */
import jsforce, { type Connection } from 'jsforce'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'

const USER = 'bulk@bulk.example'
const PASSWORD = 'Bulk-pass-1'
const ACCOUNTS = 25
const UPLOAD_MAX = 4096

let emulator: Emulator
let org: EmulatedOrg
let conn: Connection
let token: string

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [
      {
        name: 'bulk',
        users: [{ username: USER, password: PASSWORD }],
        bulkQueryPageSize: ACCOUNTS,
        bulkUploadMaxBytes: UPLOAD_MAX,
        customObjects: [
          {
            name: 'Invoice__c',
            fields: [
              { name: 'Number__c', type: 'string', externalId: true },
              { name: 'Total__c', type: 'currency' },
            ],
          },
        ],
        records: {
          Account: Array.from({ length: ACCOUNTS }, (_, i) => ({
            Name: `Seed ${String(i).padStart(2, '0')}`,
          })),
          Invoice__c: [{ Number__c: 'INV-1', Total__c: 10 }],
        },
      },
    ],
  })
  org = emulator.org('bulk')
  const app = org.connectedApp()
  conn = new jsforce.Connection({
    oauth2: { loginUrl: org.loginUrl, clientId: app.consumerKey, clientSecret: app.consumerSecret },
    version: '61.0',
  })
  await conn.login(USER, PASSWORD)
  conn.bulk2.pollInterval = 20
  conn.bulk2.pollTimeout = 5000
  token = conn.accessToken ?? ''
})

afterAll(async () => {
  await emulator.close()
})

const jobsUrl = (kind: 'ingest' | 'query', rest = ''): string =>
  `${org.instanceUrl}/services/data/v61.0/jobs/${kind}${rest}`

async function call(
  method: string,
  url: string,
  body?: string,
  contentType = 'application/json',
): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }> {
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': contentType }),
    },
    ...(body === undefined ? {} : { body }),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) }
}

async function openJob(spec: Record<string, unknown>): Promise<string> {
  const res = await call('POST', jobsUrl('ingest'), JSON.stringify(spec))
  expect(res.status).toBe(200)
  return (res.json() as { id: string }).id
}

async function records(stream: AsyncIterable<unknown>): Promise<Record<string, string>[]> {
  const out: Record<string, string>[] = []
  for await (const r of stream) out.push(r as Record<string, string>)
  return out
}

describe('Bulk API 2.0 through jsforce', () => {
  it('inserts with loadAndWaitForResults: successful and failed rows as Salesforce reports them', async () => {
    const results = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'insert',
      input: [
        { Name: 'Bulk One', Industry: 'Energy' },
        { Name: 'Bulk "Two", Inc', Industry: 'Media' },
        { Industry: 'Nameless' },
      ],
    })
    expect(results.successfulResults).toHaveLength(2)
    expect(results.failedResults).toHaveLength(1)
    const [first, second] = results.successfulResults
    expect(first?.sf__Created).toBe('true')
    expect(first?.sf__Id).toMatch(/^001[0-9A-Za-z]{15}$/)
    expect((second as Record<string, unknown> | undefined)?.['Name']).toBe('Bulk "Two", Inc')
    expect(results.failedResults[0]?.sf__Error).toBe(
      'REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --',
    )
    expect((results.failedResults[0] as Record<string, unknown> | undefined)?.['Industry']).toBe(
      'Nameless',
    )
    const stored = await conn.sobject('Account').retrieve(second?.sf__Id ?? '')
    expect(stored).toMatchObject({ Name: 'Bulk "Two", Inc', Industry: 'Media' })
  })

  it('upserts by external id: updates the match, creates the rest', async () => {
    const results = await conn.bulk2.loadAndWaitForResults({
      object: 'Invoice__c',
      operation: 'upsert',
      externalIdFieldName: 'Number__c',
      input: [
        { Number__c: 'INV-1', Total__c: 99 },
        { Number__c: 'INV-2', Total__c: 5 },
      ],
    })
    expect(results.failedResults).toEqual([])
    const created = Object.fromEntries(
      results.successfulResults.map((r) => [
        (r as Record<string, unknown>)['Number__c'],
        r.sf__Created,
      ]),
    )
    expect(created).toEqual({ 'INV-1': 'false', 'INV-2': 'true' })
    const rows = await conn.query<{ Number__c: string; Total__c: number }>(
      'SELECT Number__c, Total__c FROM Invoice__c ORDER BY Number__c',
    )
    expect(rows.records.map((r) => [r.Number__c, r.Total__c])).toEqual([
      ['INV-1', 99],
      ['INV-2', 5],
    ])
  })

  it('updates and deletes by Id; an unknown Id fails that row only', async () => {
    const made = await conn.sobject('Account').create({ Name: 'To change' })
    const id = (made as { id: string }).id
    const updated = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'update',
      input: [
        { Id: id, Name: 'Changed' },
        { Id: '001000000000000AAA', Name: 'Ghost' },
      ],
    })
    expect(updated.successfulResults.map((r) => r.sf__Id)).toEqual([id])
    expect(updated.failedResults[0]?.sf__Error).toMatch(/^NOT_FOUND:/)
    expect(await conn.sobject('Account').retrieve(id)).toMatchObject({ Name: 'Changed' })
    const deleted = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'delete',
      input: [{ Id: id }],
    })
    expect(deleted.successfulResults.map((r) => r.sf__Id)).toEqual([id])
    await expect(conn.sobject('Account').retrieve(id)).rejects.toMatchObject({
      errorCode: 'ENTITY_IS_DELETED',
    })
  })

  it('queries with bulk2.query', async () => {
    const stream = await conn.bulk2.query(
      "SELECT Id, Name FROM Account WHERE Name LIKE 'Seed%' ORDER BY Name",
    )
    const rows = await records(stream)
    expect(rows.map((r) => r['Name'])).toEqual(
      Array.from({ length: ACCOUNTS }, (_, i) => `Seed ${String(i).padStart(2, '0')}`),
    )
    expect(Object.keys(rows[0] ?? {})).toEqual(['Id', 'Name'])
    expect(rows[0]?.['Id']).toMatch(/^001[0-9A-Za-z]{15}$/)
  })

  it('fails a job with malformed CSV: jsforce reports the errorMessage', async () => {
    await expect(
      conn.bulk2.loadAndWaitForResults({
        object: 'Account',
        operation: 'insert',
        input: 'Name,Industry\n"Unclosed,Energy\n',
      }),
    ).rejects.toThrow(/Unterminated quoted value starting on line 2/)
  })
})

describe('Bulk API 2.0 bad input over HTTP', () => {
  it('answers 404 NOT_FOUND for an unknown job id', async () => {
    for (const [method, url] of [
      ['GET', jobsUrl('ingest', '/750000000000000AAA')],
      ['GET', jobsUrl('query', '/750000000000000AAA/results')],
      ['DELETE', jobsUrl('ingest', '/nope')],
    ] as const) {
      const res = await call(method, url)
      expect(res.status).toBe(404)
      expect(res.json()).toEqual([
        { errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' },
      ])
    }
  })

  it('answers a bad session with 401 INVALID_SESSION_ID, which jsforce treats as expired', async () => {
    const res = await fetch(jobsUrl('ingest'), { headers: { authorization: 'Bearer nope' } })
    expect(res.status).toBe(401)
    expect(await res.text()).toContain('INVALID_SESSION_ID')
  })

  it('refuses bad job definitions with 400 INVALIDJOB and stores no job', async () => {
    const before = ((await call('GET', jobsUrl('ingest'))).json() as { records: unknown[] }).records
      .length
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ object: 'Widget', operation: 'insert' }, /^Unable to find object: Widget$/],
      [{ object: 'Account', operation: 'merge' }, /^Invalid operation: merge/],
      [{ object: 'Account', operation: 'upsert' }, /External ID was blank for Account/],
      [
        { object: 'Account', operation: 'upsert', externalIdFieldName: 'Name' },
        /Name is not an External ID or indexed field for Account/,
      ],
      [{ object: 'Account', operation: 'insert', lineEnding: 'CR' }, /Invalid lineEnding: CR/],
      [{ object: 'Account', operation: 'insert', contentType: 'JSON' }, /Invalid contentType/],
    ]
    for (const [spec, message] of cases) {
      const res = await call('POST', jobsUrl('ingest'), JSON.stringify(spec))
      expect(res.status, JSON.stringify(spec)).toBe(400)
      const [error] = res.json() as { errorCode: string; message: string }[]
      expect(error?.errorCode).toBe('INVALIDJOB')
      expect(error?.message).toMatch(message)
    }
    const bad = await call('POST', jobsUrl('ingest'), '{"object":')
    expect(bad.status).toBe(400)
    expect((bad.json() as { errorCode: string }[])[0]?.errorCode).toBe('JSON_PARSER_ERROR')
    const after = ((await call('GET', jobsUrl('ingest'))).json() as { records: unknown[] }).records
    expect(after).toHaveLength(before)
  })

  it('enforces the job state: no upload after close, no results before it, no second close', async () => {
    const id = await openJob({ object: 'Account', operation: 'insert' })
    const early = await call('GET', jobsUrl('ingest', `/${id}/successfulResults`))
    expect(early.status).toBe(409)
    expect((early.json() as { errorCode: string }[])[0]?.errorCode).toBe('INVALIDJOBSTATE')
    const put = await call('PUT', jobsUrl('ingest', `/${id}/batches`), 'Name\nA\n', 'text/csv')
    expect(put.status).toBe(201)
    expect(put.text).toBe('')
    const close = await call('PATCH', jobsUrl('ingest', `/${id}`), '{"state":"UploadComplete"}')
    expect(close.status).toBe(200)
    expect(close.json()).toMatchObject({ id, state: 'UploadComplete', jobType: 'V2Ingest' })
    const late = await call('PUT', jobsUrl('ingest', `/${id}/batches`), 'Name\nB\n', 'text/csv')
    expect(late.status).toBe(409)
    expect((late.json() as { errorCode: string }[])[0]?.errorCode).toBe('INVALIDJOBSTATE')
    const again = await call('PATCH', jobsUrl('ingest', `/${id}`), '{"state":"UploadComplete"}')
    expect(again.status).toBe(409)
    const info = (await call('GET', jobsUrl('ingest', `/${id}`))).json()
    expect(info).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 1 })
    const bogus = await call('PATCH', jobsUrl('ingest', `/${id}`), '{"state":"Done"}')
    expect(bogus.status).toBe(409)
  })

  it('fails the close of a job that got two uploads, as Salesforce does', async () => {
    const id = await openJob({ object: 'Account', operation: 'insert' })
    await call('PUT', jobsUrl('ingest', `/${id}/batches`), 'Name\nA\n', 'text/csv')
    await call('PUT', jobsUrl('ingest', `/${id}/batches`), 'Name\nB\n', 'text/csv')
    const close = await call('PATCH', jobsUrl('ingest', `/${id}`), '{"state":"UploadComplete"}')
    expect(close.status).toBe(400)
    const [error] = close.json() as { errorCode: string; message: string }[]
    expect(error?.errorCode).toBe('INVALIDJOB')
    expect(error?.message).toContain("make sure you only do 'PUT' once on a given Job")
  })

  it('refuses an oversized upload with 413 and keeps the job open and empty', async () => {
    const id = await openJob({ object: 'Account', operation: 'insert' })
    const big = 'Name\n' + 'x'.repeat(UPLOAD_MAX) + '\n'
    const res = await call('PUT', jobsUrl('ingest', `/${id}/batches`), big, 'text/csv')
    expect(res.status).toBe(413)
    expect((res.json() as { errorCode: string }[])[0]?.errorCode).toBe('CLIENTINPUTERROR')
    const wrongType = await call('PUT', jobsUrl('ingest', `/${id}/batches`), '{}')
    expect(wrongType.status).toBe(415)
    const ok = await call('PUT', jobsUrl('ingest', `/${id}/batches`), 'Name\nSmall\n', 'text/csv')
    expect(ok.status).toBe(201)
    await call('PATCH', jobsUrl('ingest', `/${id}`), '{"state":"UploadComplete"}')
    const info = (await call('GET', jobsUrl('ingest', `/${id}`))).json()
    expect(info).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 1 })
  })

  it('fails jobs whose CSV cannot be read, naming the problem, and creates nothing', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['Nme\nAcme\n', {}, 'InvalidBatch : Field name not found : Nme'],
      [
        'Name\r\nAcme\r\n',
        {},
        'LineEnding is invalid on user data. Current LineEnding setting is LF',
      ],
      ['Name,Industry\nAcme\n', {}, 'Row 1 has 1 values but the header has 2 columns'],
      ['Name\n"Acme"x\n', {}, 'Unexpected character after a closing quote on line 2'],
      [
        'Name;Industry\nAcme;Energy\n',
        { columnDelimiter: 'PIPE' },
        'Field name not found : Name;Industry',
      ],
    ]
    const count = async (): Promise<number> =>
      (await conn.query('SELECT COUNT() FROM Account')).totalSize
    const before = await count()
    for (const [csv, extra, message] of cases) {
      const id = await openJob({ object: 'Account', operation: 'insert', ...extra })
      await call('PUT', jobsUrl('ingest', `/${id}/batches`), csv, 'text/csv')
      await call('PATCH', jobsUrl('ingest', `/${id}`), '{"state":"UploadComplete"}')
      const info = (await call('GET', jobsUrl('ingest', `/${id}`))).json() as {
        state: string
        errorMessage: string
      }
      expect(info.state, csv).toBe('Failed')
      expect(info.errorMessage).toContain(message)
      const unprocessed = await call('GET', jobsUrl('ingest', `/${id}/unprocessedrecords`))
      expect(unprocessed.status).toBe(200)
      expect(unprocessed.headers.get('content-type')).toBe('text/csv')
    }
    expect(await count()).toBe(before)
  })

  it('answers query-job errors: malformed SOQL at creation, bad locator and maxRecords', async () => {
    const bad = await call(
      'POST',
      jobsUrl('query'),
      JSON.stringify({ operation: 'query', query: 'SELECT Id FRM Account' }),
    )
    expect(bad.status).toBe(400)
    expect((bad.json() as { errorCode: string }[])[0]?.errorCode).toBe('MALFORMED_QUERY')
    const unknownField = await call(
      'POST',
      jobsUrl('query'),
      JSON.stringify({ operation: 'query', query: 'SELECT Nope__c FROM Account' }),
    )
    expect((unknownField.json() as { errorCode: string }[])[0]?.errorCode).toBe('INVALID_FIELD')
    const made = await call(
      'POST',
      jobsUrl('query'),
      JSON.stringify({
        operation: 'query',
        query: "SELECT Name FROM Account WHERE Name LIKE 'Seed%'",
      }),
    )
    const { id } = made.json() as { id: string }
    const first = await call('GET', jobsUrl('query', `/${id}/results?maxRecords=20`))
    expect(first.status).toBe(200)
    expect(first.headers.get('sforce-numberofrecords')).toBe('20')
    const locator = first.headers.get('sforce-locator') ?? ''
    expect(locator).not.toBe('null')
    const last = await call(
      'GET',
      jobsUrl('query', `/${id}/results?maxRecords=20&locator=${locator}`),
    )
    expect(last.headers.get('sforce-numberofrecords')).toBe(String(ACCOUNTS - 20))
    expect(last.headers.get('sforce-locator')).toBe('null')
    expect(last.text.split('\n')[0]).toBe('"Name"')
    const all = await call(
      'POST',
      jobsUrl('query'),
      JSON.stringify({ operation: 'query', query: 'SELECT Id FROM Account' }),
    )
    const page = await call(
      'GET',
      jobsUrl('query', `/${(all.json() as { id: string }).id}/results`),
    )
    expect(page.headers.get('sforce-numberofrecords')).toBe(String(ACCOUNTS))
    expect(page.headers.get('sforce-locator')).not.toBe('null')
    for (const query of ['locator=bm9wZQ==', 'locator=!!', 'maxRecords=0', 'maxRecords=abc']) {
      const res = await call('GET', jobsUrl('query', `/${id}/results?${query}`))
      expect(res.status, query).toBe(400)
    }
    const otherVersion = await call(
      'GET',
      `${org.instanceUrl}/services/data/v60.0/jobs/query/${id}/results`,
    )
    expect(otherVersion.status).toBe(409)
  })

  it('answers Bulk API 1.0 at once in the v1 error shape', async () => {
    const started = Date.now()
    await expect(conn.bulk.load('Account', 'insert', [{ Name: 'v1' }])).rejects.toThrow(
      /Bulk API 1\.0 \(\/services\/async\) is not emulated; use Bulk API 2\.0/,
    )
    expect(Date.now() - started).toBeLessThan(5000)
    const res = await fetch(`${org.instanceUrl}/services/async/61.0/job`, {
      method: 'POST',
      headers: { 'x-sfdc-session': 'not-a-token', 'content-type': 'application/xml' },
      body: '<jobInfo/>',
    })
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('<exceptionCode>InvalidSessionId</exceptionCode>')
  })
})
