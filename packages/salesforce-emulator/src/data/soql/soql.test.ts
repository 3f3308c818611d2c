import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isDataApiError } from '../errors.ts'
import { ORG_ID, q, requester, testOrg, USER_ID } from '../test-org.test-helper.ts'
import { lex } from './lexer.ts'
import { parseSoql } from './parser.ts'
import { likeToRegExp } from './evaluate.ts'

function seeded() {
  const org = testOrg()
  const acme = org.insert('Account', { Name: 'Acme', Industry: 'Banking', AnnualRevenue: 100 })
  const globex = org.insert('Account', { Name: 'Globex', Industry: 'Energy', AnnualRevenue: 50 })
  const initech = org.insert('Account', { Name: 'Initech 100%', AnnualRevenue: null })
  org.insert('Contact', {
    LastName: 'Smith',
    FirstName: 'Ann',
    AccountId: acme,
    Email: 'ann@acme.test',
  })
  org.insert('Contact', { LastName: "O'Brien", AccountId: globex })
  org.insert('Contact', { LastName: 'Nobody' })
  org.insert('Opportunity', {
    Name: 'Big',
    StageName: 'Prospecting',
    CloseDate: '2026-11-29',
    Amount: 10,
    AccountId: acme,
  })
  org.insert('Opportunity', {
    Name: 'Old',
    StageName: 'Closed Won',
    CloseDate: '2026-01-15',
    Amount: 5,
  })
  return { org, req: requester(org), acme, globex, initech }
}

function rows(res: { body?: unknown }): Record<string, unknown>[] {
  return (res.body as { records: Record<string, unknown>[] }).records
}

describe('SOQL lexer and parser', () => {
  it('parses the supported grammar', () => {
    const parsed = parseSoql(
      "select Id, Account.Name from Contact where (LastName like 'S%' or Email != null) and not AccountId in ('001000000000001AAA') order by LastName desc nulls first, Id limit 5 offset 1",
    )
    expect(parsed.from.name).toBe('Contact')
    expect(parsed.select).toHaveLength(2)
    expect(parsed.orderBy[0]).toMatchObject({ descending: true, nullsLast: false })
    expect(parsed).toMatchObject({ limit: 5, offset: 1, where: { kind: 'and' } })
  })

  it('decodes string escapes and date literals', () => {
    const toks = lex("'it\\'s\\n' 2026-01-01 2026-01-01T10:00:00Z -1.5")
    expect(toks.map((t) => [t.kind, t.value])).toEqual([
      ['string', "it's\n"],
      ['date', '2026-01-01'],
      ['datetime', '2026-01-01T10:00:00Z'],
      ['number', '-1.5'],
      ['eof', '<EOF>'],
    ])
  })

  it.each([
    ['SELECT Id FORM Account', "unexpected token: 'FORM'"],
    ['SELECT FROM Account', "unexpected token: 'FROM'"],
    ['SELECT Id FROM Account WHERE', "unexpected token: '<EOF>'"],
    [
      "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'",
      "unexpected token: 'OR'",
    ],
    ["SELECT Id FROM Account WHERE Name = 'abc", "expecting '''"],
    ['SELECT Id FROM Account WHERE Name = :name', 'Bind variables only allowed in Apex code'],
    ['SELECT Id FROM Account WITH SECURITY_ENFORCED', 'not supported by the Salesforce emulator'],
    [
      'SELECT Id, (SELECT Id, (SELECT Id FROM Cases) FROM Contacts) FROM Account',
      "unexpected token: '('",
    ],
    ['SELECT Id, (SELECT Id FROM Contacts FROM Account', "unexpected token: 'FROM'"],
    ['SELECT SUM() FROM Account', "unexpected token: ')'"],
    ['SELECT Industry FROM Account GROUP BY', "unexpected token: '<EOF>'"],
    ['SELECT Industry FROM Account GROUP BY Industry HAVING', "unexpected token: '<EOF>'"],
    ['SELECT Id FROM Account LIMIT -1', "unexpected token: '-1'"],
  ])('rejects %s', (soql, message) => {
    try {
      parseSoql(soql)
      expect.unreachable()
    } catch (err) {
      expect(isDataApiError(err) && err.errorCode).toBe('MALFORMED_QUERY')
      expect((err as Error).message).toContain(message)
    }
  })

  it('shows Salesforce\u2019s caret preamble', () => {
    expect(() => parseSoql('SELECT Id FORM Account')).toThrow(
      "\nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FORM'",
    )
  })

  it('lexing any string throws nothing but MALFORMED_QUERY (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (text) => {
        try {
          lex(text)
        } catch (err) {
          return isDataApiError(err) && err.errorCode === 'MALFORMED_QUERY'
        }
        return true
      }),
      { numRuns: 2000 },
    )
  })

  it('parsing SOQL-ish token soup throws nothing but MALFORMED_QUERY (property)', () => {
    const word = fc.constantFrom(
      'SELECT',
      'Id',
      'Name',
      'FROM',
      'Account',
      'WHERE',
      '=',
      "'x'",
      '(',
      ')',
      ',',
      'AND',
      'OR',
      'NOT',
      'IN',
      'LIMIT',
      '5',
      'ORDER',
      'BY',
      '.',
      'COUNT',
      'SUM',
      'GROUP',
      'HAVING',
      'LIKE',
      'null',
      ':',
    )
    fc.assert(
      fc.property(fc.array(word, { maxLength: 14 }), (words) => {
        try {
          parseSoql(words.join(' '))
        } catch (err) {
          return isDataApiError(err) && err.errorCode === 'MALFORMED_QUERY'
        }
        return true
      }),
      { numRuns: 2000 },
    )
  })

  it('translates LIKE patterns', () => {
    expect(likeToRegExp("'a%b_'").test('AxxBy')).toBe(true)
    expect(likeToRegExp("'100\\%'").test('100%')).toBe(true)
    expect(likeToRegExp("'100\\%'").test('1000')).toBe(false)
    expect(likeToRegExp("'a.c'").test('abc')).toBe(false)
  })
})

describe('SOQL evaluation', () => {
  it('selects fields in canonical casing, with parents nested', () => {
    const { req, acme } = seeded()
    const res = req(
      'GET',
      q(
        'select lastname, account.name, ACCOUNT.industry from contact where accountid != null order by lastname',
      ),
    )
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ totalSize: 2, done: true })
    const [ob, smith] = rows(res)
    expect(Object.keys(smith ?? {})).toEqual(['attributes', 'LastName', 'Account'])
    expect(smith).toEqual({
      attributes: {
        type: 'Contact',
        url: expect.stringMatching(/^\/services\/data\/v61\.0\/sobjects\/Contact\/003/),
      },
      LastName: 'Smith',
      Account: {
        attributes: { type: 'Account', url: `/services/data/v61.0/sobjects/Account/${acme}` },
        Name: 'Acme',
        Industry: 'Banking',
      },
    })
    expect(ob?.['LastName']).toBe("O'Brien")
  })

  it('gives null for a missing parent', () => {
    const { req } = seeded()
    expect(
      rows(req('GET', q("SELECT Account.Name FROM Contact WHERE LastName = 'nobody'"))),
    ).toEqual([{ attributes: expect.any(Object), Account: null }])
  })

  it.each([
    ["SELECT Name FROM Account WHERE Name = 'ACME'", ['Acme']],
    ["SELECT Name FROM Account WHERE Name <> 'Acme' ORDER BY Name", ['Globex', 'Initech 100%']],
    ["SELECT Name FROM Account WHERE Name LIKE '%100\\%'", ['Initech 100%']],
    ["SELECT Name FROM Account WHERE Name LIKE 'g_obex'", ['Globex']],
    [
      "SELECT Name FROM Account WHERE Industry IN ('Banking', 'Energy') ORDER BY Name DESC",
      ['Globex', 'Acme'],
    ],
    ["SELECT Name FROM Account WHERE Industry NOT IN ('Banking')", ['Globex', 'Initech 100%']],
    ['SELECT Name FROM Account WHERE AnnualRevenue > 50', ['Acme']],
    [
      'SELECT Name FROM Account WHERE AnnualRevenue >= 50 ORDER BY AnnualRevenue',
      ['Globex', 'Acme'],
    ],
    ['SELECT Name FROM Account WHERE AnnualRevenue = null', ['Initech 100%']],
    [
      'SELECT Name FROM Account ORDER BY AnnualRevenue NULLS LAST',
      ['Globex', 'Acme', 'Initech 100%'],
    ],
    ['SELECT Name FROM Account ORDER BY AnnualRevenue', ['Initech 100%', 'Globex', 'Acme']],
    ['SELECT Name FROM Account ORDER BY Name LIMIT 1 OFFSET 1', ['Globex']],
    ["SELECT Name FROM Account WHERE NOT (Name = 'Acme' OR Name = 'Globex')", ['Initech 100%']],
    ['SELECT Name FROM Opportunity WHERE CloseDate = TODAY', ['Big']],
    ['SELECT Name FROM Opportunity WHERE CloseDate < 2026-02-01', ['Old']],
    ['SELECT Name FROM Opportunity WHERE CloseDate = LAST_N_DAYS:30', ['Big']],
    ['SELECT Name FROM Opportunity WHERE IsWon = true', ['Old']],
    [
      'SELECT Name FROM Account WHERE CreatedDate = TODAY AND CreatedDate > 2026-11-28T23:59:59Z LIMIT 1',
      ['Acme'],
    ],
    ["SELECT Name FROM Opportunity WHERE Account.Name = 'Acme'", ['Big']],
  ])('%s', (soql, names) => {
    const { req } = seeded()
    const res = req('GET', q(soql))
    expect(res.status).toBe(200)
    expect(rows(res).map((r) => r['Name'])).toEqual(names)
  })

  it('matches ids given in 15-character form', () => {
    const { req, acme } = seeded()
    expect(rows(req('GET', q(`SELECT Id FROM Account WHERE Id = '${acme.slice(0, 15)}'`)))).toEqual(
      [{ attributes: expect.any(Object), Id: acme }],
    )
  })

  it('counts', () => {
    const { req } = seeded()
    expect(req('GET', q('SELECT COUNT() FROM Account')).body).toEqual({
      totalSize: 3,
      done: true,
      records: [],
    })
    expect(req('GET', q('SELECT COUNT(Industry) n FROM Account')).body).toEqual({
      totalSize: 1,
      done: true,
      records: [{ attributes: { type: 'AggregateResult' }, n: 2 }],
    })
    expect(req('GET', q('SELECT COUNT(), Name FROM Account'))).toMatchObject({
      status: 400,
      errorCode: 'MALFORMED_QUERY',
    })
  })

  it('answers the sfdx-core Organization and ScratchOrgInfo queries', () => {
    const { req } = seeded()
    const org = req(
      'GET',
      q(
        'SELECT Name, InstanceName, IsSandbox, TrialExpirationDate, NamespacePrefix, OrganizationType FROM Organization',
      ),
    )
    expect(org.body).toEqual({
      totalSize: 1,
      done: true,
      records: [
        {
          attributes: {
            type: 'Organization',
            url: `/services/data/v61.0/sobjects/Organization/${ORG_ID}`,
          },
          Name: 'Acme Test',
          InstanceName: 'EMU1',
          IsSandbox: false,
          TrialExpirationDate: null,
          NamespacePrefix: null,
          OrganizationType: 'Developer Edition',
        },
      ],
    })
    const scratch = req('GET', q('SELECT Id FROM ScratchOrgInfo limit 1'))
    expect(scratch).toMatchObject({ status: 400, errorCode: 'INVALID_TYPE' })
    expect((scratch.body as { message: string }[])[0]?.message).toContain(
      "sObject type 'ScratchOrgInfo' is not supported.",
    )
    expect(
      rows(req('GET', q(`SELECT Username FROM User WHERE Id = '${USER_ID}'`)))[0]?.['Username'],
    ).toBe('ada@acme.test')
  })

  it('reports unknown fields, relationships and filter type errors', () => {
    const { req } = seeded()
    const foo = req('GET', q('SELECT Foo FROM Account'))
    expect(foo).toMatchObject({ status: 400, errorCode: 'INVALID_FIELD' })
    expect((foo.body as { message: string }[])[0]?.message).toBe(
      "\nSELECT Foo FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column 'Foo' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
    )
    expect(req('GET', q('SELECT Bogus.Name FROM Contact'))).toMatchObject({
      status: 400,
      errorCode: 'INVALID_FIELD',
    })
    expect(req('GET', q("SELECT Id FROM Account WHERE AnnualRevenue = '5'"))).toMatchObject({
      errorCode: 'INVALID_FIELD',
    })
    expect(req('GET', q('SELECT Id FROM Account WHERE Name = 5'))).toMatchObject({
      errorCode: 'INVALID_FIELD',
    })
    expect(req('GET', q('SELECT Id FROM Account WHERE CreatedDate > 2026-01-01'))).toMatchObject({
      errorCode: 'INVALID_FIELD',
    })
    expect(req('GET', q("SELECT Id FROM Account WHERE Id = 'abc'"))).toMatchObject({
      errorCode: 'INVALID_QUERY_FILTER_OPERATOR',
    })
    expect(req('GET', q('SELECT Name, name FROM Account'))).toMatchObject({
      errorCode: 'MALFORMED_QUERY',
    })
    expect(req('GET', '/query')).toMatchObject({ status: 400, errorCode: 'MALFORMED_QUERY' })
    expect(req('GET', q('SELECT Id FROM Widget'))).toMatchObject({
      status: 400,
      errorCode: 'INVALID_TYPE',
    })
  })

  it('hides deleted rows from query and shows them to queryAll', () => {
    const { req, globex } = seeded()
    expect(req('DELETE', `/sobjects/Account/${globex}`).status).toBe(204)
    expect(
      rows(req('GET', q('SELECT Name FROM Account ORDER BY Name'))).map((r) => r['Name']),
    ).toEqual(['Acme', 'Initech 100%'])
    const all = req(
      'GET',
      '/queryAll?' +
        new URLSearchParams({
          q: 'SELECT Name, IsDeleted FROM Account WHERE IsDeleted = true',
        }).toString(),
    )
    expect(rows(all)).toEqual([{ attributes: expect.any(Object), Name: 'Globex', IsDeleted: true }])
  })

  it('selects FIELDS(STANDARD) and custom fields', () => {
    const { org, req, acme } = seeded()
    org.insert('Invoice__c', { Number__c: 'A-1', Total__c: 9.5, Account__c: acme })
    const [inv] = rows(
      req('GET', q('SELECT Number__c, Account__r.Name, FIELDS(STANDARD) FROM Invoice__c')),
    )
    expect(inv).toMatchObject({
      Number__c: 'A-1',
      Account__r: { Name: 'Acme' },
      Name: expect.stringMatching(/^a00/),
    })
    expect(inv).not.toHaveProperty('Total__c')
  })
})

describe('parent-to-child subqueries', () => {
  it('nests { totalSize, done, records } per parent, or null without children', () => {
    const { req, acme, globex, initech } = seeded()
    const res = req(
      'GET',
      q(
        "SELECT Name, (SELECT LastName, Account.Name FROM Contacts WHERE LastName != 'x' ORDER BY LastName), Id FROM Account ORDER BY Name",
      ),
    )
    expect(res.status).toBe(200)
    const [a, g, i] = rows(res)
    expect(Object.keys(a ?? {})).toEqual(['attributes', 'Name', 'Contacts', 'Id'])
    expect(a?.['Contacts']).toEqual({
      totalSize: 1,
      done: true,
      records: [
        {
          attributes: {
            type: 'Contact',
            url: expect.stringMatching(/^\/services\/data\/v61.0\/sobjects\/Contact\/003/),
          },
          LastName: 'Smith',
          Account: {
            attributes: { type: 'Account', url: `/services/data/v61.0/sobjects/Account/${acme}` },
            Name: 'Acme',
          },
        },
      ],
    })
    expect(g?.['Id']).toBe(globex)
    expect((g?.['Contacts'] as { records: { LastName: string }[] }).records[0]?.LastName).toBe(
      "O'Brien",
    )
    expect(i?.['Id']).toBe(initech)
    expect(i?.['Contacts']).toBeNull()
  })

  it('filters, orders and limits children, and resolves relationship names in any case', () => {
    const { org, req, acme } = seeded()
    org.insert('Contact', { LastName: 'Adams', AccountId: acme })
    org.insert('Contact', { LastName: 'Young', AccountId: acme })
    const res = req(
      'GET',
      q(
        `SELECT (SELECT LastName FROM contacts ORDER BY LastName DESC LIMIT 2), (SELECT Name FROM Opportunities) FROM Account WHERE Id = '${acme}'`,
      ),
    )
    const [only] = rows(res)
    const contacts = only?.['Contacts'] as { totalSize: number; records: { LastName: string }[] }
    expect(contacts.totalSize).toBe(2)
    expect(contacts.records.map((r) => r.LastName)).toEqual(['Young', 'Smith'])
    expect((only?.['Opportunities'] as { records: { Name: string }[] }).records).toEqual([
      expect.objectContaining({ Name: 'Big' }),
    ])
  })

  it('answers an unknown relationship with INVALID_TYPE and a misplaced aggregate with MALFORMED_QUERY', () => {
    const { req } = seeded()
    const bad = req('GET', q('SELECT Id, (SELECT Id FROM Contact) FROM Account'))
    expect(bad.status).toBe(400)
    expect(bad.errorCode).toBe('INVALID_TYPE')
    expect((bad.body as { message: string }[])[0]?.message).toBe(
      "\nSELECT Id, (SELECT Id FROM Contact) FROM Account\n                           ^\nERROR at Row:1:Column:28\nDidn't understand relationship 'Contact' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.",
    )
    const field = req('GET', q('SELECT Id, (SELECT Nope FROM Contacts) FROM Account'))
    expect(field.errorCode).toBe('INVALID_FIELD')
    expect((field.body as { message: string }[])[0]?.message).toContain(
      "No such column 'Nope' on entity 'Contact'",
    )
    const agg = req('GET', q('SELECT Id, (SELECT COUNT(Id) FROM Contacts) FROM Account'))
    expect(agg.errorCode).toBe('MALFORMED_QUERY')
    expect((agg.body as { message: string }[])[0]?.message).toContain(
      'Only root queries support aggregate expressions',
    )
    const dup = req(
      'GET',
      q('SELECT (SELECT Id FROM Contacts), (SELECT Id FROM Contacts) FROM Account'),
    )
    expect(dup.errorCode).toBe('MALFORMED_QUERY')
  })

  it('names custom child relationships with __r and ParentId children ChildAccounts', () => {
    const { org, req, acme } = seeded()
    org.insert('Invoice__c', { Number__c: 'INV-1', Account__c: acme })
    org.insert('Account', { Name: 'Acme EU', ParentId: acme })
    const res = req(
      'GET',
      q(
        `SELECT (SELECT Number__c FROM Invoices__r), (SELECT Name FROM ChildAccounts) FROM Account WHERE Id = '${acme}'`,
      ),
    )
    const [only] = rows(res)
    expect((only?.['Invoices__r'] as { records: unknown[] }).records).toEqual([
      expect.objectContaining({ Number__c: 'INV-1' }),
    ])
    expect((only?.['ChildAccounts'] as { records: unknown[] }).records).toEqual([
      expect.objectContaining({ Name: 'Acme EU' }),
    ])
  })
})

describe('aggregate queries', () => {
  function sales() {
    const { org, req, acme, globex } = seeded()
    for (const [name, amount, account] of [
      ['A1', 30, acme],
      ['G1', 7, globex],
      ['G2', 3, globex],
      ['N1', null, null],
    ] as const) {
      org.insert('Opportunity', {
        Name: name,
        StageName: 'Prospecting',
        CloseDate: '2026-03-01',
        Amount: amount,
        AccountId: account,
      })
    }
    return { org, req, acme, globex }
  }

  it('groups with COUNT, SUM, MIN, MAX, AVG, aliases and expr0…', () => {
    const { req } = sales()
    const res = req(
      'GET',
      q(
        'SELECT Account.Name, COUNT(Id), SUM(Amount) total, MIN(Amount), MAX(CloseDate) latest, AVG(Amount) FROM Opportunity GROUP BY Account.Name ORDER BY Account.Name NULLS LAST',
      ),
    )
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      totalSize: 3,
      done: true,
      records: [
        {
          attributes: { type: 'AggregateResult' },
          Name: 'Acme',
          expr0: 2,
          total: 40,
          expr1: 10,
          latest: '2026-11-29',
          expr2: 20,
        },
        {
          attributes: { type: 'AggregateResult' },
          Name: 'Globex',
          expr0: 2,
          total: 10,
          expr1: 3,
          latest: '2026-03-01',
          expr2: 5,
        },
        {
          attributes: { type: 'AggregateResult' },
          Name: null,
          expr0: 2,
          total: 5,
          expr1: 5,
          latest: '2026-03-01',
          expr2: 5,
        },
      ],
    })
  })

  it('filters groups with HAVING and orders by an aggregate', () => {
    const { req } = sales()
    const res = req(
      'GET',
      q(
        'SELECT StageName, COUNT(Id) n FROM Opportunity GROUP BY StageName HAVING COUNT(Id) > 1 ORDER BY COUNT(Id) DESC',
      ),
    )
    expect(rows(res)).toEqual([
      { attributes: { type: 'AggregateResult' }, StageName: 'Prospecting', n: 5 },
    ])
    const byField = req(
      'GET',
      q("SELECT StageName s FROM Opportunity GROUP BY StageName HAVING StageName != 'Prospecting'"),
    )
    expect(rows(byField)).toEqual([{ attributes: { type: 'AggregateResult' }, s: 'Closed Won' }])
  })

  it('answers one row without GROUP BY, even over no records', () => {
    const { req } = sales()
    expect(
      rows(
        req(
          'GET',
          q(
            "SELECT COUNT(Id), SUM(Amount), COUNT_DISTINCT(AccountId) FROM Opportunity WHERE Name LIKE 'G%'",
          ),
        ),
      ),
    ).toEqual([{ attributes: { type: 'AggregateResult' }, expr0: 2, expr1: 10, expr2: 1 }])
    expect(
      rows(req('GET', q("SELECT COUNT(Id), MAX(Amount) FROM Opportunity WHERE Name = 'none'"))),
    ).toEqual([{ attributes: { type: 'AggregateResult' }, expr0: 0, expr1: null }])
    expect(req('GET', q('SELECT COUNT() FROM Opportunity LIMIT 3 OFFSET 4')).body).toEqual({
      totalSize: 2,
      done: true,
      records: [],
    })
  })

  it.each([
    ['SELECT Name, COUNT(Id) FROM Opportunity', 'Field must be grouped or aggregated: Name'],
    [
      'SELECT Name FROM Opportunity GROUP BY StageName',
      'Field must be grouped or aggregated: Name',
    ],
    [
      'SELECT StageName, COUNT(Id) FROM Opportunity GROUP BY StageName ORDER BY Name',
      'Field must be grouped or aggregated: Name',
    ],
    [
      "SELECT StageName FROM Opportunity GROUP BY StageName HAVING Name = 'x'",
      'Field must be grouped or aggregated: Name',
    ],
    [
      'SELECT FIELDS(STANDARD) FROM Opportunity GROUP BY Name',
      'Field must be grouped or aggregated: FIELDS(STANDARD)',
    ],
    ['SELECT SUM(Name) FROM Opportunity', 'field Name does not support aggregate operator SUM'],
    ['SELECT MAX(IsWon) FROM Opportunity', 'field IsWon does not support aggregate operator MAX'],
    [
      'SELECT COUNT(Description) FROM Opportunity',
      'field Description does not support aggregate operator COUNT',
    ],
    [
      'SELECT Amount FROM Opportunity GROUP BY Amount',
      "field 'Amount' can not be grouped in a query call",
    ],
    [
      'SELECT COUNT(), COUNT(Id) FROM Opportunity',
      'COUNT() cannot be combined with other aggregate functions',
    ],
    [
      'SELECT Id FROM Opportunity WHERE COUNT(Id) > 1',
      'Aggregate functions are only allowed in HAVING',
    ],
    ['SELECT Name n FROM Opportunity', 'Only aggregate expressions use field aliasing'],
    [
      "SELECT StageName FROM Opportunity GROUP BY StageName HAVING COUNT(Id) > 'x'",
      'must be of type double',
    ],
    ['SELECT StageName, (SELECT Id FROM Cases) FROM Account GROUP BY StageName', 'No such column'],
  ])('rejects %s', (soql, message) => {
    const { req } = sales()
    const res = req('GET', q(soql))
    expect(res.status).toBe(400)
    expect((res.body as { message: string }[])[0]?.message).toContain(message)
  })

  it('refuses a subquery in an aggregate query', () => {
    const { req } = sales()
    const res = req(
      'GET',
      q('SELECT Industry, (SELECT Id FROM Contacts) FROM Account GROUP BY Industry'),
    )
    expect(res.errorCode).toBe('MALFORMED_QUERY')
    expect((res.body as { message: string }[])[0]?.message).toContain(
      'Aggregate queries do not support subqueries',
    )
  })
})

describe('query paging', () => {
  it('pages with version-independent locators', () => {
    const org = testOrg({ defaultBatchSize: 3 })
    for (let i = 0; i < 7; i++) org.insert('Account', { Name: `A${i}` })
    const req = requester(org)
    const first = req('GET', q('SELECT Name FROM Account ORDER BY Name'))
    const body = first.body as {
      totalSize: number
      done: boolean
      nextRecordsUrl: string
      records: unknown[]
    }
    expect(body).toMatchObject({ totalSize: 7, done: false })
    expect(body.records).toHaveLength(3)
    expect(body.nextRecordsUrl).toMatch(/^\/services\/data\/v61\.0\/query\/01g[0-9A-Za-z]{15}-3$/)
    const locator = body.nextRecordsUrl.split('/').pop() ?? ''
    const second = requester(org, '50.0')('GET', `/query/${locator}`).body as typeof body
    expect(second.records).toHaveLength(3)
    expect(second.nextRecordsUrl).toBe(`/services/data/v50.0/query/${locator.replace(/-3$/, '-6')}`)
    const last = req('GET', `/query/${second.nextRecordsUrl.split('/').pop() ?? ''}`)
      .body as typeof body
    expect(last).toMatchObject({ totalSize: 7, done: true })
    expect(last).not.toHaveProperty('nextRecordsUrl')
    expect(rows({ body: last }).map((r) => r['Name'])).toEqual(['A6'])
    expect(req('GET', '/query/01gXXXXXXXXXXXXXXX-2000')).toMatchObject({
      status: 400,
      errorCode: 'INVALID_QUERY_LOCATOR',
    })
    expect(req('GET', '/query/garbage')).toMatchObject({
      status: 400,
      errorCode: 'INVALID_QUERY_LOCATOR',
    })
  })

  it('honours Sforce-Query-Options batchSize within 200..2000 and expires idle locators', () => {
    let now = Date.UTC(2026, 10, 29)
    const org = testOrg({ now: () => now })
    for (let i = 0; i < 450; i++) org.insert('Account', { Name: `A${i}` })
    const req = requester(org)
    const res = req('GET', q('SELECT Id FROM Account'), undefined, {
      'Sforce-Query-Options': 'batchSize=10',
    })
    const body = res.body as { records: unknown[]; nextRecordsUrl: string }
    expect(body.records).toHaveLength(200)
    now += 16 * 60 * 1000
    expect(req('GET', `/query/${body.nextRecordsUrl.split('/').pop() ?? ''}`)).toMatchObject({
      status: 400,
      errorCode: 'INVALID_QUERY_LOCATOR',
    })
    expect((req('GET', q('SELECT Id FROM Account')).body as { done: boolean }).done).toBe(true)
  })
})
