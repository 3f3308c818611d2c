import { describe, expect, it } from 'vitest'
import { isCalloutError } from '../errors.ts'
import { formatKeyRule, parseKeyRule, parseKeyRules, ruleAllows } from './key-rules.ts'

describe('key rules', () => {
  it.each([
    ['Target', 'GET', '/anything', true],
    ['Target', 'GET', '', true],
    ['Target:GET', 'GET', '/x', true],
    ['Target:GET', 'POST', '/x', false],
    ['Target:get|head', 'HEAD', '/x', true],
    ['Target:*:/services/data/*', 'DELETE', '/services/data/v61.0/sobjects', true],
    ['Target:GET:/services/data/*', 'GET', '/services/data/v61.0/query', true],
    ['Target:GET:/services/data/*', 'GET', '/services/apexrest/x', false],
    ['Target:GET:/services/data/*', 'GET', '/services/data', false],
    ['Target:GET:/services/data/*', 'GET', '/services/%64ata/v61.0', false],
    ['Target:GET:/limits', 'GET', '/limits', true],
    ['Target:GET:/limits', 'GET', '/limits/x', false],
    ['Other', 'GET', '/x', false],
  ])('%s allows %s %s: %s', (rule, method, path, allowed) => {
    expect(ruleAllows(parseKeyRule(rule), 'Target', method, path)).toBe(allowed)
  })

  it.each([
    ['', 'not a Named Credential name'],
    ['1abc', 'not a Named Credential name'],
    ['T:GET:x', 'must start with "/"'],
    ['T:GET:/a/../b', 'plain path'],
    ['T:GET:/a%2f', 'plain path'],
    ['T:GET:/a*/b', 'only at the end'],
    ['T:G E T', 'not a method'],
    ['T:GET:/a:b', 'at most three parts'],
  ])('refuses %j (%s)', (rule, why) => {
    try {
      parseKeyRule(rule)
      expect.unreachable()
    } catch (error) {
      expect(isCalloutError(error, 'INVALID_ARGUMENT')).toBe(true)
      expect((error as Error).message).toContain(why)
    }
  })

  it('round-trips through formatKeyRule', () => {
    const rules = parseKeyRules('A, B:get, C:GET|POST:/x/*, D:*:/y')
    expect(rules.map(formatKeyRule)).toEqual(['A', 'B:GET', 'C:GET|POST:/x/*', 'D:*:/y'])
  })
})
