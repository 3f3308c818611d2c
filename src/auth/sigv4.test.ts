import { describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import {
  amzDate,
  sigV4Encode,
  sigV4Sign,
  signSigV4,
  sigV4CredentialsFromPrincipal,
} from './sigv4.ts'

// AWS SigV4 test suite credentials and time (2015-08-30T12:36:00Z).
const creds = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: new Secret('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'),
}
const clock = { now: () => Date.UTC(2015, 7, 30, 12, 36, 0) }
const settings = { region: 'us-east-1', service: 'service' }

describe('SigV4', () => {
  it('reproduces the get-vanilla vector of the AWS test suite', () => {
    const { headers, parts } = sigV4Sign(
      { method: 'GET', url: 'https://example.amazonaws.com/' },
      creds,
      settings,
      { clock },
    )
    expect(parts.canonicalRequest).toBe(
      'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    )
    expect(parts.stringToSign).toBe(
      'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63',
    )
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    )
    expect(headers['x-amz-date']).toBe('20150830T123600Z')
  })

  it('sorts and encodes the query, trims header values, skips unsignable headers', () => {
    const { parts } = sigV4Sign(
      {
        method: 'post',
        url: 'https://example.amazonaws.com/a%20b/c?b=2&a=x y&a=1&c',
        headers: { 'User-Agent': 'x', 'X-Custom': '  a   b ', 'Content-Type': 'application/json' },
        body: '{}',
      },
      creds,
      settings,
      { clock },
    )
    const lines = parts.canonicalRequest.split('\n')
    expect(lines[0]).toBe('POST')
    expect(lines[1]).toBe('/a%2520b/c')
    expect(lines[2]).toBe('a=1&a=x%20y&b=2&c=')
    expect(parts.signedHeaders).toBe('content-type;host;x-amz-date;x-custom')
    expect(parts.canonicalRequest).toContain('x-custom:a b\n')
  })

  it('adds and signs the session token; S3 gets x-amz-content-sha256 and single encoding', () => {
    const withToken = { ...creds, sessionToken: new Secret('TOKEN') }
    const h = signSigV4(
      { method: 'GET', url: 'https://b.s3.amazonaws.com/a%20b' },
      withToken,
      { region: 'us-east-1', service: 's3' },
      { clock },
    )
    expect(h['x-amz-security-token']).toBe('TOKEN')
    expect(h['x-amz-content-sha256']).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    )
    expect(h.authorization).toContain(
      'SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,',
    )
    const { parts } = sigV4Sign(
      { method: 'GET', url: 'https://b.s3.amazonaws.com/a%20b' },
      creds,
      { region: 'us-east-1', service: 's3' },
      { clock },
    )
    expect(parts.canonicalRequest.split('\n')[1]).toBe('/a%20b')
  })

  it('rejects header injection and malformed settings', () => {
    let e1: unknown
    try {
      signSigV4(
        { method: 'GET', url: 'https://x.amazonaws.com/', headers: { 'x-a': 'a\r\nb' } },
        creds,
        settings,
        { clock },
      )
    } catch (e) {
      e1 = e
    }
    expect(isCalloutError(e1, 'HEADER_INJECTION')).toBe(true)
    expect(() =>
      signSigV4({ method: 'GET', url: 'https://x/' }, creds, { region: 'US EAST', service: 's' }),
    ).toThrow()
  })

  it('helpers', () => {
    expect(amzDate(Date.UTC(2000, 1, 29))).toBe('20000229T000000Z')
    expect(sigV4Encode("a b/c~d*!'()")).toBe('a%20b%2Fc~d%2A%21%27%28%29')
    expect(() =>
      sigV4CredentialsFromPrincipal({
        name: 'p',
        type: 'named',
        sequence: 1,
        parameters: {},
        secrets: {},
      }),
    ).toThrow()
    const c = sigV4CredentialsFromPrincipal({
      name: 'p',
      type: 'named',
      sequence: 1,
      parameters: {},
      secrets: { accessKeyId: new Secret('AKIDEXAMPLE'), secretAccessKey: new Secret('s') },
    })
    expect(c.accessKeyId).toBe('AKIDEXAMPLE')
  })
})
