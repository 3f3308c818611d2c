import { describe, expect, it } from 'vitest'
import { CsvError, parseCsv, toCsv, type CsvFormat } from './csv.ts'

const LF: CsvFormat = { columnDelimiter: 'COMMA', lineEnding: 'LF' }
const CRLF: CsvFormat = { columnDelimiter: 'COMMA', lineEnding: 'CRLF' }

describe('parseCsv', () => {
  it('reads quoted values with delimiters, quotes and line breaks inside', () => {
    const table = parseCsv('\uFEFFName,Note\n"A, Inc","say ""hi""\nthere"\nB,\n', LF)
    expect(table.header).toEqual(['Name', 'Note'])
    expect(table.rows).toEqual([
      ['A, Inc', 'say "hi"\nthere'],
      ['B', ''],
    ])
  })

  it('reads other delimiters and CRLF, with or without a final line ending', () => {
    const table = parseCsv('Name|Total\r\nA|1\r\n""|2', {
      columnDelimiter: 'PIPE',
      lineEnding: 'CRLF',
    })
    expect(table.rows).toEqual([
      ['A', '1'],
      ['', '2'],
    ])
  })

  it.each([
    ['Name\r\nA\r\n', LF, 'Current LineEnding setting is LF'],
    ['Name\nA\n', CRLF, 'Current LineEnding setting is CRLF'],
    ['Name\n"A\n', LF, 'Unterminated quoted value starting on line 2'],
    ['Name\n"A"B\n', LF, 'Unexpected character after a closing quote on line 2'],
    ['Name,Total\nA\n', LF, 'Row 1 has 1 values but the header has 2 columns'],
    ['', LF, 'no header row'],
  ])('refuses %j', (text, format, message) => {
    expect(() => parseCsv(text, format)).toThrow(CsvError)
    expect(() => parseCsv(text, format)).toThrow(message)
  })
})

describe('toCsv', () => {
  it('quotes every value and round-trips through parseCsv', () => {
    const text = toCsv(
      ['a', 'b'],
      [
        ['x "y"', null],
        ['1,2', 'line\nbreak'],
      ],
      LF,
    )
    expect(text).toBe('"a","b"\n"x ""y""",""\n"1,2","line\nbreak"\n')
    expect(parseCsv(text, LF).rows).toEqual([
      ['x "y"', ''],
      ['1,2', 'line\nbreak'],
    ])
  })
})
