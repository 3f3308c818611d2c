import { describe, expect, it } from 'vitest'
import type { ConfigIssue } from './issues.ts'
import {
  checkPrincipal,
  PRINCIPAL_REQUIREMENTS,
  type RequirementKey,
} from './principal-requirements.ts'

function missing(key: RequirementKey, type: 'named' | 'per-user'): string[] {
  const issues: ConfigIssue[] = []
  checkPrincipal(
    PRINCIPAL_REQUIREMENTS[key],
    { type, parameters: {}, secrets: {} },
    undefined,
    (...rest) => ['P', ...rest],
    issues,
  )
  return issues.map((i) => i.path.replace(/^P\./, '')).sort()
}

describe('PRINCIPAL_REQUIREMENTS', () => {
  it.each<[RequirementKey, string[], string[]]>([
    ['none', [], []],
    ['custom', [], []],
    ['basic', ['parameters.username', 'secrets.password'], []],
    ['jwt', ['secrets.privateKey'], ['secrets.privateKey']],
    ['aws-sigv4', ['parameters.accessKeyId', 'secrets.secretAccessKey'], []],
    ['oauth2/browser', [], []],
    ['oauth2/client-credentials', [], ['type']],
    [
      'oauth2/jwt-bearer',
      ['parameters.username', 'secrets.privateKey'],
      ['secrets.privateKey', 'type'],
    ],
    ['oauth2/password', ['parameters.username', 'secrets.password'], []],
  ])('%s: an empty named principal misses %j, an empty per-user one %j', (key, named, perUser) => {
    expect(missing(key, 'named')).toEqual(named)
    expect(missing(key, 'per-user')).toEqual(perUser)
  })

  it('a jwt-bearer subject may come from parameters.subject or jwt.subject', () => {
    const check = (parameters: Record<string, string>, subject?: string) => {
      const issues: ConfigIssue[] = []
      checkPrincipal(
        PRINCIPAL_REQUIREMENTS['oauth2/jwt-bearer'],
        { type: 'named', parameters, secrets: {} },
        subject === undefined ? undefined : { subject },
        (...rest) => rest,
        issues,
      )
      return issues.map((i) => i.path)
    }
    expect(check({ subject: 's' })).toEqual(['secrets.privateKey'])
    expect(check({}, 'int@acme.test')).toEqual(['secrets.privateKey'])
  })
})
