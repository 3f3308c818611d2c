import { describe, expect, it } from 'vitest'
import {
  isInvalidSessionBody,
  isSessionNotValidForApi,
  isSoapInvalidSession,
} from './salesforce-session.ts'

describe('REST error bodies', () => {
  const expired = '[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]'
  const scope =
    '[{"message":"This session is not valid for use with the REST API","errorCode":"INVALID_SESSION_ID"}]'
  const scope2 =
    '[{"message":"This session is not valid for use with the specified REST API endpoint. One of the following scopes is required: Manage user data via APIs, Full access","errorCode":"INVALID_SESSION_ID"}]'
  it('recognises an expired session in text, bytes and parsed form', () => {
    expect(isInvalidSessionBody(expired)).toBe(true)
    expect(isInvalidSessionBody(Buffer.from(expired))).toBe(true)
    expect(isInvalidSessionBody(JSON.parse(expired))).toBe(true)
    expect(isSessionNotValidForApi(expired)).toBe(false)
  })
  it('does not treat "not valid for use with the REST API" as expiry', () => {
    for (const b of [scope, scope2]) {
      expect(isInvalidSessionBody(b)).toBe(false)
      expect(isSessionNotValidForApi(b)).toBe(true)
    }
  })
  it.each([
    ['{"errorCode":"INVALID_SESSION_ID"}'],
    ['[{"errorCode":"NOT_FOUND","message":"x"}]'],
    ['not json'],
    ['[null,1,"x"]'],
    [''],
    [`[${'{"a":1},'.repeat(20000)}{}]`],
  ])('ignores %s', (b) => {
    expect(isInvalidSessionBody(b)).toBe(false)
    expect(isSessionNotValidForApi(b)).toBe(false)
  })
})

describe('SOAP faults', () => {
  it.each([
    [
      '<soapenv:Fault><sf:exceptionCode>INVALID_SESSION_ID</sf:exceptionCode></soapenv:Fault>',
      true,
    ],
    ['<exceptionCode> INVALID_SESSION_ID </exceptionCode>', true],
    ['<sf:exceptionCode>INVALID_FIELD</sf:exceptionCode>', false],
    ['INVALID_SESSION_ID', false],
  ])('isSoapInvalidSession(%s) = %s', (text, expected) =>
    expect(isSoapInvalidSession(text)).toBe(expected),
  )
})
