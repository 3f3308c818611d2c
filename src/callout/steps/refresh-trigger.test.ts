import { describe, expect, it } from 'vitest'
import {
  authProvider,
  externalCredential,
  namedCredential,
  principal,
} from '../../../test/helpers/callout-fixtures.ts'
import { bodyFrom } from '../body.ts'
import type { CalloutResponse, CredentialTarget } from '../types.ts'
import { refreshVerdict, refreshVerdictNow } from './refresh-trigger.ts'

function target(
  type: 'oauth2' | 'salesforce',
  extra: number[] = [],
  protocol: 'oauth2' | 'basic' = 'oauth2',
): CredentialTarget {
  return {
    kind: 'credential',
    namedCredential: namedCredential(),
    externalCredential: externalCredential({ protocol, additionalRefreshStatusCodes: extra }),
    principal: principal(),
    provider: authProvider({ type }),
    userId: '',
    url: new URL('https://api.example.com/v1'),
  }
}
const res = (statusCode: number, text = ''): CalloutResponse => ({
  statusCode,
  headers: {},
  body: bodyFrom([Buffer.from(text)]),
})

describe('refreshVerdict', () => {
  it.each([
    ['oauth2', 401, [], '', 'refresh'],
    ['oauth2', 403, [], '', 'none'],
    ['oauth2', 403, [403], '', 'refresh'],
    ['oauth2', 200, [], '', 'none'],
    [
      'salesforce',
      401,
      [],
      '[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]',
      'refresh',
    ],
    ['salesforce', 401, [], 'not json', 'refresh'],
    [
      'salesforce',
      401,
      [],
      '[{"message":"This session is not valid for use with the REST API","errorCode":"INVALID_SESSION_ID"}]',
      'advise',
    ],
    [
      'salesforce',
      401,
      [],
      '[{"message":"This session is not valid for use with the specified REST API endpoint. One of the following scopes is required: Manage user data via APIs, Full access","errorCode":"INVALID_SESSION_ID"}]',
      'advise',
    ],
    [
      'salesforce',
      500,
      [],
      '<soapenv:Fault><faultcode>sf:INVALID_SESSION_ID</faultcode><detail><sf:exceptionCode>INVALID_SESSION_ID</sf:exceptionCode></detail></soapenv:Fault>',
      'refresh',
    ],
    ['salesforce', 500, [], '[{"message":"boom","errorCode":"UNKNOWN_EXCEPTION"}]', 'none'],
    ['salesforce', 404, [], '', 'none'],
  ] as const)('%s %i (extra %j) %s → %s', async (type, status, extra, body, action) => {
    const verdict = await refreshVerdict(res(status, body), target(type, [...extra]))
    expect(verdict.action).toBe(action)
    // an inspected body is still readable in full
    expect(await verdict.response.body.text()).toBe(body)
  })

  it('never refreshes for protocols without tokens', async () => {
    expect((await refreshVerdict(res(401), target('oauth2', [], 'basic'))).action).toBe('none')
  })
})

describe('refreshVerdictNow', () => {
  it.each([
    ['oauth2', 200, 'none'],
    ['oauth2', 401, 'refresh'],
    ['oauth2', 500, 'none'],
    ['salesforce', 200, 'none'],
    ['salesforce', 403, 'none'],
    ['salesforce', 401, undefined],
    ['salesforce', 500, undefined],
  ] as const)('%s %i → %s without reading the body', (type, status, action) => {
    const response = res(status, 'INVALID_SESSION_ID')
    const verdict = refreshVerdictNow(response, target(type))
    expect(verdict?.action).toBe(action)
    if (verdict !== undefined) expect(verdict.response).toBe(response)
  })
})
