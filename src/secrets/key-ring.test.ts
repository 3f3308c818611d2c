import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import { parseEnvelope } from './envelope.ts'
import { KeyRing, unwrapDataKey, wrapDataKey } from './key-ring.ts'
import { MasterKey } from './master-key.ts'

const aad = { table: 'credentials', column: 'access_token', row: '["Ext","Named",""]' }

function ring(): KeyRing {
  const r = KeyRing.open(MasterKey.generate(), [])
  r.createDataKey(1)
  return r
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    return isCalloutError(e) ? e.code : `non-callout: ${String(e)}`
  }
  return undefined
}

describe('KeyRing encrypt/decrypt', () => {
  it('round-trips any string, in the v1 compact format naming the data key', () => {
    const r = ring()
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (plaintext) => {
        const ct = r.encrypt(plaintext, aad)
        expect(ct).toMatch(
          /^v1\.dk_[0-9a-f]{16}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{22}$/,
        )
        expect(ct.split('.')[1]).toBe(r.activeKeyId)
        expect(r.decrypt(ct, aad).reveal()).toBe(plaintext)
      }),
      { numRuns: 200 },
    )
  })

  it('never repeats an IV and never contains the plaintext', () => {
    const r = ring()
    const a = r.encrypt('canary-7f3a9c-secret', aad)
    const b = r.encrypt('canary-7f3a9c-secret', aad)
    expect(a).not.toBe(b)
    expect(a).not.toContain('canary')
    expect(Buffer.from(a.split('.')[3] ?? '', 'base64url').toString('latin1')).not.toContain(
      'canary',
    )
  })

  it.each([
    ['another table', { ...aad, table: 'pending_authorizations' }],
    ['another column', { ...aad, column: 'refresh_token' }],
    ['another row', { ...aad, row: '["Ext","Named","user-2"]' }],
    ['a row that differs only in JSON framing', { ...aad, row: '["Ext","Named",""] ' }],
  ])('rejects a ciphertext moved to %s with SECRET_CORRUPT', (_label, other) => {
    const r = ring()
    const ct = r.encrypt('s3cr3t', aad)
    expect(codeOf(() => r.decrypt(ct, other))).toBe('SECRET_CORRUPT')
  })

  it('rejects any single-character tampering with SECRET_CORRUPT', () => {
    const r = ring()
    const ct = r.encrypt('tamper-me-please', aad)
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: ct.length - 1 }),
        fc.constantFrom(...'AbZ_-9.x'),
        (index, ch) => {
          const tampered = ct.slice(0, index) + ch + ct.slice(index + 1)
          fc.pre(tampered !== ct)
          // Changing the last base64url character may only flip unused padding bits.
          const code = codeOf(() => r.decrypt(tampered, aad))
          if (code === undefined) expect(r.decrypt(tampered, aad).reveal()).toBe('tamper-me-please')
          else expect(code).toBe('SECRET_CORRUPT')
        },
      ),
      { numRuns: 300 },
    )
  })

  it('rejects hostile and malformed input with SECRET_CORRUPT only', () => {
    const r = ring()
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }).map((s) => `v1.${s}`),
        ),
        (text) => {
          expect(codeOf(() => r.decrypt(text, aad))).toBe('SECRET_CORRUPT')
        },
      ),
      { numRuns: 300 },
    )
    for (const text of [
      '',
      'v1',
      'v1....',
      'v2.dk_1.AAAA.AAAA.AAAA',
      `v1.${'x'.repeat(65)}.a.b.c`,
      null,
      42,
    ]) {
      expect(codeOf(() => r.decrypt(text as string, aad))).toBe('SECRET_CORRUPT')
    }
  })

  it('names an unknown data key as SECRET_CORRUPT', () => {
    const ct = ring().encrypt('x', aad)
    expect(codeOf(() => ring().decrypt(ct, aad))).toBe('SECRET_CORRUPT')
  })

  it('errors never contain the plaintext', () => {
    const r = ring()
    const ct = r.encrypt('canary-7f3a9c-secret', aad)
    try {
      r.decrypt(ct, { ...aad, row: 'other' })
      expect.unreachable()
    } catch (e) {
      expect(JSON.stringify(e)).not.toContain('canary')
      expect(String((e as Error).message)).not.toContain('canary')
      expect(String((e as Error).cause)).not.toContain('canary')
    }
  })
})

describe('data keys', () => {
  it('wraps under the master key and records only its fingerprint', () => {
    const master = MasterKey.generate()
    const r = KeyRing.open(master, [])
    const record = r.createDataKey(10)
    expect(record.masterKeyId).toBe(master.id)
    expect(record.wrappedKey).not.toContain(master.toBase64())
    expect(parseEnvelope(record.wrappedKey).keyId).toBe(master.id)
    const again = KeyRing.open(master, [record])
    expect(again.decrypt(r.encrypt('hello', aad), aad).reveal()).toBe('hello')
  })

  it('refuses records of another master key with MASTER_KEY_INVALID', () => {
    const record = KeyRing.open(MasterKey.generate(), []).createDataKey(1)
    expect(codeOf(() => KeyRing.open(MasterKey.generate(), [record]))).toBe('MASTER_KEY_INVALID')
  })

  it('refuses a record that lies about its master key fingerprint', () => {
    const master = MasterKey.generate()
    const other = MasterKey.generate()
    const record = KeyRing.open(other, []).createDataKey(1)
    expect(codeOf(() => unwrapDataKey(master, { ...record, masterKeyId: master.id }))).toBe(
      'MASTER_KEY_INVALID',
    )
  })

  it('detects a wrapped key moved to another id with SECRET_CORRUPT', () => {
    const master = MasterKey.generate()
    const record = KeyRing.open(master, []).createDataKey(1)
    expect(codeOf(() => unwrapDataKey(master, { ...record, id: 'dk_0000000000000000' }))).toBe(
      'SECRET_CORRUPT',
    )
  })

  it('re-wraps under a new master key, keeping the data key', () => {
    const oldKey = MasterKey.generate()
    const newKey = MasterKey.generate()
    const r = KeyRing.open(oldKey, [])
    const record = r.createDataKey(1)
    const ct = r.encrypt('kept', aad)
    const [rewrapped] = r.rewrapAll(newKey, [record])
    expect(rewrapped).toMatchObject({ id: record.id, masterKeyId: newKey.id, createdAt: 1 })
    expect(KeyRing.open(newKey, [rewrapped!]).decrypt(ct, aad).reveal()).toBe('kept')
    expect(codeOf(() => KeyRing.open(oldKey, [rewrapped!]))).toBe('MASTER_KEY_INVALID')
  })

  it('encrypts with the newest data key and decrypts with any', () => {
    const master = MasterKey.generate()
    const older = wrapDataKey(master, 'dk_a', Buffer.alloc(32, 1), 5)
    const newer = wrapDataKey(master, 'dk_b', Buffer.alloc(32, 2), 9)
    const r = KeyRing.open(master, [newer, older])
    expect(r.activeKeyId).toBe('dk_b')
    const created = r.createDataKey(0)
    expect(created.createdAt).toBeGreaterThan(9)
    expect(r.activeKeyId).toBe(created.id)
  })

  it('refuses to encrypt without a data key', () => {
    expect(codeOf(() => KeyRing.open(MasterKey.generate(), []).encrypt('x', aad))).toBe('INTERNAL')
  })
})
