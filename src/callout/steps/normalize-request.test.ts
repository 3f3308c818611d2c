import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { CalloutError } from '../../errors.ts'
import { normalizeRequest, normalizeRequestSync } from './normalize-request.ts'

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

describe('normalizeRequestSync', () => {
  it('gives what normalizeRequest resolves to, at once', async () => {
    const inits = [
      {},
      { method: 'post', headers: { 'Content-Type': 'application/json' }, body: '{}' },
      { method: 'PUT', headers: [['X-A', '1']] as [string, string][], body: new Uint8Array([1]) },
      { method: 'POST', body: new URLSearchParams({ a: '1' }) },
      { headers: new Headers({ accept: 'x' }) },
    ]
    for (const init of inits) {
      expect(normalizeRequestSync(init)).toEqual(await normalizeRequest(init))
    }
  })

  it('returns undefined for Blob and FormData bodies (serialised asynchronously)', () => {
    expect(normalizeRequestSync({ method: 'POST', body: new Blob(['x']) })).toBeUndefined()
    expect(normalizeRequestSync({ method: 'POST', body: new FormData() })).toBeUndefined()
  })

  it.each([
    [{ method: 'GET', body: 'x' }, 'INVALID_ARGUMENT'],
    [{ method: 'TRACE' }, 'INVALID_ARGUMENT'],
    [{ headers: { 'x-a': 'b\r\nc' } }, 'HEADER_INJECTION'],
    [{ method: 'GET', body: new Blob(['x']), headers: { 'x-a': '\0' } }, 'HEADER_INJECTION'],
  ])('throws what normalizeRequest rejects with: %j → %s', async (init, expected) => {
    expect(await code(normalizeRequest(init))).toBe(expected)
    expect(() => normalizeRequestSync(init)).toThrow(expect.objectContaining({ code: expected }))
  })
})
