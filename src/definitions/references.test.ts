import { execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import type { CalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import { parseConfig } from './config-file.ts'
import { DEFAULTS } from './model.ts'
import { isSecretPath, resolveReferences } from './references.ts'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'callout-refs-'))
  writeFileSync(join(dir, 'secret.txt'), 'from-file\r\n\n')
  mkdirSync(join(dir, 'adir'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function thrown(fn: () => unknown): CalloutError {
  try {
    fn()
  } catch (error) {
    expect(isCalloutError(error)).toBe(true)
    return error as CalloutError
  }
  throw new Error('expected an error')
}

const provider = (consumerSecret: string, extra: Record<string, unknown> = {}) => ({
  authProviders: {
    Idp: {
      type: 'oauth2',
      consumerKey: 'k',
      tokenUrl: 'https://t.example.com',
      consumerSecret,
      ...extra,
    },
  },
})

describe('resolveReferences', () => {
  it('resolves ${env:} and ${file:} (relative to baseDir, trailing newlines trimmed) into Secrets', () => {
    const out = resolveReferences(
      {
        authProviders: {
          A: {
            consumerSecret: '${env:S}',
            clientPrivateKey: '${file:secret.txt}',
            consumerKey: 'id-${env:K}',
          },
        },
      },
      { env: { S: 'env-secret', K: '42' }, baseDir: dir },
    ) as { authProviders: { A: Record<string, unknown> } }
    const a = out.authProviders.A
    expect(a.consumerSecret).toBeInstanceOf(Secret)
    expect((a.consumerSecret as Secret).reveal()).toBe('env-secret')
    expect((a.clientPrivateKey as Secret).reveal()).toBe('from-file')
    expect(a.consumerKey).toBe('id-42')
  })

  it('writes $${ as a literal ${', () => {
    expect(resolveReferences({ x: 'a$${env:NOPE}b' }, { env: {} })).toEqual({ x: 'a${env:NOPE}b' })
  })

  it('does not re-expand references inside resolved values', () => {
    expect(resolveReferences({ x: '${env:A}' }, { env: { A: '${env:B}', B: 'no' } })).toEqual({
      x: '${env:B}',
    })
  })

  it('names a missing env var and the field, never a value', () => {
    const error = thrown(() => resolveReferences(provider('${env:IDP_SECRET}'), { env: {} }))
    expect(error.code).toBe('CONFIG_REFERENCE_MISSING')
    expect(error.message).toContain('${env:IDP_SECRET}')
    expect(error.message).toContain('authProviders.Idp.consumerSecret')
    expect(error.details.references).toEqual([
      {
        reference: '${env:IDP_SECRET}',
        path: 'authProviders.Idp.consumerSecret',
        reason: expect.stringContaining('IDP_SECRET is not set') as string,
      },
    ])
  })

  it('reports a missing file and a directory', () => {
    const error = thrown(() =>
      resolveReferences({ a: '${file:nope.pem}', b: '${file:adir}' }, { env: {}, baseDir: dir }),
    )
    expect(error.code).toBe('CONFIG_REFERENCE_MISSING')
    expect((error.details.references as { path: string }[]).map((r) => r.path)).toEqual(['a', 'b'])
    expect(error.message).toContain('does not exist')
    expect(error.message).toContain('directory')
  })

  it('reads regular files only: a device or a FIFO is CONFIG_INVALID, without reading or hanging', () => {
    const fifo = join(dir, 'a.fifo')
    execFileSync('mkfifo', [fifo])
    for (const file of ['/dev/zero', '/dev/urandom', fifo]) {
      const error = thrown(() =>
        resolveReferences(provider(`\${file:${file}}`), { env: {}, baseDir: dir }),
      )
      expect(error.code, file).toBe('CONFIG_INVALID')
      expect(error.message).toContain(`references ${file}, which is not a regular file`)
    }
  })

  it('follows a symlink to a regular file and refuses one to a device', () => {
    symlinkSync(join(dir, 'secret.txt'), join(dir, 'link.txt'))
    symlinkSync('/dev/zero', join(dir, 'zero-link'))
    const out = resolveReferences(provider('${file:link.txt}'), { env: {}, baseDir: dir }) as {
      authProviders: { Idp: { consumerSecret: Secret } }
    }
    expect(out.authProviders.Idp.consumerSecret.reveal()).toBe('from-file')
    expect(
      thrown(() => resolveReferences(provider('${file:zero-link}'), { env: {}, baseDir: dir }))
        .code,
    ).toBe('CONFIG_INVALID')
  })

  it('caps a file at maxConfigBytes while reading, whatever its size reports', () => {
    writeFileSync(join(dir, 'big.txt'), 'x'.repeat(DEFAULTS.maxConfigBytes + 1))
    writeFileSync(join(dir, 'max.txt'), 'y'.repeat(DEFAULTS.maxConfigBytes))
    const error = thrown(() =>
      resolveReferences({ a: '${file:big.txt}' }, { env: {}, baseDir: dir }),
    )
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.message).toContain('larger than')
    expect(resolveReferences({ a: '${file:max.txt}' }, { env: {}, baseDir: dir })).toEqual({
      a: 'y'.repeat(DEFAULTS.maxConfigBytes),
    })
    // /proc files report a size of 0 and still have contents: they are read to the end.
    expect(statSync('/proc/self/status').size).toBe(0)
    const status = resolveReferences({ a: '${file:/proc/self/status}' }, { env: {} }) as {
      a: string
    }
    expect(status.a).toMatch(/^Name:/)
  })

  it('refuses inline secrets unless allowInlineSecrets', () => {
    const error = thrown(() => resolveReferences(provider('literal-s3cret'), { env: {} }))
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.details.issues).toEqual([
      {
        path: 'authProviders.Idp.consumerSecret',
        message: expect.stringContaining('${env:NAME}') as string,
      },
    ])
    expect(error.message).not.toContain('literal-s3cret')
    const ok = resolveReferences(provider('literal-s3cret'), {
      env: {},
      allowInlineSecrets: true,
    }) as ReturnType<typeof provider>
    expect((ok.authProviders.Idp.consumerSecret as unknown as Secret).reveal()).toBe(
      'literal-s3cret',
    )
  })

  it('rejects unknown and malformed references, with a hint for ${NAME}', () => {
    const error = thrown(() =>
      resolveReferences({ a: '${HOME}', b: '${vault:x}', c: '${env:}', d: '${env:X' }, { env: {} }),
    )
    expect(error.code).toBe('CONFIG_INVALID')
    const issues = error.details.issues as { path: string; message: string }[]
    expect(issues.map((i) => i.path)).toEqual(['a', 'b', 'c', 'd'])
    expect(issues[0]?.message).toContain('did you mean ${env:HOME}?')
  })

  it('knows the secret fields', () => {
    expect(isSecretPath(['authProviders', 'A', 'consumerSecret'])).toBe(true)
    expect(isSecretPath(['authProviders', 'A', 'clientPrivateKey'])).toBe(true)
    expect(isSecretPath(['externalCredentials', 'E', 'principals', 'P', 'secrets', 'apiKey'])).toBe(
      true,
    )
    expect(
      isSecretPath(['externalCredentials', 'E', 'principals', 'P', 'parameters', 'username']),
    ).toBe(false)
    expect(isSecretPath(['namedCredentials', 'N', 'clientCertificate', 'key'])).toBe(true)
    expect(isSecretPath(['namedCredentials', 'N', 'clientCertificate', 'cert'])).toBe(false)
    expect(isSecretPath(['namedCredentials', 'N', 'password'])).toBe(true)
    expect(isSecretPath(['authProviders', 'A', 'consumerKey'])).toBe(false)
  })
})

describe('canary: secret values never appear in errors', () => {
  const CANARY = 'CANARY-9f3b2c7e-SECRET'
  const haystack = (error: CalloutError): string =>
    [
      error.message,
      JSON.stringify(error.details),
      JSON.stringify(error.toJSON()),
      String(error.cause ?? ''),
    ].join('\n')

  const cases: [string, () => unknown][] = [
    [
      'resolved env secret, later schema error',
      () =>
        parseConfig({ ...provider('${env:C}', { consumerSecrt: 'x' }) }, { env: { C: CANARY } }),
    ],
    [
      'resolved secret of the wrong shape (not PEM)',
      () =>
        parseConfig(
          provider('${env:C}', { clientPrivateKey: '${env:C}', clientAuth: 'private_key_jwt' }),
          { env: { C: CANARY } },
        ),
    ],
    ['inline secret refused', () => parseConfig(provider(CANARY), { env: {} })],
    ['secret pasted into a reference', () => parseConfig(provider(`\${${CANARY}}`), { env: {} })],
    [
      'secret pasted as a malformed env reference',
      () => parseConfig(provider(`\${env:${CANARY}-x}`), { env: {} }),
    ],
    [
      'secret in an unknown key',
      () =>
        parseConfig(provider('${env:C}', { secret: CANARY }), {
          env: { C: 'ok' },
          allowInlineSecrets: true,
        }),
    ],
    [
      'secret with the wrong type elsewhere',
      () =>
        parseConfig(
          {
            namedCredentials: {
              N: {
                url: 'https://h.example.com',
                identityType: 'named-principal',
                protocol: 'password',
                username: 7,
                password: CANARY,
              },
            },
          },
          { allowInlineSecrets: true },
        ),
    ],
    [
      'secret in broken YAML',
      () =>
        parseConfig(`authProviders:\n  A: { consumerSecret: ${CANARY}: x\n`, { format: 'yaml' }),
    ],
    [
      'secret in broken JSON',
      () =>
        parseConfig(`{"authProviders": {"A": {"consumerSecret": ${CANARY}}}}`, { format: 'json' }),
    ],
    [
      'secret in a URL userinfo',
      () =>
        parseConfig({
          externalCredentials: { E: { protocol: 'none' } },
          namedCredentials: {
            N: { url: `https://u:${CANARY}@h.example.com`, externalCredential: 'E' },
          },
        }),
    ],
    [
      'secret as a bad header value',
      () =>
        parseConfig({
          externalCredentials: { E: { protocol: 'none' } },
          namedCredentials: {
            N: {
              url: 'https://h.example.com',
              externalCredential: 'E',
              headers: { 'X-Key': `${CANARY}\r\n` },
            },
          },
        }),
    ],
  ]

  it.each(cases)('%s', (_name, fn) => {
    const error = thrown(fn)
    expect(['CONFIG_INVALID', 'CONFIG_REFERENCE_MISSING']).toContain(error.code)
    expect(haystack(error)).not.toContain(CANARY)
  })
})
