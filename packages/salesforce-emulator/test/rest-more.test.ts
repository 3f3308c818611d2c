/**
 * More of the REST API through jsforce 3.10.16, unmodified: SOSL `search`,
 * `parameterizedSearch` (GET and POST), `recent`, `composite/tree` (what `sf data import tree`
 * sends), `composite/batch`, `composite/graph`, the Tooling API's `query`, and the resource map
 * listing only what answers. Each with its bad-input answers.
 */
import jsforce, { type Connection } from 'jsforce'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'

const USER = 'rest@more.example'
const PASSWORD = 'More-pass-1'

let emulator: Emulator
let org: EmulatedOrg
let conn: Connection

beforeAll(async () => {
  emulator = await startEmulator({
    orgs: [
      {
        name: 'more',
        users: [{ username: USER, password: PASSWORD }],
        customObjects: [
          { name: 'Invoice__c', fields: [{ name: 'Number__c', type: 'string', externalId: true }] },
        ],
        records: {
          Account: [
            { Name: 'Acme Corp', Industry: 'Energy', Phone: '555-0100' },
            { Name: 'Acme Labs', Industry: 'Media' },
            { Name: 'Globex', Industry: 'Energy', Description: 'rival of acme' },
            { Name: 'Initech', Industry: 'Media' },
          ],
          Contact: [{ LastName: 'Coyote', FirstName: 'Wile', Email: 'wile@acme.example' }],
        },
      },
    ],
  })
  org = emulator.org('more')
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

type Errors = { errorCode: string; message: string }[]

async function rejects(
  promise: PromiseLike<unknown>,
): Promise<{ errorCode: string; message: string }> {
  try {
    await promise
  } catch (err) {
    return err as { errorCode: string; message: string }
  }
  throw new Error('expected a rejection')
}

const names = (records: readonly unknown[]): string[] =>
  records.map((r) => String((r as { Name?: unknown }).Name)).sort()

describe('SOSL search', () => {
  it('finds records by word across objects, with RETURNING fields, WHERE and LIMIT', async () => {
    const all = await conn.search('FIND {acme}')
    const types = all.searchRecords.map((r) => r.attributes?.type)
    expect(types.filter((t) => t === 'Account')).toHaveLength(3)
    expect(types).toContain('Contact')
    expect(Object.keys(all.searchRecords[0] ?? {}).sort()).toEqual(['Id', 'attributes'])

    const scoped = await conn.search(
      "FIND {Acme} IN NAME FIELDS RETURNING Account(Name, Industry WHERE Industry = 'Energy' ORDER BY Name)",
    )
    expect(scoped.searchRecords).toEqual([
      {
        attributes: {
          type: 'Account',
          url: expect.stringMatching(/^\/services\/data\/v61\.0\/sobjects\/Account\/001/),
        },
        Name: 'Acme Corp',
        Industry: 'Energy',
      },
    ])
    const limited = await conn.search(
      'FIND {Acme*} RETURNING Account(Name ORDER BY Name LIMIT 1), Contact(LastName)',
    )
    expect(
      limited.searchRecords.map(
        (r) =>
          (r as { Name?: string; LastName?: string }).Name ?? (r as { LastName?: string }).LastName,
      ),
    ).toEqual(['Acme Corp', 'Coyote'])
    const phrase = await conn.search('FIND {"acme labs" OR globex} RETURNING Account(Name)')
    expect(names(phrase.searchRecords)).toEqual(['Acme Labs', 'Globex'])
    const excluded = await conn.search('FIND {acme AND NOT labs} RETURNING Account(Name)')
    expect(names(excluded.searchRecords)).toEqual(['Acme Corp', 'Globex'])
    const email = await conn.search(
      'FIND {wile@acme.example} IN EMAIL FIELDS RETURNING Contact(Email)',
    )
    expect(email.searchRecords).toHaveLength(1)
  })

  it('answers malformed SOSL with 400 MALFORMED_SEARCH, bad RETURNING with the SOQL error', async () => {
    for (const sosl of [
      'acme',
      'FIND acme',
      'FIND {acme',
      'FIND {}',
      'FIND {a}',
      'FIND {acme} IN BODY FIELDS',
      'FIND {acme} RETURNING',
      'FIND {acme} RETURNING Account(Name',
      'FIND {acme} LIMIT x',
    ]) {
      const err = await rejects(conn.search(sosl))
      expect(err.errorCode, sosl).toBe('MALFORMED_SEARCH')
    }
    expect((await rejects(conn.search('FIND {acme} RETURNING Widget'))).errorCode).toBe(
      'INVALID_TYPE',
    )
    expect((await rejects(conn.search('FIND {acme} RETURNING Account(Nope__c)'))).errorCode).toBe(
      'INVALID_FIELD',
    )
    const err = await rejects(conn.search('FIND acme'))
    expect(err.message).toBe('No search term found. The search term must be enclosed in braces.')
  })

  it('answers parameterizedSearch by GET and POST', async () => {
    const get = await conn.request<{ searchRecords: unknown[] }>(
      '/parameterizedSearch?q=acme&sobject=Account&Account.fields=Name,Industry&Account.limit=2&in=NAME',
    )
    expect(names(get.searchRecords)).toEqual(['Acme Corp', 'Acme Labs'])
    const post = await conn.requestPost<{ searchRecords: unknown[] }>('/parameterizedSearch', {
      q: 'acme',
      fields: ['Name'],
      sobjects: [{ name: 'Account', where: "Industry = 'Media'" }],
    })
    expect(names(post.searchRecords)).toEqual(['Acme Labs'])
    expect((await rejects(conn.request('/parameterizedSearch?sobject=Account'))).errorCode).toBe(
      'MISSING_ARGUMENT',
    )
    expect(
      (await rejects(conn.requestPost('/parameterizedSearch', { q: 'acme', in: 'BODY' })))
        .errorCode,
    ).toBe('MALFORMED_SEARCH')
    expect(
      (await rejects(conn.requestPost('/parameterizedSearch', { q: 'acme', sobjects: 'Account' })))
        .errorCode,
    ).toBe('MALFORMED_SEARCH')
  })
})

describe('recent', () => {
  it('lists the most recently changed records first, up to limit', async () => {
    const made = (await conn.sobject('Account').create({ Name: 'Fresh' })) as { id: string }
    emulator.clock.advance(1000)
    await conn.sobject('Account').update({ Id: made.id, Name: 'Fresh, renamed' })
    const recent = (await conn.recent(2)) as unknown as {
      Id: string
      Name: string
      attributes: { type: string }
    }[]
    expect(recent).toHaveLength(2)
    expect(recent[0]).toMatchObject({
      Id: made.id,
      Name: 'Fresh, renamed',
      attributes: { type: 'Account' },
    })
    for (const limit of ['0', 'abc', '201']) {
      const err = await rejects(conn.request(`/recent?limit=${limit}`))
      expect(err.errorCode).toBe('INVALID_OPERATION')
    }
  })
})

describe('composite tree, batch and graph', () => {
  it('creates a tree of records with referenceIds, children linked to their parent', async () => {
    const res = await conn.requestPost<{
      hasErrors: boolean
      results: { referenceId: string; id: string }[]
    }>('/composite/tree/Account', {
      records: [
        {
          attributes: { type: 'Account', referenceId: 'ref1' },
          Name: 'Tree Parent',
          Contacts: {
            records: [
              { attributes: { type: 'Contact', referenceId: 'ref2' }, LastName: 'Leaf' },
              { attributes: { type: 'Contact', referenceId: 'ref3' }, LastName: 'Twig' },
            ],
          },
        },
        { attributes: { type: 'Account', referenceId: 'ref4' }, Name: 'Tree Sibling' },
      ],
    })
    expect(res.hasErrors).toBe(false)
    expect(res.results.map((r) => r.referenceId)).toEqual(['ref1', 'ref2', 'ref3', 'ref4'])
    const parentId = res.results[0]?.id
    const leaf = await conn.sobject('Contact').retrieve(res.results[1]?.id ?? '')
    expect((leaf as { AccountId: string }).AccountId).toBe(parentId)
  })

  it('keeps nothing when one record of the tree fails, and says which one', async () => {
    const count = async (): Promise<number> =>
      (await conn.query("SELECT COUNT() FROM Account WHERE Name LIKE 'Doomed%'")).totalSize
    const body = {
      records: [
        {
          attributes: { type: 'Account', referenceId: 'ok1' },
          Name: 'Doomed Parent',
          Contacts: {
            records: [
              { attributes: { type: 'Contact', referenceId: 'bad1' }, FirstName: 'No last name' },
            ],
          },
        },
      ],
    }
    const res = await fetch(`${org.instanceUrl}/services/data/v61.0/composite/tree/Account`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${conn.accessToken ?? ''}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      hasErrors: true,
      results: [
        {
          referenceId: 'bad1',
          errors: [
            {
              statusCode: 'REQUIRED_FIELD_MISSING',
              message: 'Required fields are missing: [LastName]',
              fields: ['LastName'],
            },
          ],
        },
      ],
    })
    expect(await count()).toBe(0)
    const invalid: [unknown, string][] = [
      [{ records: [{ attributes: { type: 'Account' }, Name: 'x' }] }, 'INVALID_INPUT'],
      [
        { records: [{ attributes: { type: 'Contact', referenceId: 'r' }, LastName: 'x' }] },
        'INVALID_INPUT',
      ],
      [
        {
          records: [
            { attributes: { type: 'Account', referenceId: 'r' }, Name: 'x' },
            { attributes: { type: 'Account', referenceId: 'r' }, Name: 'y' },
          ],
        },
        'INVALID_INPUT',
      ],
      [
        {
          records: [
            {
              attributes: { type: 'Account', referenceId: 'r' },
              Name: 'x',
              Widgets: { records: [] },
            },
          ],
        },
        'INVALID_INPUT',
      ],
    ]
    for (const [payload, code] of invalid) {
      const r = await fetch(`${org.instanceUrl}/services/data/v61.0/composite/tree/Account`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${conn.accessToken ?? ''}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(payload),
      })
      expect(r.status, JSON.stringify(payload)).toBe(400)
      const answer = (await r.json()) as { results: { errors: { statusCode: string }[] }[] }
      expect(answer.results[0]?.errors[0]?.statusCode).toBe(code)
    }
    expect(
      (await rejects(conn.requestPost('/composite/tree/Account', { records: 'x' }))).errorCode,
    ).toBe('JSON_PARSER_ERROR')
    expect(
      (await rejects(conn.requestPost('/composite/tree/Widget', { records: [] }))).errorCode,
    ).toBe('NOT_FOUND')
    const tooMany = {
      records: Array.from({ length: 201 }, (_, i) => ({
        attributes: { type: 'Account', referenceId: `r${i}` },
        Name: `n${i}`,
      })),
    }
    expect((await rejects(conn.requestPost('/composite/tree/Account', tooMany))).errorCode).toBe(
      'LIMIT_EXCEEDED',
    )
    expect(await count()).toBe(0)
  })

  it('runs a batch: independent subrequests, haltOnError stops the rest', async () => {
    const made = (await conn.sobject('Account').create({ Name: 'Batch Target' })) as { id: string }
    const res = await conn.requestPost<{
      hasErrors: boolean
      results: { statusCode: number; result: unknown }[]
    }>('/composite/batch', {
      batchRequests: [
        { method: 'GET', url: `v61.0/sobjects/Account/${made.id}?fields=Name` },
        {
          method: 'PATCH',
          url: `v61.0/sobjects/Account/${made.id}`,
          richInput: { Name: 'Batch Zebulon' },
        },
        { method: 'GET', url: 'v61.0/search?q=FIND+%7BZebulon%7D+RETURNING+Account(Name)' },
        { method: 'GET', url: 'v61.0/sobjects/Account/001000000000000AAA' },
      ],
    })
    expect(res.hasErrors).toBe(true)
    expect(res.results.map((r) => r.statusCode)).toEqual([200, 204, 200, 404])
    expect(
      (res.results[2]?.result as { searchRecords: { Name: string }[] }).searchRecords[0]?.Name,
    ).toBe('Batch Zebulon')
    const halted = await conn.requestPost<{ results: { statusCode: number; result: Errors }[] }>(
      '/composite/batch',
      {
        haltOnError: true,
        batchRequests: [
          { method: 'GET', url: 'v61.0/sobjects/Widget' },
          { method: 'GET', url: 'v61.0/limits' },
        ],
      },
    )
    expect(halted.results.map((r) => r.statusCode)).toEqual([404, 412])
    expect(halted.results[1]?.result[0]?.errorCode).toBe('BATCH_PROCESSING_HALTED')
    expect(
      (await rejects(conn.requestPost('/composite/batch', { batchRequests: [] }))).errorCode,
    ).toBe('JSON_PARSER_ERROR')
    const nested = await conn.requestPost<{ results: { statusCode: number }[] }>(
      '/composite/batch',
      {
        batchRequests: [
          { method: 'POST', url: 'v61.0/composite/batch', richInput: {} },
          { method: 'GET', url: 'nope' },
        ],
      },
    )
    expect(nested.results.map((r) => r.statusCode)).toEqual([400, 400])
    const inComposite = await conn.requestPost<{
      compositeResponse: { httpStatusCode: number; body: Errors }[]
    }>('/composite', {
      compositeRequest: [
        { method: 'POST', url: '/services/data/v61.0/composite/batch', referenceId: 'b', body: {} },
      ],
    })
    expect(inComposite.compositeResponse[0]?.httpStatusCode).toBe(400)
    expect(inComposite.compositeResponse[0]?.body[0]?.message).toContain('batch or graph')
  })

  it('runs graphs, each all or nothing', async () => {
    const res = await conn.requestPost<{
      graphs: {
        graphId: string
        isSuccessful: boolean
        graphResponse: { compositeResponse: { httpStatusCode: number }[] }
      }[]
    }>('/composite/graph', {
      graphs: [
        {
          graphId: 'good',
          compositeRequest: [
            {
              method: 'POST',
              url: '/services/data/v61.0/sobjects/Account',
              referenceId: 'acc',
              body: { Name: 'Graph Good' },
            },
            {
              method: 'POST',
              url: '/services/data/v61.0/sobjects/Contact',
              referenceId: 'con',
              body: { LastName: 'G', AccountId: '@{acc.id}' },
            },
          ],
        },
        {
          graphId: 'bad',
          compositeRequest: [
            {
              method: 'POST',
              url: '/services/data/v61.0/sobjects/Account',
              referenceId: 'acc',
              body: { Name: 'Graph Bad' },
            },
            {
              method: 'POST',
              url: '/services/data/v61.0/sobjects/Contact',
              referenceId: 'con',
              body: { FirstName: 'no last name' },
            },
          ],
        },
      ],
    })
    expect(res.graphs.map((g) => [g.graphId, g.isSuccessful])).toEqual([
      ['good', true],
      ['bad', false],
    ])
    const kept = await conn.query<{ Name: string }>(
      "SELECT Name FROM Account WHERE Name LIKE 'Graph%'",
    )
    expect(kept.records.map((r) => r.Name)).toEqual(['Graph Good'])
    for (const body of [
      { graphs: [] },
      {
        graphs: [
          { graphId: 'a', compositeRequest: [] },
          { graphId: 'a', compositeRequest: [] },
        ],
      },
      { graphs: [{ compositeRequest: [] }] },
    ]) {
      expect((await rejects(conn.requestPost('/composite/graph', body))).errorCode).toBe(
        'JSON_PARSER_ERROR',
      )
    }
  })
})

describe('Tooling API query and the resource map', () => {
  it('answers tooling.query over EntityDefinition, CustomField and ApexClass', async () => {
    const entities = await conn.tooling.query<{
      QualifiedApiName: string
      KeyPrefix: string
      attributes?: { type: string; url: string }
    }>(
      "SELECT QualifiedApiName, KeyPrefix FROM EntityDefinition WHERE QualifiedApiName IN ('Account', 'Invoice__c') ORDER BY QualifiedApiName",
    )
    expect(entities.records.map((r) => [r.QualifiedApiName, r.KeyPrefix])).toEqual([
      ['Account', '001'],
      ['Invoice__c', expect.stringMatching(/^a0/)],
    ])
    expect(entities.records[0]?.attributes?.url).toMatch(/\/tooling\/sobjects\/EntityDefinition\//)
    const fields = await conn.tooling.query<{ DeveloperName: string; TableEnumOrId: string }>(
      "SELECT DeveloperName, TableEnumOrId FROM CustomField WHERE TableEnumOrId = 'Invoice__c'",
    )
    expect(fields.records.map((r) => r.DeveloperName)).toEqual(['Number'])
    const classes = await conn.tooling.query('SELECT Id, Name FROM ApexClass')
    expect(classes).toMatchObject({ totalSize: 0, done: true, records: [] })
    expect((await rejects(conn.tooling.query('SELECT Id FROM Account'))).errorCode).toBe(
      'INVALID_TYPE',
    )
    expect((await rejects(conn.tooling.query('SELECT Id FRM ApexClass'))).errorCode).toBe(
      'MALFORMED_QUERY',
    )
    const other = await rejects(
      conn.tooling.request('/services/data/v61.0/tooling/sobjects/ApexClass'),
    )
    expect(other.errorCode).toBe('NOT_FOUND')
    expect(other.message).toContain('/tooling/query is')
  })

  it('lists only resources that answer', async () => {
    const map = await conn.request<Record<string, string>>('/services/data/v61.0/')
    expect(Object.keys(map).sort()).toEqual(
      [
        'composite',
        'identity',
        'jobs',
        'limits',
        'parameterizedSearch',
        'query',
        'queryAll',
        'recent',
        'search',
        'sobjects',
        'tooling',
      ].sort(),
    )
    for (const [name, url] of Object.entries(map)) {
      if (name === 'identity') continue
      const res = await fetch(`${org.instanceUrl}${url}`, {
        headers: { authorization: `Bearer ${conn.accessToken ?? ''}` },
      })
      expect(res.status, name).not.toBe(404)
    }
  })
})
