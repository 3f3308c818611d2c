import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isCalloutError, type ErrorCode } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import {
  compileFormula,
  evaluateFormula,
  evaluateHeaderFormula,
  MAX_FORMULA_OUTPUT,
  mergeTemplate,
  type FormulaContext,
} from './formula.ts'

const ctx: FormulaContext = {
  externalCredential: 'MyEC',
  parameters: { Username: 'alice', username: 'alice', region: 'eu' },
  secrets: {
    Password: new Secret('p@ss'),
    password: new Secret('p@ss'),
    ApiKey: new Secret('k-123'),
    Evil: new Secret('a\r\nX-Injected: 1'),
  },
  token: new Secret('00Dtoken'),
}
const run = (f: string, c: FormulaContext = ctx) => evaluateHeaderFormula(compileFormula(f), c)
function codeOf(fn: () => unknown): ErrorCode | 'no error' | 'not a CalloutError' {
  try {
    fn()
    return 'no error'
  } catch (e) {
    return isCalloutError(e) ? e.code : 'not a CalloutError'
  }
}

describe('formulas', () => {
  it('evaluates the canonical Basic header formula', () => {
    const f = `{!'Basic ' & BASE64ENCODE(BLOB($Credential.MyEC.Username & ':' & $Credential.MyEC.Password))}`
    expect(run(f)).toBe(`Basic ${Buffer.from('alice:p@ss').toString('base64')}`)
  })

  it('reads parameters, secrets and the token', () => {
    expect(run('{!$Credential.MyEC.ApiKey}')).toBe('k-123')
    expect(run('$Credential.MyEC.region')).toBe('eu')
    expect(run("'Bearer ' & {!$Credential.OAuthToken}")).toBe('Bearer 00Dtoken')
    expect(run('$Credential.MyEC.OAuthToken')).toBe('00Dtoken')
    expect(run('$Credential.UserName & "/" & $Credential.Password')).toBe('alice/p@ss')
  })

  it('computes HMAC as bytes', () => {
    const expected = createHmac('sha256', 'k-123').update('payload').digest()
    expect(run("BASE64ENCODE(HMAC('sha256', 'payload', $Credential.MyEC.ApiKey))")).toBe(
      expected.toString('base64'),
    )
    expect(run("HEX(HMAC('SHA512', 'x', 'k'))")).toBe(
      createHmac('sha512', 'k').update('x').digest('hex'),
    )
    expect(run("HEX(HMAC('sha1', BLOB('x'), BLOB('k')))")).toBe(
      createHmac('sha1', 'k').update('x').digest('hex'),
    )
  })

  it('supports escapes, TEXT, URLENCODE and HTMLENCODE', () => {
    expect(evaluateFormula(compileFormula(`'it\\'s' & "\\"q\\""`), ctx)).toBe(`it's"q"`)
    expect(run("TEXT(BLOB('é'))")).toBe('é')
    expect(run("URLENCODE('a b&c')")).toBe('a%20b%26c')
    expect(run("HTMLENCODE('<a&b>')")).toBe('&#60;a&#38;b&#62;')
  })

  it.each([
    ["'unterminated", 1],
    ["'a' 'b'", 5],
    ['Bearer token', 8],
    ["BASE64ENCODE('a'", 17],
    ["{!'a'", 6],
    ['$', 2],
    ["'a' & ", 7],
    ["'\\x'", 2],
  ])('parse error in %j names position %i', (source, position) => {
    try {
      compileFormula(source)
      expect.unreachable()
    } catch (e) {
      expect(isCalloutError(e, 'FORMULA_INVALID')).toBe(true)
      expect((e as { details: Record<string, unknown> }).details.position).toBe(position)
      expect((e as Error).message).toContain(`position ${position}`)
    }
  })

  it.each([
    ['$Credential.Other.ApiKey'],
    ['$Credential.MyEC.Missing'],
    ['$User.Id'],
    ['$Credential.Nope'],
    ["NOPE('a')"],
    ["BASE64ENCODE('a', 'b')"],
    ["HMAC('md5', 'a', 'b')"],
    ["BLOB('a')"],
    ["BLOB('a') & 'b'"],
  ])('evaluation error for %j is FORMULA_INVALID and never leaks values', (source) => {
    let err: unknown
    try {
      run(source)
    } catch (e) {
      err = e
    }
    expect(isCalloutError(err, 'FORMULA_INVALID')).toBe(true)
    expect((err as Error).message).not.toMatch(/p@ss|k-123|00Dtoken/)
  })

  it('OAuthToken without a token is FORMULA_INVALID', () => {
    const { token: _t, ...noToken } = ctx
    expect(codeOf(() => run('$Credential.OAuthToken', noToken))).toBe('FORMULA_INVALID')
  })

  it('a secret with CRLF in a header is HEADER_INJECTION, not a split', () => {
    expect(codeOf(() => run('$Credential.MyEC.Evil'))).toBe('HEADER_INJECTION')
    expect(codeOf(() => run("'a\\nb'"))).toBe('HEADER_INJECTION')
  })

  it('caps the output', () => {
    const big = {
      ...ctx,
      parameters: { ...ctx.parameters, big: 'x'.repeat(MAX_FORMULA_OUTPUT / 2 + 1) },
    }
    expect(codeOf(() => run('$Credential.MyEC.big & $Credential.MyEC.big', big))).toBe(
      'FORMULA_INVALID',
    )
    expect(
      codeOf(() => run('BASE64ENCODE($Credential.MyEC.big & $Credential.MyEC.big)', big)),
    ).toBe('FORMULA_INVALID')
  })

  it('refuses deep nesting and huge sources', () => {
    expect(codeOf(() => compileFormula('TEXT('.repeat(100) + "'a'" + ')'.repeat(100)))).toBe(
      'FORMULA_INVALID',
    )
    expect(codeOf(() => compileFormula(`'${'a'.repeat(10_000)}'`))).toBe('FORMULA_INVALID')
  })
})

describe('mergeTemplate', () => {
  it('replaces merge fields and keeps the rest', () => {
    expect(
      mergeTemplate(
        '<u>{!$Credential.UserName}</u><p>{!HTMLENCODE($Credential.MyEC.Password)}</p>',
        ctx,
      ),
    ).toBe('<u>alice</u><p>p@ss</p>')
    expect(mergeTemplate('no fields {here}', ctx)).toBe('no fields {here}')
    expect(mergeTemplate("{!'}'}", ctx)).toBe('}')
  })
  it('rejects an unterminated merge field', () => {
    expect(codeOf(() => mergeTemplate('a {!$Credential.UserName', ctx))).toBe('FORMULA_INVALID')
  })
  it('allows newlines in bodies but not in headers', () => {
    expect(mergeTemplate('{!$Credential.MyEC.Evil}', ctx)).toBe('a\r\nX-Injected: 1')
    expect(codeOf(() => mergeTemplate('{!$Credential.MyEC.Evil}', ctx, { header: true }))).toBe(
      'HEADER_INJECTION',
    )
  })
})

describe('formula properties', () => {
  const tokenArb = fc.constantFrom(
    "'",
    '"',
    '{!',
    '}',
    '(',
    ')',
    ',',
    '&',
    '$Credential',
    '.',
    'MyEC',
    'Evil',
    'ApiKey',
    'OAuthToken',
    'BASE64ENCODE',
    'BLOB',
    'HMAC',
    'TEXT',
    'HEX',
    "'sha256'",
    "'a\\nb'",
    ' ',
    '\r',
    '\n',
    '\0',
    "'x'",
    'UserName',
  )
  const formulaArb = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.array(tokenArb, { maxLength: 40 }).map((a) => a.join('')),
  )

  it('evaluation throws only CalloutErrors and header output never contains CR, LF or NUL', () => {
    fc.assert(
      fc.property(formulaArb, fc.string({ maxLength: 50 }), (source, secretValue) => {
        const c = { ...ctx, secrets: { ...ctx.secrets, Evil: new Secret(secretValue) } }
        try {
          const out = evaluateHeaderFormula(compileFormula(source), c)
          expect(out).not.toMatch(/[\r\n\0]/)
        } catch (e) {
          expect(isCalloutError(e)).toBe(true)
        }
        try {
          const out = mergeTemplate(source, c, { header: true })
          expect(out).not.toMatch(/[\r\n\0]/)
        } catch (e) {
          expect(isCalloutError(e)).toBe(true)
        }
      }),
      { numRuns: 2000 },
    )
  })
})
