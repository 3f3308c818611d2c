import { describe, expect, it } from 'vitest'
import { parseSosl } from './sosl.ts'

describe('parseSosl', () => {
  it('reads terms, the search group, RETURNING objects with their clauses, and LIMIT', () => {
    expect(
      parseSosl(
        "FIND {Acme \\} Corp} IN NAME FIELDS RETURNING Account(Id, Name WHERE Industry = 'A(b)' ORDER BY Name LIMIT 5 OFFSET 2), Contact LIMIT 20",
      ),
    ).toEqual({
      terms: 'Acme } Corp',
      group: 'NAME',
      returning: [
        {
          object: 'Account',
          fields: 'Id, Name',
          clauses: "WHERE Industry = 'A(b)' ORDER BY Name",
          limit: 5,
          offset: 2,
        },
        { object: 'Contact', fields: undefined, clauses: '', limit: undefined, offset: undefined },
      ],
      limit: 20,
    })
    expect(parseSosl('find {acme} in sidebar fields').group).toBe('ALL')
  })

  it.each([
    ['acme', 'No search term found. The search term must be enclosed in braces.'],
    ['FIND {acme', 'The closing brace is missing.'],
    ['FIND {  }', 'No search term found.'],
    ['FIND {a*}', 'search term must be longer than one character'],
    ['FIND {acme} IN BODY FIELDS', 'Unexpected search group: IN BODY FIELDS; use IN ALL FIELDS'],
    ['FIND {acme} RETURNING 1Account', 'Expected an object name after RETURNING'],
    ['FIND {acme} RETURNING Account(Name', "Missing ')' after RETURNING Account("],
    ['FIND {acme} WITH SNIPPET', 'Unexpected text in search: WITH SNIPPET'],
  ])('refuses %j with MALFORMED_SEARCH', (sosl, message) => {
    expect(() => parseSosl(sosl)).toThrow(message)
    expect(() => parseSosl(sosl)).toThrow(
      expect.objectContaining({ errorCode: 'MALFORMED_SEARCH' }),
    )
  })
})
