import { describe, expect, it } from 'vitest'
import { requester, testOrg, USER_ID } from '../data/test-org.test-helper.ts'
import { handleDataRequest } from './data-api.ts'

describe('sObject routes', () => {
  it('creates, reads, updates and deletes a record', () => {
    const req = requester(testOrg())
    const created = req('POST', '/sobjects/Account', {
      Name: 'Acme',
      Industry: 'Banking',
      NumberOfEmployees: '12',
    })
    expect(created.status).toBe(201)
    const { id } = created.body as { id: string }
    expect(created.body).toEqual({ id, success: true, errors: [] })
    expect(id).toMatch(/^001[0-9A-Za-z]{15}$/)
    expect(created.headers?.['Location']).toBe(`/services/data/v61.0/sobjects/Account/${id}`)

    const got = req('GET', `/sobjects/Account/${id}`)
    expect(got.status).toBe(200)
    expect(got.body).toMatchObject({
      attributes: { type: 'Account', url: `/services/data/v61.0/sobjects/Account/${id}` },
      Id: id,
      Name: 'Acme',
      NumberOfEmployees: 12,
      OwnerId: USER_ID,
      CreatedById: USER_ID,
      IsDeleted: false,
      CreatedDate: '2026-11-29T00:00:00.000+0000',
    })
    expect(Object.keys(got.body as object)[0]).toBe('attributes')

    expect(req('PATCH', `/sobjects/Account/${id}`, { Name: 'Acme 2' })).toEqual({ status: 204 })
    expect(req('GET', `/sobjects/Account/${id.slice(0, 15)}?fields=Name,Industry`).body).toEqual({
      attributes: { type: 'Account', url: `/services/data/v61.0/sobjects/Account/${id}` },
      Name: 'Acme 2',
      Industry: 'Banking',
      Id: id,
    })
    expect(req('DELETE', `/sobjects/account/${id}`)).toEqual({ status: 204 })
    expect(req('GET', `/sobjects/Account/${id}`)).toMatchObject({
      status: 404,
      errorCode: 'ENTITY_IS_DELETED',
    })
    expect(req('PATCH', `/sobjects/Account/${id}`, { Name: 'x' })).toMatchObject({
      status: 404,
      errorCode: 'ENTITY_IS_DELETED',
    })
    expect(req('DELETE', `/sobjects/Account/${id}`)).toMatchObject({
      status: 404,
      errorCode: 'ENTITY_IS_DELETED',
    })
  })

  it('uses the request version in attribute urls', () => {
    const org = testOrg()
    const id = org.insert('Account', { Name: 'V' })
    expect(requester(org, '50.0')('GET', `/sobjects/Account/${id}`).body).toMatchObject({
      attributes: { url: `/services/data/v50.0/sobjects/Account/${id}` },
    })
  })

  it('answers Salesforce errors for bad ids and missing records', () => {
    const req = requester(testOrg())
    expect(req('GET', '/sobjects/Account/xyz')).toMatchObject({
      status: 404,
      errorCode: 'NOT_FOUND',
    })
    expect((req('GET', '/sobjects/Account/xyz').body as { message: string }[])[0]?.message).toBe(
      'Provided external ID field does not exist or is not accessible: xyz',
    )
    expect(req('PATCH', '/sobjects/Account/xyz', { Name: 'a' })).toMatchObject({
      status: 400,
      errorCode: 'MALFORMED_ID',
    })
    expect(req('DELETE', '/sobjects/Account/xyz').body).toEqual([
      {
        message: 'Account ID: id value of incorrect type: xyz',
        errorCode: 'MALFORMED_ID',
        fields: ['Id'],
      },
    ])
    expect(req('GET', '/sobjects/Account/001000000000000AAA')).toMatchObject({
      status: 404,
      errorCode: 'NOT_FOUND',
    })
    expect(req('GET', '/sobjects/Widget/describe')).toMatchObject({
      status: 404,
      errorCode: 'NOT_FOUND',
    })
    expect(req('GET', '/nope')).toMatchObject({ status: 404, errorCode: 'NOT_FOUND' })
  })

  it('validates create bodies', () => {
    const req = requester(testOrg())
    expect(req('POST', '/sobjects/Account', { Foo: 1, Name: 'x' }).body).toEqual([
      { message: "No such column 'Foo' on sobject of type Account", errorCode: 'INVALID_FIELD' },
    ])
    expect(req('POST', '/sobjects/Account', { Industry: 'x' }).body).toEqual([
      {
        message: 'Required fields are missing: [Name]',
        errorCode: 'REQUIRED_FIELD_MISSING',
        fields: ['Name'],
      },
    ])
    expect(req('POST', '/sobjects/Opportunity', { Name: 'x' })).toMatchObject({
      status: 400,
      errorCode: 'REQUIRED_FIELD_MISSING',
      body: [{ fields: ['StageName', 'CloseDate'] }],
    })
    expect(req('POST', '/sobjects/Contact', {})).toMatchObject({
      errorCode: 'REQUIRED_FIELD_MISSING',
      body: [{ fields: ['LastName'] }],
    })
    expect(req('POST', '/sobjects/Case', {}).status).toBe(201)
    expect(req('POST', '/sobjects/Account', [{ Name: 'x' }])).toMatchObject({
      status: 400,
      errorCode: 'JSON_PARSER_ERROR',
    })
    expect(req('POST', '/sobjects/Account', undefined)).toMatchObject({
      status: 400,
      errorCode: 'JSON_PARSER_ERROR',
    })
    expect(req('POST', '/sobjects/Account', { Name: { a: 1 } })).toMatchObject({
      status: 400,
      errorCode: 'JSON_PARSER_ERROR',
    })
    expect(
      req('POST', '/sobjects/Account', { Name: 'x', NumberOfEmployees: 'many' }),
    ).toMatchObject({
      status: 400,
      errorCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
    })
    expect(
      req('POST', '/sobjects/Account', { Name: 'x', CreatedDate: '2020-01-01T00:00:00Z' }),
    ).toMatchObject({
      status: 400,
      errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
    })
    expect(req('POST', '/sobjects/Account', { Name: 'x'.repeat(256) })).toMatchObject({
      status: 400,
      errorCode: 'STRING_TOO_LONG',
    })
    expect(req('POST', '/sobjects/Contact', { LastName: 'x', AccountId: 'nope' })).toMatchObject({
      status: 400,
      errorCode: 'MALFORMED_ID',
    })
    expect(
      req('POST', '/sobjects/Contact', { LastName: 'x', AccountId: '001000000000099AAA' }),
    ).toMatchObject({
      status: 400,
      errorCode: 'INVALID_CROSS_REFERENCE_KEY',
    })
    expect(req('PATCH', `/sobjects/User/${USER_ID}`, { Username: 'x' })).toMatchObject({
      status: 400,
      errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
    })
  })

  it('derives Contact.Name, Opportunity flags and case numbers', () => {
    const org = testOrg()
    const req = requester(org)
    const c = req('POST', '/sobjects/Contact', { FirstName: 'Grace', LastName: 'Hopper' }).body as {
      id: string
    }
    expect(org.get('Contact', c.id)?.['Name']).toBe('Grace Hopper')
    const o = req('POST', '/sobjects/Opportunity', {
      Name: 'Deal',
      StageName: 'Closed Won',
      CloseDate: '2026-12-01',
    }).body as { id: string }
    expect(org.get('Opportunity', o.id)).toMatchObject({
      IsClosed: true,
      IsWon: true,
      CloseDate: '2026-12-01',
    })
    const k = req('POST', '/sobjects/Case', { Subject: 'Help' }).body as { id: string }
    expect(org.get('Case', k.id)).toMatchObject({ Status: 'New', CaseNumber: '00001001' })
  })

  it('answers 405 with the allowed methods', () => {
    const req = requester(testOrg())
    const id = (req('POST', '/sobjects/Account', { Name: 'a' }).body as { id: string }).id
    expect(req('PUT', `/sobjects/Account/${id}`)).toMatchObject({
      status: 405,
      errorCode: 'METHOD_NOT_ALLOWED',
      body: [{ message: "HTTP Method 'PUT' not allowed. Allowed are GET,HEAD,PATCH,DELETE" }],
    })
    expect(req('POST', `/sobjects/Organization`, { Name: 'x' })).toMatchObject({
      status: 405,
      errorCode: 'METHOD_NOT_ALLOWED',
    })
    expect(req('HEAD', `/sobjects/Account/${id}`)).toEqual({ status: 200 })
    expect(req('POST', `/sobjects/Account/${id}?_HttpMethod=PATCH`, { Name: 'b' }).status).toBe(204)
  })

  it('upserts by external id and by Id', () => {
    const req = requester(testOrg())
    const first = req('PATCH', '/sobjects/Invoice__c/Number__c/INV-1', { Total__c: 10 })
    expect(first.status).toBe(201)
    expect(first.body).toMatchObject({ success: true, errors: [], created: true })
    const { id } = first.body as { id: string }
    expect(id.startsWith('a00')).toBe(true)
    const second = req('PATCH', '/sobjects/Invoice__c/Number__c/inv-1', { Total__c: 20 })
    expect(second).toEqual({ status: 200, body: { id, success: true, errors: [], created: false } })
    expect(req('GET', '/sobjects/Invoice__c/Number__c/INV-1').body).toMatchObject({
      Id: id,
      Total__c: 20,
      Number__c: 'INV-1',
    })
    req('POST', '/sobjects/Invoice__c', { Number__c: 'INV-1' })
    const many = req('PATCH', '/sobjects/Invoice__c/Number__c/INV-1', { Total__c: 1 })
    expect(many.status).toBe(300)
    expect(many.body).toHaveLength(2)
    // Retrieve and delete by an external id that two records share: 300 with both URLs, and
    // nothing deleted.
    for (const method of ['GET', 'DELETE']) {
      expect(req(method, '/sobjects/Invoice__c/Number__c/INV-1')).toEqual(many)
    }
    expect(req('GET', `/sobjects/Invoice__c/${id}`).status).toBe(200)
    expect(req('GET', '/sobjects/Invoice__c/Number__c/nope')).toMatchObject({
      status: 404,
      errorCode: 'NOT_FOUND',
    })
    expect(req('PATCH', '/sobjects/Invoice__c/Total__c/1', {})).toMatchObject({
      status: 404,
      errorCode: 'NOT_FOUND',
    })
    expect(req('PATCH', `/sobjects/Invoice__c/Id/${id}`, { Paid__c: true })).toMatchObject({
      status: 200,
      body: { created: false },
    })
    expect(req('DELETE', '/sobjects/Invoice__c/Number__c/nope').status).toBe(404)
  })

  it('describes objects', () => {
    const req = requester(testOrg())
    const global = req('GET', '/sobjects').body as {
      encoding: string
      maxBatchSize: number
      sobjects: { name: string; keyPrefix: string; urls: Record<string, string> }[]
    }
    expect(global.encoding).toBe('UTF-8')
    expect(global.maxBatchSize).toBe(200)
    expect(global.sobjects.map((s) => s.name)).toEqual([
      'Account',
      'Contact',
      'Opportunity',
      'Case',
      'User',
      'Profile',
      'Organization',
      'Invoice__c',
    ])
    expect(global.sobjects[7]).toMatchObject({
      keyPrefix: 'a00',
      custom: true,
      urls: { rowTemplate: '/services/data/v61.0/sobjects/Invoice__c/{ID}' },
    })
    const d = req('GET', '/sobjects/contact/describe/').body as {
      name: string
      fields: { name: string; type: string; relationshipName: string | null }[]
    }
    expect(d.name).toBe('Contact')
    expect(d.fields.find((f) => f.name === 'AccountId')).toMatchObject({
      type: 'reference',
      relationshipName: 'Account',
      referenceTo: ['Account'],
    })
    const info = req('GET', '/sobjects/Account').body as {
      objectDescribe: { name: string }
      recentItems: unknown[]
    }
    expect(info.objectDescribe.name).toBe('Account')
    expect(info.recentItems).toEqual([])
  })

  it('never lets an exception escape handleDataRequest', () => {
    const org = testOrg()
    const res = handleDataRequest(
      org,
      {
        method: 'GET',
        path: '/sobjects',
        query: null as unknown as URLSearchParams,
        body: undefined,
        version: '61.0',
      },
      { userId: USER_ID },
    )
    expect(res.status).toBeGreaterThanOrEqual(200)
    const bad = handleDataRequest(
      org,
      {
        method: 'POST',
        path: '/sobjects/Account',
        query: {
          get: () => {
            throw new Error('boom')
          },
        } as unknown as URLSearchParams,
        body: {},
        version: '61.0',
      },
      { userId: USER_ID },
    )
    expect(bad).toMatchObject({ status: 500, body: [{ errorCode: 'UNKNOWN_EXCEPTION' }] })
    expect(JSON.stringify(bad.body)).not.toContain('boom')
  })
})
