import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { CalloutError } from '../../errors.ts'
import { normalizeRequest } from './normalize-request.ts'

async function code(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (e instanceof CalloutError ? e.code : 'not-a-callout-error'),
  )
}

describe('normalizeRequest', () => {
  it('defaults to GET and lower-cases header names, joining repeats', async () => {
    const r = await normalizeRequest({
      headers: [
        ['X-A', '1'],
        ['x-a', '2'],
      ],
    })
    expect(r).toEqual({ method: 'GET', headers: { 'x-a': '1, 2' }, body: undefined })
  })

  it('accepts Headers objects and records with arrays', async () => {
    expect((await normalizeRequest({ headers: new Headers({ Accept: 'a' }) })).headers).toEqual({
      accept: 'a',
    })
    expect(
      (await normalizeRequest({ headers: { 'X-M': ['1', '2'], 'X-U': undefined } })).headers,
    ).toEqual({ 'x-m': '1, 2' })
  })

  it('buffers replayable bodies and sets their content type', async () => {
    const form = await normalizeRequest({ method: 'post', body: new URLSearchParams({ a: '1' }) })
    expect(form).toMatchObject({
      method: 'POST',
      body: 'a=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    })
    const blob = await normalizeRequest({
      method: 'PUT',
      body: new Blob(['xy'], { type: 'text/x' }),
    })
    expect(Buffer.from(blob.body as Uint8Array).toString()).toBe('xy')
    expect(blob.headers['content-type']).toBe('text/x')
    const fd = new FormData()
    fd.set('f', 'v')
    const multipart = await normalizeRequest({ method: 'POST', body: fd })
    expect(multipart.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/)
    expect(Buffer.from(multipart.body as Uint8Array).toString()).toContain('name="f"')
    const bytes = await normalizeRequest({ method: 'POST', body: new Uint16Array([65]) })
    expect(bytes.body).toBeInstanceOf(Uint8Array)
  })

  it('keeps streams as one-shot stream bodies', async () => {
    const r = await normalizeRequest({ method: 'POST', body: Readable.from(['a']) })
    expect(typeof r.body === 'object' && 'kind' in r.body && r.body.kind).toBe('stream')
  })

  it.each([
    [{ method: 'GE T' }],
    [{ method: 'CONNECT' }],
    [{ method: 'trace' }],
    [{ method: 'GET', body: 'x' }],
    [{ method: 'HEAD', body: 'x' }],
    [{ headers: { 'bad name': 'x' } }],
    [{ headers: [['only-one']] as unknown as [string, string][] }],
    [{ method: 'POST', body: 42 as unknown as string }],
  ])('rejects %j with INVALID_ARGUMENT', async (init) => {
    expect(await code(normalizeRequest(init as never))).toBe('INVALID_ARGUMENT')
  })

  it.each([
    [{ headers: { 'x-a': 'v\r\nInjected: 1' } }],
    [{ headers: { 'x-a': 'v\u0000' } }],
    [{ headers: [['x-a', 'v\nX-B: 1']] as [string, string][] }],
  ])('rejects %j with HEADER_INJECTION', async (init) => {
    expect(await code(normalizeRequest(init as never))).toBe('HEADER_INJECTION')
  })

  it('keeps non-standard method case (fetch semantics)', async () => {
    expect((await normalizeRequest({ method: 'propfind' })).method).toBe('propfind')
  })
})
