import { describe, expect, it } from 'vitest'
import { requester, testOrg } from '../data/test-org.test-helper.ts'

type Result = { id?: string; success: boolean; errors: { statusCode: string }[]; created?: boolean }

describe('sObject collections', () => {
  it('creates many, partially succeeding without allOrNone', () => {
    const org = testOrg()
    const res = requester(org)('POST', '/composite/sobjects', {
      allOrNone: false,
      records: [
        { attributes: { type: 'Account' }, Name: 'A' },
        { attributes: { type: 'Account' } },
        { attributes: { type: 'Contact' }, LastName: 'C' },
      ],
    })
    expect(res.status).toBe(200)
    const body = res.body as Result[]
    expect(body.map((r) => r.success)).toEqual([true, false, true])
    expect(body[1]).toEqual({
      success: false,
      errors: [
        {
          statusCode: 'REQUIRED_FIELD_MISSING',
          message: 'Required fields are missing: [Name]',
          fields: ['Name'],
        },
      ],
    })
    expect(org.get('Account', body[0]?.id ?? '')).toMatchObject({ Name: 'A' })
  })

  it('rolls everything back under allOrNone', () => {
    const org = testOrg()
    const req = requester(org)
    const body = req('POST', '/composite/sobjects', {
      allOrNone: true,
      records: [
        { attributes: { type: 'Account' }, Name: 'A' },
        { attributes: { type: 'Account' }, Nope: 1 },
      ],
    }).body as Result[]
    expect(body[0]?.errors[0]?.statusCode).toBe('ALL_OR_NONE_OPERATION_ROLLED_BACK')
    expect(body[1]?.errors[0]?.statusCode).toBe('INVALID_FIELD')
    expect(org.get('Account', body[0]?.id ?? '')).toBeUndefined()
    expect(
      (req('GET', '/query?q=SELECT+COUNT()+FROM+Account').body as { totalSize: number }).totalSize,
    ).toBe(0)
  })

  it('updates, retrieves and deletes many', () => {
    const org = testOrg()
    const req = requester(org)
    const a = org.insert('Account', { Name: 'A' })
    const b = org.insert('Account', { Name: 'B' })
    const upd = req('PATCH', '/composite/sobjects', {
      records: [
        { attributes: { type: 'Account' }, Id: a, Name: 'A2' },
        { attributes: { type: 'Account' }, Name: 'no id' },
      ],
    }).body as Result[]
    expect(upd[0]).toEqual({ id: a, success: true, errors: [] })
    expect(upd[1]?.errors[0]?.statusCode).toBe('MISSING_ARGUMENT')
    const got = req('POST', '/composite/sobjects/Account', {
      ids: [a, b.slice(0, 15), '001000000000099AAA'],
      fields: ['Name'],
    })
    expect(got.body).toEqual([
      {
        attributes: { type: 'Account', url: `/services/data/v61.0/sobjects/Account/${a}` },
        Name: 'A2',
        Id: a,
      },
      {
        attributes: { type: 'Account', url: `/services/data/v61.0/sobjects/Account/${b}` },
        Name: 'B',
        Id: b,
      },
      null,
    ])
    expect(req('GET', `/composite/sobjects/Account?ids=${a}&fields=Name`).body).toHaveLength(1)
    expect(
      req('POST', '/composite/sobjects/Account', { ids: ['bad'], fields: ['Name'] }),
    ).toMatchObject({ status: 400, errorCode: 'MALFORMED_ID' })
    const del = req('DELETE', `/composite/sobjects?ids=${a},${b},${a}&allOrNone=false`)
      .body as Result[]
    expect(del.map((r) => r.success)).toEqual([true, true, false])
    expect(del[2]?.errors[0]?.statusCode).toBe('ENTITY_IS_DELETED')
  })

  it('upserts many by external id', () => {
    const org = testOrg()
    const req = requester(org)
    const existing = org.insert('Invoice__c', { Number__c: 'I-1' })
    const res = req('PATCH', '/composite/sobjects/Invoice__c/Number__c', {
      allOrNone: false,
      records: [
        { attributes: { type: 'Invoice__c' }, Number__c: 'I-1', Total__c: 1 },
        { attributes: { type: 'Invoice__c' }, Number__c: 'I-2', Total__c: 2 },
        { attributes: { type: 'Invoice__c' }, Total__c: 3 },
      ],
    }).body as Result[]
    expect(res[0]).toEqual({ id: existing, success: true, errors: [], created: false })
    expect(res[1]).toMatchObject({ success: true, created: true })
    expect(res[2]?.errors[0]?.statusCode).toBe('MISSING_ARGUMENT')
    expect(org.get('Invoice__c', existing)?.['Total__c']).toBe(1)
  })

  it('rejects more than 200 records', () => {
    const records = Array.from({ length: 201 }, () => ({
      attributes: { type: 'Account' },
      Name: 'x',
    }))
    expect(requester(testOrg())('POST', '/composite/sobjects', { records })).toMatchObject({
      status: 400,
      errorCode: 'EXCEEDED_ID_LIMIT',
    })
  })
})

describe('composite', () => {
  it('runs subrequests with @{ref} references', () => {
    const org = testOrg()
    const res = requester(org)('POST', '/composite', {
      allOrNone: false,
      compositeRequest: [
        {
          method: 'POST',
          url: '/services/data/v61.0/sobjects/Account',
          referenceId: 'NewAccount',
          body: { Name: 'Ref Co' },
        },
        {
          method: 'GET',
          url: '/services/data/v61.0/sobjects/Account/@{NewAccount.id}?fields=Name',
          referenceId: 'Info',
        },
        {
          method: 'POST',
          url: '/services/data/v61.0/sobjects/Contact',
          referenceId: 'NewContact',
          body: { LastName: 'L', AccountId: '@{NewAccount.id}' },
        },
        {
          method: 'GET',
          url: "/services/data/v61.0/query?q=SELECT+Id+FROM+Contact+WHERE+AccountId='@{NewAccount.id}'",
          referenceId: 'Q',
        },
        {
          method: 'PATCH',
          url: '/services/data/v61.0/sobjects/Contact/@{Q.records[0].Id}',
          referenceId: 'Upd',
          body: { Title: 'CEO' },
        },
      ],
    })
    expect(res.status).toBe(200)
    const out = (
      res.body as {
        compositeResponse: {
          httpStatusCode: number
          referenceId: string
          body: unknown
          httpHeaders: Record<string, string>
        }[]
      }
    ).compositeResponse
    expect(out.map((r) => r.httpStatusCode)).toEqual([201, 200, 201, 200, 204])
    const id = (out[0]?.body as { id: string }).id
    expect(out[0]?.httpHeaders).toEqual({ Location: `/services/data/v61.0/sobjects/Account/${id}` })
    expect(out[1]?.body).toMatchObject({ Name: 'Ref Co', Id: id })
    expect(out[4]).toEqual({ body: null, httpHeaders: {}, httpStatusCode: 204, referenceId: 'Upd' })
    const contactId = (out[2]?.body as { id: string }).id
    expect(org.get('Contact', contactId)).toMatchObject({ Title: 'CEO', AccountId: id })
  })

  it('halts and rolls back under allOrNone', () => {
    const org = testOrg()
    const res = requester(org)('POST', '/composite', {
      allOrNone: true,
      compositeRequest: [
        {
          method: 'POST',
          url: '/services/data/v61.0/sobjects/Account',
          referenceId: 'A',
          body: { Name: 'Kept?' },
        },
        {
          method: 'POST',
          url: '/services/data/v61.0/sobjects/Account',
          referenceId: 'B',
          body: {},
        },
        { method: 'GET', url: '/services/data/v61.0/sobjects/Account/@{A.id}', referenceId: 'C' },
      ],
    })
    const out = (
      res.body as { compositeResponse: { httpStatusCode: number; body: { errorCode: string }[] }[] }
    ).compositeResponse
    expect(out.map((r) => r.httpStatusCode)).toEqual([400, 400, 400])
    expect(out.map((r) => r.body[0]?.errorCode)).toEqual([
      'PROCESSING_HALTED',
      'REQUIRED_FIELD_MISSING',
      'PROCESSING_HALTED',
    ])
    expect(
      (requester(org)('GET', '/query?q=SELECT+COUNT()+FROM+Account').body as { totalSize: number })
        .totalSize,
    ).toBe(0)
  })

  it('halts dependants of a failed subrequest without allOrNone', () => {
    const res = requester(testOrg())('POST', '/composite', {
      compositeRequest: [
        {
          method: 'POST',
          url: '/services/data/v61.0/sobjects/Account',
          referenceId: 'A',
          body: {},
        },
        { method: 'GET', url: '/services/data/v61.0/sobjects/Account/@{A.id}', referenceId: 'B' },
        { method: 'GET', url: '/services/data/v61.0/sobjects', referenceId: 'C' },
      ],
    })
    const out = (res.body as { compositeResponse: { httpStatusCode: number; body: unknown }[] })
      .compositeResponse
    expect(out.map((r) => r.httpStatusCode)).toEqual([400, 400, 200])
    expect(out[1]?.body).toMatchObject([{ errorCode: 'PROCESSING_HALTED' }])
  })

  it('validates the request', () => {
    const req = requester(testOrg())
    expect(req('POST', '/composite', { compositeRequest: [] })).toMatchObject({
      status: 400,
      errorCode: 'JSON_PARSER_ERROR',
    })
    expect(req('POST', '/composite', 'nope')).toMatchObject({
      status: 400,
      errorCode: 'JSON_PARSER_ERROR',
    })
    expect(req('PUT', '/composite')).toMatchObject({ status: 405, errorCode: 'METHOD_NOT_ALLOWED' })
    expect(req('GET', '/composite')).toMatchObject({
      status: 200,
      body: {
        batch: '/services/data/v61.0/composite/batch',
        tree: '/services/data/v61.0/composite/tree',
      },
    })
  })
})
