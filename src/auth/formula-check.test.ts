import { describe, expect, it } from 'vitest'
import { parseConfig } from '../definitions/config-file.ts'
import { checkFormulas } from './formula-check.ts'

const config = (headers: Record<string, string>, authHeaders: Record<string, string> = {}) =>
  parseConfig(
    {
      externalCredentials: {
        Ec: {
          protocol: 'custom',
          authHeaders,
          principals: { P: { type: 'named', parameters: { clientId: 'c' } } },
        },
      },
      namedCredentials: {
        Api: { url: 'https://api.example.com', externalCredential: 'Ec', headers },
      },
    },
    { env: {} },
  )

describe('checkFormulas', () => {
  it('accepts quoted literals, merge fields, concatenation and functions', () => {
    expect(() =>
      checkFormulas(
        config(
          { Accept: "'application/json'", 'X-Client': "'id=' & {!$Credential.Ec.clientId}" },
          { 'X-Sig': "BASE64ENCODE(HMAC('sha256', 'data', {!$Credential.Ec.clientId}))" },
        ),
      ),
    ).not.toThrow()
  })

  it('reports every broken header at once with its path, and suggests quoting a bare literal', () => {
    let error: unknown
    try {
      checkFormulas(config({ Accept: 'application/json' }, { 'X-Sig': "BASE64ENCODE('a'" }))
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' })
    const issues = (error as { details: { issues: { path: string; message: string }[] } }).details
      .issues
    expect(issues.map((i) => i.path)).toEqual([
      'externalCredentials.Ec.authHeaders[0] (X-Sig)',
      'namedCredentials.Api.headers[0] (Accept)',
    ])
    expect(issues[1]?.message).toContain('quote it, e.g. "\'application/json\'"')
    expect(issues[0]?.message).not.toContain('quote it')
  })
})
