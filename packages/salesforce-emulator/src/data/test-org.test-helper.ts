/**
 * Test helper (not a test file): a small org and a request function.
 */

import { handleDataRequest, type DataResponse } from '../rest/data-api.ts'
import { makeId } from './ids.ts'
import { OrgData, type OrgDataOptions } from './org-data.ts'

/** The acting user of test requests. */
export const USER_ID = makeId('005', 1)
/** The org id of the test org. */
export const ORG_ID = makeId('00D', 1)

/** A test org with one user, a custom object and a fixed clock. */
export function testOrg(extra: Partial<OrgDataOptions> = {}): OrgData {
  return new OrgData({
    orgId: ORG_ID,
    orgName: 'Acme Test',
    instanceUrl: 'http://127.0.0.1:7070',
    users: [
      { id: USER_ID, username: 'ada@acme.test', name: 'Ada Lovelace', email: 'ada@acme.test' },
    ],
    customObjects: [
      {
        name: 'Invoice__c',
        fields: [
          { name: 'Number__c', type: 'string', externalId: true },
          { name: 'Total__c', type: 'currency' },
          { name: 'Account__c', type: 'reference', referenceTo: 'Account' },
          { name: 'Paid__c', type: 'boolean' },
        ],
      },
    ],
    now: () => Date.UTC(2026, 10, 29),
    ...extra,
  })
}

/** A request function bound to `org`. */
export function requester(org: OrgData, version = '61.0') {
  return (
    method: string,
    pathAndQuery: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): DataResponse & { errorCode?: string } => {
    const [path = '', qs = ''] = pathAndQuery.split('?')
    const res = handleDataRequest(
      org,
      {
        method,
        path,
        query: new URLSearchParams(qs),
        body,
        version,
        ...(headers !== undefined ? { headers } : {}),
      },
      { userId: USER_ID },
    )
    const first = Array.isArray(res.body)
      ? (res.body[0] as { errorCode?: unknown } | undefined)
      : undefined
    return typeof first?.errorCode === 'string' ? { ...res, errorCode: first.errorCode } : res
  }
}

/** `/query?q=` for a SOQL string. */
export function q(soql: string): string {
  return '/query?' + new URLSearchParams({ q: soql }).toString()
}
