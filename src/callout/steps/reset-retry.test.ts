import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { OutboundRequest } from '../types.ts'
import { isReusedConnectionReset, resetVerdict } from './reset-retry.ts'

/** undici's SocketError carries the socket's counters: bytes read before it failed. */
function socketError(bytesRead: number): Error {
  return Object.assign(new Error('other side closed'), {
    code: 'UND_ERR_SOCKET',
    socket: { bytesRead, bytesWritten: 120 },
  })
}

function req(method: string, body: OutboundRequest['body'] = undefined): OutboundRequest {
  return { method, url: new URL('https://api.example.com/x'), headers: {}, body }
}

describe('resetVerdict', () => {
  it('retries idempotent methods with a replayable body after a reset of a reused connection', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) {
      expect(resetVerdict(socketError(300), req(method))).toEqual({ action: 'retry' })
      expect(resetVerdict(socketError(300), req(method, 'x'))).toEqual({ action: 'retry' })
      expect(resetVerdict(socketError(300), req(method, new Uint8Array(2)))).toEqual({
        action: 'retry',
      })
    }
  })

  it('refuses POST and PATCH, and a stream that was read', () => {
    expect(resetVerdict(socketError(300), req('POST'))).toEqual({
      action: 'refuse',
      reason: 'method',
    })
    expect(resetVerdict(socketError(300), req('PATCH', 'x'))).toEqual({
      action: 'refuse',
      reason: 'method',
    })
    const stream = Readable.from(['a', 'b'])
    stream.read()
    expect(resetVerdict(socketError(300), req('PUT', { kind: 'stream', stream }))).toEqual({
      action: 'refuse',
      reason: 'streamed-body',
    })
    const untouched = Readable.from(['a'])
    expect(
      resetVerdict(socketError(300), req('PUT', { kind: 'stream', stream: untouched })),
    ).toEqual({ action: 'retry' })
  })

  it('leaves other failures alone: a fresh connection, a refusal, a timeout', () => {
    expect(isReusedConnectionReset(socketError(0))).toBe(false)
    expect(resetVerdict(socketError(0), req('GET'))).toEqual({ action: 'none' })
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    expect(resetVerdict(refused, req('GET'))).toEqual({ action: 'none' })
    const timeout = Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' })
    expect(resetVerdict(timeout, req('POST'))).toEqual({ action: 'none' })
  })
})
