import { describe, expect, it } from 'vitest'
import {
  fieldOfIssue,
  headerRowsOf,
  jwtValuesOf,
  literal,
  readHeaders,
  readJwt,
  typed,
  type FormValues,
} from './external-credential-form.ts'

describe('literal and typed', () => {
  it.each(['${env:KEY}', 'a$${b', '$$${x}', 'cost ${5} and ${6}', '$', '${', 'plain'])(
    'typed(literal(%j)) is the text itself, and literal text holds no reference',
    (text) => {
      expect(typed(literal(text))).toBe(text)
      // Every ${ of the literal form is preceded by the $ that makes it literal.
      expect(literal(text).replaceAll('$${', '')).not.toContain('${')
    },
  )

  it('walks objects and arrays, and leaves other values alone', () => {
    expect(literal({ a: ['${x}', 1, null], b: { c: true, d: '${y}' } })).toEqual({
      a: ['$${x}', 1, null],
      b: { c: true, d: '$${y}' },
    })
  })
})

describe('readJwt', () => {
  const read = (body: Record<string, string>) => {
    const values: FormValues = {}
    const problems: FormValues = {}
    return { jwt: readJwt(body, values, problems), values, problems }
  }

  it('is undefined when every field is empty', () => {
    expect(read({ jwtIssuer: '  ', jwtAudience: '\r\n' }).jwt).toBeUndefined()
  })

  it('reads one audience as a string and several as a list', () => {
    expect(read({ jwtAudience: ' https://a \r\n' }).jwt).toEqual({ audience: 'https://a' })
    expect(read({ jwtAudience: 'https://a\r\n\r\nhttps://b' }).jwt).toEqual({
      audience: ['https://a', 'https://b'],
    })
  })

  it('keeps one audience a list when the stored entry has a list (the config file keeps either)', () => {
    const read = (text: string, stored?: Record<string, unknown>) =>
      readJwt({ jwtAudience: text }, {}, {}, stored)
    expect(read('https://a', { jwt: { audience: ['https://old'] } })).toEqual({
      audience: ['https://a'],
    })
    expect(read('https://a', { jwt: { audience: 'https://old' } })).toEqual({
      audience: 'https://a',
    })
    expect(read('https://a\nhttps://b', { jwt: { audience: 'https://old' } })).toEqual({
      audience: ['https://a', 'https://b'],
    })
    expect(read('https://a', {})).toEqual({ audience: 'https://a' })
  })

  it('passes a number and a JSON object, and refuses text that is neither', () => {
    expect(read({ jwtValiditySeconds: '90', jwtAdditionalClaims: '{"a": [1]}' }).jwt).toEqual({
      validitySeconds: 90,
      additionalClaims: { a: [1] },
    })
    const bad = read({ jwtValiditySeconds: '1e3', jwtAdditionalClaims: '"text"' })
    expect(Object.keys(bad.problems).sort()).toEqual(['jwtAdditionalClaims', 'jwtValiditySeconds'])
    expect(bad.values.jwtValiditySeconds).toBe('1e3')
  })

  it('round-trips with jwtValuesOf', () => {
    const jwt = {
      issuer: 'i',
      subject: '{!$User.Username}',
      audience: ['a', 'b'],
      validitySeconds: 60,
      algorithm: 'ES256',
      keyId: 'k',
      additionalClaims: { scope: 'api' },
    }
    expect(read(jwtValuesOf({ jwt }) as Record<string, string>).jwt).toEqual(jwt)
  })
})

describe('readHeaders', () => {
  it('leaves out rows without a name, keeps a CR/LF for the config to refuse, and maps rows', () => {
    const problems: FormValues = {}
    const read = readHeaders(
      {
        'h0.name': '',
        'h0.formula': '',
        'h1.name': ' X-A ',
        'h1.formula': " 'a'\r\n ",
        'h1.sequence': '7',
        'h2.name': 'X-B',
        'h2.formula': "'b'",
      },
      problems,
    )
    expect(read.headers).toEqual([
      { name: 'X-A', formula: "'a'\r\n", sequence: 7 },
      { name: 'X-B', formula: "'b'" },
    ])
    expect(read.rowOf).toEqual([1, 2])
    expect(problems).toEqual({})
    expect(headerRowsOf({ authHeaders: read.headers })[0]).toEqual({
      name: 'X-A',
      formula: "'a'\r\n",
      sequence: '7',
    })
  })
})

describe('fieldOfIssue', () => {
  it.each<[string[], string | undefined]>([
    [['jwt'], 'jwt'],
    [['jwt', 'keyId'], 'jwtKeyId'],
    [['jwt', 'audience', '1'], 'jwtAudience'],
    [['jwt', 'unknownKey'], 'jwt'],
    [['authHeaders'], 'authHeaders'],
    [['authHeaders', '1', 'name'], 'h4.name'],
    [['authHeaders', '0', ' (X-A)'], 'h2.formula'],
    [['authHeaders', '9', 'name'], 'authHeaders'],
    [['scope'], undefined],
  ])('puts an issue at %j under %s', (parts, key) => {
    expect(fieldOfIssue(parts, 'm', [2, 4])?.key).toBe(key)
  })

  it('leads a claim issue with the claim', () => {
    expect(fieldOfIssue(['jwt', 'additionalClaims', 'iss'], 'is registered', [])?.message).toBe(
      'iss is registered',
    )
  })
})
