import { describe, expect, it } from 'vitest'
import { returnedRecord } from './open-in-org.ts'

const ID = '001000000000001AAA'
const CREATE = '/services/data/v61.0/sobjects/Account'

describe('returnedRecord', () => {
  it.each([
    [
      'a record',
      'GET',
      `${CREATE}/${ID}`,
      { attributes: { type: 'Account', url: '…' }, Id: ID, Name: 'Acme' },
      'Account',
    ],
    ['a create result', 'POST', CREATE, { id: ID, success: true, errors: [] }, 'Account'],
    ['a create with a query', 'POST', `${CREATE}/?x=1`, { id: ID, success: true }, 'Account'],
    [
      'a custom object',
      'POST',
      '/services/data/v61.0/sobjects/Invoice__c',
      { id: ID, success: true },
      'Invoice__c',
    ],
  ])('offers %s', (_what, method, path, body, type) => {
    expect(returnedRecord(method, path, JSON.stringify(body))).toEqual({
      type,
      id: ID,
      path: `/lightning/r/${type}/${ID}/view`,
    })
  })

  it.each([
    [
      'a query result',
      'GET',
      '/services/data/v61.0/query?q=x',
      { totalSize: 1, records: [{ attributes: { type: 'Account' }, Id: ID }] },
    ],
    ['a failed create', 'POST', CREATE, { id: ID, success: false }],
    [
      'a create result of another path',
      'POST',
      '/services/data/v61.0/composite',
      { id: ID, success: true },
    ],
    ['a create result of a GET', 'GET', CREATE, { id: ID, success: true }],
    ['a malformed id', 'GET', '/x', { attributes: { type: 'Account' }, Id: '../../evil' }],
    ['a malformed type', 'GET', '/x', { attributes: { type: 'Account/../../x' }, Id: ID }],
    ['an array', 'GET', '/x', [{ attributes: { type: 'Account' }, Id: ID }]],
  ])('offers nothing for %s', (_what, method, path, body) => {
    expect(returnedRecord(method, path, JSON.stringify(body))).toBeUndefined()
  })

  it('offers nothing for a body that is not JSON', () => {
    expect(returnedRecord('GET', '/x', '<html>')).toBeUndefined()
  })
})
