import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { bodyFrom, peekBody } from './body.ts'

describe('peekBody', () => {
  it('returns at most the limit as text and replays the whole body', async () => {
    const chunks = Array.from({ length: 10 }, (_, i) => Buffer.alloc(1_000, 97 + i))
    const { text, body } = await peekBody(Readable.from(chunks), 2_500)
    expect(text.length).toBe(2_500)
    expect((await body.text()).length).toBe(10_000)
  })
  it('handles empty bodies', async () => {
    const { text, body } = await peekBody(Readable.from([]))
    expect(text).toBe('')
    expect(await body.text()).toBe('')
  })
})

describe('bodyFrom', () => {
  it('offers json, arrayBuffer and dump', async () => {
    expect(
      await bodyFrom(
        [Buffer.from('{"a":')],
        [Buffer.from('1}')][Symbol.iterator]() as never,
      ).json(),
    ).toEqual({ a: 1 })
    expect(new Uint8Array(await bodyFrom([Buffer.from('ab')]).arrayBuffer())).toEqual(
      new Uint8Array([97, 98]),
    )
    await bodyFrom([Buffer.from('x')]).dump()
  })
})
