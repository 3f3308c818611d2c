import { describe, expect, it } from 'vitest'
import type { OutboundRequest } from '../types.ts'
import { placeSessionId } from './session-id.ts'

function req(body: OutboundRequest['body'], authorization?: string): OutboundRequest {
  return {
    method: 'POST',
    url: new URL('https://acme.my.salesforce.com/services/Soap/u/61.0'),
    headers: authorization === undefined ? {} : { authorization },
    body,
  }
}

describe('placeSessionId', () => {
  it('copies the bearer token into the header and in place of the body marker, XML-escaped', () => {
    const out = placeSessionId(req('<sessionId>MARK</sessionId>', 'Bearer 00Dx!a&b'), {
      header: 'x-sfdc-session',
      bodyMarker: 'MARK',
    })
    expect(out.headers['x-sfdc-session']).toBe('00Dx!a&b')
    expect(Buffer.from(out.body as Uint8Array).toString()).toBe(
      '<sessionId>00Dx!a&amp;b</sessionId>',
    )
  })

  it('replaces the marker in bytes, keeping the rest byte for byte', () => {
    const body = Buffer.concat([Buffer.from('é<s>'), Buffer.from('MARK'), Buffer.from('</s>ü')])
    const out = placeSessionId(req(body, 'Bearer tok'), { bodyMarker: 'MARK' })
    expect(Buffer.from(out.body as Uint8Array).toString()).toBe('é<s>tok</s>ü')
  })

  it('changes nothing without a bearer token (a credential that is not OAuth 2.0)', () => {
    const request = req('<sessionId>MARK</sessionId>', 'Basic dXNlcjpwdw==')
    expect(placeSessionId(request, { header: 'x-sfdc-session', bodyMarker: 'MARK' })).toBe(request)
  })
})
