import { describe, expect, it } from 'vitest'
import type { ExternalCredential, Principal } from '../definitions/model.ts'
import { Secret } from '../secrets/secret.ts'
import { checkJwtSubjects, jwtSubject } from './jwt-subject.ts'

function ec(subject: string | undefined, principals: Principal[] = []): ExternalCredential {
  return {
    name: 'Sf',
    protocol: 'oauth2',
    flow: 'jwt-bearer',
    authProvider: 'P',
    additionalRefreshStatusCodes: [],
    authHeaders: [],
    jwt: {
      validitySeconds: 300,
      algorithm: 'RS256',
      ...(subject === undefined ? {} : { subject }),
    },
    principals,
  }
}

function principal(
  type: Principal['type'],
  parameters: Record<string, string> = {},
  secrets: Record<string, Secret> = {},
): Principal {
  return { name: 'P1', type, sequence: 1, parameters, secrets }
}

describe('jwtSubject', () => {
  it('evaluates $User.Username for the end user of a per-user principal', () => {
    const each = principal('per-user', { domain: 'acme.test' })
    const cred = ec("{!$User.Username & '@' & $Credential.Sf.domain}")
    expect(jwtSubject(cred, each, 'alice')).toBe('alice@acme.test')
    expect(jwtSubject(cred, each, 'bob')).toBe('bob@acme.test')
    expect(jwtSubject(ec('{!$User.Username}'), each, 'carol@acme.test')).toBe('carol@acme.test')
  })

  it('prefers the principal’s subject, then username parameter; keeps a plain subject as written', () => {
    expect(jwtSubject(ec('x'), principal('named', { subject: 's', username: 'u' }), '')).toBe('s')
    expect(jwtSubject(ec('x'), principal('named', { username: 'u' }), '')).toBe('u')
    expect(jwtSubject(ec('int@acme.test'), principal('named'), '')).toBe('int@acme.test')
    expect(jwtSubject(ec(undefined), principal('named'), '')).toBeUndefined()
  })

  it('refuses a per-user principal without a user, $User on a named principal, and secrets', () => {
    expect(() => jwtSubject(ec('{!$User.Username}'), principal('per-user'), '')).toThrow(
      expect.objectContaining({ code: 'USER_REQUIRED' }),
    )
    expect(() => jwtSubject(ec('{!$User.Username}'), principal('named'), '')).toThrow(
      expect.objectContaining({ code: 'FORMULA_INVALID' }),
    )
    const withSecret = principal('per-user', {}, { privateKey: new Secret('pem') })
    expect(() => jwtSubject(ec('{!$Credential.Sf.privateKey}'), withSecret, 'alice')).toThrow(
      expect.objectContaining({ code: 'FORMULA_INVALID' }),
    )
  })
})

describe('checkJwtSubjects', () => {
  it('accepts per-user subjects that name the user and fixed subjects on named principals', () => {
    expect(checkJwtSubjects(ec('{!$User.Username}', [principal('per-user')]))).toEqual([])
    expect(checkJwtSubjects(ec('int@acme.test', [principal('named')]))).toEqual([])
    expect(checkJwtSubjects(ec(undefined, [principal('named', { username: 'u' })]))).toEqual([])
  })

  it('reports one subject shared by every user, fixed parameters, $User on named, unknown fields', () => {
    const paths = (cred: ExternalCredential) => checkJwtSubjects(cred).map((i) => i.path)
    expect(paths(ec('int@acme.test', [principal('per-user')]))).toEqual([
      'externalCredentials.Sf.jwt.subject',
    ])
    expect(paths(ec('{!$User.Username}', [principal('per-user', { username: 'u' })]))).toEqual([
      'externalCredentials.Sf.principals.P1.parameters.username',
    ])
    expect(checkJwtSubjects(ec('{!$User.Username}', [principal('named')]))[0]?.message).toMatch(
      /only in jwt\.subject of a per-user principal/,
    )
    expect(checkJwtSubjects(ec('{!$User.Email}', [principal('per-user')]))[0]?.message).toMatch(
      /Unknown merge field \$User\.Email/,
    )
  })

  it('ignores credentials that sign no JWT', () => {
    const basic: ExternalCredential = { ...ec('{!$User.Username}'), protocol: 'basic' }
    expect(checkJwtSubjects({ ...basic, principals: [principal('named')] })).toEqual([])
  })
})
