import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CalloutError } from '../errors.ts'
import { definitions, namedCredential } from '../../test/helpers/callout-fixtures.ts'
import {
  findNamedCredential,
  joinCalloutUrl,
  parseCalloutUrl,
  resolveCalloutUrl,
} from './callout-url.ts'

const defs = definitions({
  namedCredentials: [
    namedCredential({ name: 'Api', url: 'https://api.example.com:8443/v1' }),
    namedCredential({ name: 'Root', url: 'https://root.example.com' }),
    namedCredential({ name: 'Slash', url: 'https://slash.example.com/base/' }),
    namedCredential({ name: 'Off', url: 'https://off.example.com', enabled: false }),
  ],
})

function ruleOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    if (e instanceof CalloutError && e.code === 'CALLOUT_URL_MALFORMED')
      return String(e.details.rule)
    throw e
  }
  return undefined
}

describe('resolveCalloutUrl: accepted URLs', () => {
  it.each([
    ['callout:Api', 'https://api.example.com:8443/v1'],
    ['callout:Api/', 'https://api.example.com:8443/v1/'],
    ['callout:Api/users', 'https://api.example.com:8443/v1/users'],
    [
      'callout:Api/users/42?fields=a,b&x=%20y',
      'https://api.example.com:8443/v1/users/42?fields=a,b&x=%20y',
    ],
    ['callout:Api?limit=5', 'https://api.example.com:8443/v1?limit=5'],
    [
      'callout:Api/search?email=a@b.example',
      'https://api.example.com:8443/v1/search?email=a@b.example',
    ],
    ['callout:Api/q?url=https%3A%2F%2Fx', 'https://api.example.com:8443/v1/q?url=https%3A%2F%2Fx'],
    ['callout:Api/a//b', 'https://api.example.com:8443/v1/a//b'],
    ['callout:Api/..foo/.bar', 'https://api.example.com:8443/v1/..foo/.bar'],
    ['callout:Api/a;b/c,d', 'https://api.example.com:8443/v1/a;b/c,d'],
    ['callout:Api/...;x', 'https://api.example.com:8443/v1/...;x'],
    ['callout:Api/%2e%2efoo;v=1', 'https://api.example.com:8443/v1/%2e%2efoo;v=1'],
    ['callout:Api/100%2525', 'https://api.example.com:8443/v1/100%2525'],
    ['callout:Api/%E2%9C%93', 'https://api.example.com:8443/v1/%E2%9C%93'],
    ['callout:Root', 'https://root.example.com/'],
    ['callout:Root/services/data/v61.0/', 'https://root.example.com/services/data/v61.0/'],
    ['callout:Slash/x', 'https://slash.example.com/base/x'],
    ['callout:acme__Api/users', 'https://api.example.com:8443/v1/users'],
    ['CALLOUT:Api/users', 'https://api.example.com:8443/v1/users'],
  ])('%s → %s', (input, expected) => {
    expect(resolveCalloutUrl(defs, input).url.href).toBe(expected)
  })

  it('accepts a URL object with the callout: scheme', () => {
    expect(resolveCalloutUrl(defs, new URL('callout:Api/x')).url.href).toBe(
      'https://api.example.com:8443/v1/x',
    )
  })
})

describe('parseCalloutUrl: rules', () => {
  it.each([
    ['callout:Api/@evil.com', 'no-userinfo'],
    ['callout:Api/x@evil.com/y', 'no-userinfo'],
    ['callout:Api\\evil.com', 'no-backslash'],
    ['callout:Api/\\\\evil.com', 'no-backslash'],
    ['callout:Api/x?y=\\', 'no-backslash'],
    ['callout://evil.com/x', 'no-scheme-relative'],
    ['callout:Api//evil.com/x', 'no-scheme-relative'],
    ['callout:Api/a%2fb', 'no-encoded-slash'],
    ['callout:Api/a%2Fb', 'no-encoded-slash'],
    ['callout:Api/a%5cb', 'no-encoded-slash'],
    ['callout:Api/a%5Cb', 'no-encoded-slash'],
    ['callout:Api/a%252fb', 'no-encoded-slash'],
    ['callout:Api/a%00b', 'no-control-chars'],
    ['callout:Api/a%0Db', 'no-control-chars'],
    ['callout:Api/a%0ab', 'no-control-chars'],
    ['callout:Api/a%1Fb', 'no-control-chars'],
    ['callout:Api/a%7fb', 'no-control-chars'],
    ['callout:Api/x?h=%0d%0aSet-Cookie:x', 'no-control-chars'],
    ['callout:Api/a\u0000b', 'no-control-chars'],
    ['callout:Api/a\r\nHost: evil', 'no-control-chars'],
    ['callout:Api/a b', 'no-control-chars'],
    ['callout:Api/a\tb', 'no-control-chars'],
    ['callout:Api/a\u00a0b', 'no-control-chars'],
    ['callout:Api/a\u2028b', 'no-control-chars'],
    [' callout:Api/a', 'no-control-chars'],
    ['callout:Api/../admin', 'no-dot-segments'],
    ['callout:Api/..', 'no-dot-segments'],
    ['callout:Api/./x', 'no-dot-segments'],
    ['callout:Api/a/../../b', 'no-dot-segments'],
    ['callout:Api/%2e%2e/admin', 'no-dot-segments'],
    ['callout:Api/%2E./admin', 'no-dot-segments'],
    ['callout:Api/.%2E', 'no-dot-segments'],
    ['callout:Api/%252e%252e/x', 'no-dot-segments'],
    ['callout:Api/..;/admin', 'no-dot-segment-params'],
    ['callout:Api/.;/x', 'no-dot-segment-params'],
    ['callout:Api/..;jsessionid=1/admin', 'no-dot-segment-params'],
    ['callout:Api/..,x/admin', 'no-dot-segment-params'],
    ['callout:Api/%2e%2e;/admin', 'no-dot-segment-params'],
    ['callout:Api/..%3b/admin', 'no-dot-segment-params'],
    ['callout:Api/..%3B', 'no-dot-segment-params'],
    ['callout:Api/..%20/admin', 'no-dot-segment-params'],
    ['callout:Api/%20../admin', 'no-dot-segment-params'],
    ['callout:Api/..%c2%a0/admin', 'no-dot-segment-params'],
    ['callout:Api/..%253b/admin', 'no-dot-segment-params'],
    ['callout:Api/%ef%bc%8e%ef%bc%8e/admin', 'no-dot-segments'],
    ['callout:Api/\uff0e\uff0e/admin', 'no-dot-segments'],
    ['callout:Api/%c0%ae%c0%ae/admin', 'bad-utf8-escape'],
    ['callout:Api/%e0%80%ae%e0%80%ae/admin', 'bad-utf8-escape'],
    ['callout:Api/..%c0%af/admin', 'bad-utf8-escape'],
    ['callout:Api/%25c0%25ae%25c0%25ae/admin', 'bad-utf8-escape'],
    ['callout:Api/caf%e9', 'bad-utf8-escape'],
    ['callout:Api/x#frag', 'no-fragment'],
    ['callout:Api#', 'no-fragment'],
    ['callout:Api/a%zz', 'bad-percent-encoding'],
    ['callout:Api/a%', 'bad-percent-encoding'],
    ['callout:Api/x?y=%', 'bad-percent-encoding'],
    ['callout:', 'bad-name'],
    ['callout:/x', 'bad-name'],
    ['callout:1Api/x', 'bad-name'],
    ['callout:Api-2/x', 'bad-name'],
    ['callout:Api.evil.com/x', 'bad-name'],
    ['callout:Api:443/x', 'bad-name'],
    ['callout:%41pi/x', 'bad-name'],
    ['callout:' + 'A'.repeat(200), 'bad-name'],
    ['https://api.example.com/x', 'plain-url-not-allowed'],
    ['ftp://x/y', 'bad-scheme'],
    ['javascript:alert(1)', 'bad-scheme'],
    ['Api/x', 'bad-scheme'],
    ['', 'bad-scheme'],
  ])('%j breaks %s', (input, rule) => {
    expect(ruleOf(() => parseCalloutUrl(input))).toBe(rule)
  })

  it('rejects a non-string', () => {
    expect(ruleOf(() => parseCalloutUrl(42 as unknown as string))).toBe('not-a-string')
  })

  it('names the rule in the message and never echoes a long hostile input', () => {
    const error = (() => {
      try {
        parseCalloutUrl('callout:' + 'x'.repeat(10_000))
      } catch (e) {
        return e as CalloutError
      }
    })()
    expect(error?.message).toContain('bad-name')
    expect((error?.message.length ?? 0) < 400).toBe(true)
  })
})

describe('plain URLs', () => {
  it('are accepted only with allowPlainUrl', () => {
    const parsed = parseCalloutUrl('https://api.example.com/x?y=1', { allowPlainUrl: true })
    expect(parsed).toEqual({ kind: 'plain', url: new URL('https://api.example.com/x?y=1') })
  })
  it.each([
    ['https://user:pw@api.example.com/', 'no-userinfo'],
    ['http://api.example.com/', 'plain-url-invalid'],
    ['http://api.localhost:8080/', 'plain-url-invalid'],
    ['http://127.0.0.1.nip.io/', 'plain-url-invalid'],
    ['https://', 'plain-url-invalid'],
  ])('%s breaks %s even when allowed', (input, rule) => {
    expect(ruleOf(() => parseCalloutUrl(input, { allowPlainUrl: true }))).toBe(rule)
  })
  it.each([
    'http://127.0.0.1:8080/x',
    'http://127.1.2.3/x',
    'http://[::1]:3000/x',
    'http://localhost/x',
  ])('allow http:// for the literal loopback host of %s', (url) => {
    expect(parseCalloutUrl(url, { allowPlainUrl: true }).kind).toBe('plain')
  })
})

describe('findNamedCredential', () => {
  it('says CREDENTIAL_NOT_FOUND for an unknown name', () => {
    expect(() => findNamedCredential(defs, 'Nope')).toThrow(
      expect.objectContaining({ code: 'CREDENTIAL_NOT_FOUND' }),
    )
    expect(() => resolveCalloutUrl(defs, 'callout:ns__Nope/x')).toThrow(
      expect.objectContaining({ code: 'CREDENTIAL_NOT_FOUND' }),
    )
  })
  it('says CREDENTIAL_DISABLED for a disabled credential', () => {
    expect(() => resolveCalloutUrl(defs, 'callout:Off/x')).toThrow(
      expect.objectContaining({ code: 'CREDENTIAL_DISABLED' }),
    )
  })
  it('prefers an exact name that contains a double underscore', () => {
    const d = definitions({
      namedCredentials: [
        namedCredential({ name: 'acme__Api', url: 'https://acme.example.com' }),
        namedCredential({ name: 'Api', url: 'https://api.example.com' }),
      ],
    })
    expect(findNamedCredential(d, 'acme__Api').url).toBe('https://acme.example.com')
  })
})

describe('joinCalloutUrl', () => {
  it('collapses the // at the join', () => {
    expect(
      joinCalloutUrl('https://h.example.com/base/', { kind: 'callout', name: 'X', path: '/p' })
        .href,
    ).toBe('https://h.example.com/base/p')
  })

  // The backstop behind the parser's rules: a parsed path that slipped past them (here built by
  // hand) still cannot leave the credential's origin or base path.
  it.each([
    ['https://h.example.com/base', '/../admin'],
    ['https://h.example.com/base', '/x/../../admin'],
    ['https://h.example.com/base', '/%2e%2e/admin'],
    ['https://h.example.com/base', 'x/admin'],
    ['https://h.example.com', '@evil.example/x'],
    ['https://h.example.com', '.evil.example/x'],
    ['https://h.example.com:8443', ':9/x'],
  ])('refuses %s + %j with escapes-base', (base, path) => {
    expect(ruleOf(() => joinCalloutUrl(base, { kind: 'callout', name: 'X', path }))).toBe(
      'escapes-base',
    )
  })
})

/**
 * What a lenient upstream (Tomcat, Spring, servers that decode twice or accept overlong UTF-8)
 * makes of a path: a model written here, apart from the code under test. Each segment is decoded
 * up to three times (overlong `%C0%AE` read as `.`), NFKC-normalised, cut at `;`/`,` and trimmed;
 * then `.` and `..` are resolved.
 */
function lenientServerPath(pathname: string): string {
  const decodeOnce = (s: string): string =>
    s
      .replace(/%c0%ae|%e0%80%ae/gi, '.')
      .replace(/%c0%af|%e0%80%af/gi, '/')
      .replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
        try {
          return decodeURIComponent(run)
        } catch {
          return Buffer.from(run.replace(/%/g, ''), 'hex').toString('latin1')
        }
      })
  const out: string[] = []
  for (const raw of pathname.split('/').slice(1)) {
    const decoded = decodeOnce(decodeOnce(decodeOnce(raw))).normalize('NFKC')
    const core = (decoded.split(/[;,]/)[0] ?? '').trim()
    if (core === '.') continue
    if (core === '..') out.pop()
    else out.push(raw)
  }
  return `/${out.join('/')}`
}

describe('property: the resolved URL stays on the credential origin, under its base path', () => {
  // The expected origin and base path are written out, not derived by the code under test.
  const expected: Record<string, { origin: string; basePath: string }> = {
    Api: { origin: 'https://api.example.com:8443', basePath: '/v1' },
    Root: { origin: 'https://root.example.com', basePath: '' },
    Slash: { origin: 'https://slash.example.com', basePath: '/base' },
  }
  const within = (path: string, basePath: string): boolean =>
    basePath === '' || path === basePath || path.startsWith(`${basePath}/`)

  // Path segments: ordinary ones and every dot-segment disguise, so that most generated paths
  // are accepted and the accepted ones are checked.
  const segment = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom('a', 'users', '42', 'x;y', '..foo', '.bar', '...', ''),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '..',
        '.',
        '%2e%2e',
        '%2E.',
        '.%2e',
        '%252e%252e',
        '..;',
        '.;',
        '..;x=1',
        '..,',
        '%2e%2e;',
        '..%3b',
        '..%20',
        '%20..',
        '..%c2%a0',
        '%c0%ae%c0%ae',
        '%e0%80%ae.',
        '%ef%bc%8e%ef%bc%8e',
        '\uff0e\uff0e',
      ),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z.;,%0-9]{0,5}$/) },
  )
  const structured = fc
    .tuple(fc.array(segment, { maxLength: 6 }), fc.constantFrom('', '?a=1', '?q=..%2f..'))
    .map(([segments, query]) => segments.map((x) => `/${x}`).join('') + query)
  const chars = fc.constantFrom(
    ..."abcXYZ019-._~!$&'()*+,;=:@/?#%\\ \t\r\n\u0000\u007f\u00e9\u2028\uff0f".split(''),
    '%2f',
    '%2e',
    '%00',
    '%0d',
    '%40',
    '%25',
    '..',
    '//',
    '@evil.com',
    'https://evil.com',
  )
  const raw = fc.array(chars, { maxLength: 12 }).map((parts) => parts.join(''))

  it.each(Object.keys(expected))('for %s', (name) => {
    const { origin, basePath } = expected[name]!
    let accepted = 0
    fc.assert(
      fc.property(fc.oneof(structured, raw), (suffix) => {
        let url: URL
        try {
          url = resolveCalloutUrl(defs, `callout:${name}${suffix}`).url
        } catch (e) {
          return (
            e instanceof CalloutError &&
            ['CALLOUT_URL_MALFORMED', 'CREDENTIAL_NOT_FOUND'].includes(e.code)
          )
        }
        accepted++
        expect(url.origin).toBe(origin)
        expect(url.username + url.password + url.hash).toBe('')
        expect(within(url.pathname, basePath)).toBe(true)
        expect(within(lenientServerPath(url.pathname), basePath)).toBe(true)
        return true
      }),
      { numRuns: 2_000 },
    )
    // the property must have looked at accepted URLs, not only at refusals
    expect(accepted).toBeGreaterThan(200)
  })
})
