import { describe, expect, it } from 'vitest'
import { stripCallerAuth } from './strip-caller-auth.ts'

describe('stripCallerAuth', () => {
  it.each([
    [{ authorization: 'Bearer mine', accept: 'x' }, { accept: 'x' }],
    [{ 'proxy-authorization': 'Basic eA==', accept: 'x' }, { accept: 'x' }],
    [
      {
        host: 'evil.example',
        'content-length': '5',
        'transfer-encoding': 'chunked',
        te: 'trailers',
      },
      {},
    ],
    [{ connection: 'close, x-secret-hop', 'x-secret-hop': '1', accept: 'x' }, { accept: 'x' }],
    [{ 'x-custom': 'keep' }, { 'x-custom': 'keep' }],
  ])('%j → %j', (input, expected) => {
    expect(stripCallerAuth({ ...input })).toEqual(expected)
  })
})
