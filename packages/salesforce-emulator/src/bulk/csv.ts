/**
 * CSV as Bulk API 2.0 reads and writes it: RFC 4180 quoting (`"` around a value, `""` inside
 * one), the job's column delimiter and line ending. Uploaded data whose line endings do not match
 * the job's `lineEnding` is refused with Salesforce's message.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_prepare_csv.htm
 */

/** Column delimiters a job may name, and their characters. */
export const COLUMN_DELIMITERS = Object.freeze({
  BACKQUOTE: '`',
  CARET: '^',
  COMMA: ',',
  PIPE: '|',
  SEMICOLON: ';',
  TAB: '\t',
})

/** A job's `columnDelimiter`. */
export type ColumnDelimiter = keyof typeof COLUMN_DELIMITERS

/** A job's `lineEnding`. */
export type LineEnding = 'LF' | 'CRLF'

/** The format of a job's CSV. */
export interface CsvFormat {
  readonly columnDelimiter: ColumnDelimiter
  readonly lineEnding: LineEnding
}

/** A parsed upload: the header and the data rows (each as long as the header). */
export interface CsvTable {
  readonly header: readonly string[]
  readonly rows: readonly (readonly string[])[]
}

/** Why an upload could not be read; `message` is what the job's `errorMessage` shows. */
export class CsvError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CsvError'
  }
}

/**
 * Parses uploaded CSV in the job's format. A UTF-8 byte-order mark is skipped; a final line
 * ending is optional.
 *
 * @throws {CsvError} for line endings that do not match the job, an unterminated quoted value,
 *   a character after a closing quote, an empty header, or a row longer or shorter than the header.
 */
export function parseCsv(text: string, format: CsvFormat): CsvTable {
  const delimiter = COLUMN_DELIMITERS[format.columnDelimiter]
  const input = text.startsWith('\uFEFF') ? text.slice(1) : text
  const records: string[][] = []
  let record: string[] = []
  let value = ''
  let quoted = false
  let line = 1
  let i = 0
  const endValue = (): void => {
    record.push(value)
    value = ''
    quoted = false
  }
  const endRecord = (): void => {
    endValue()
    records.push(record)
    record = []
    line++
  }
  while (i < input.length) {
    const ch = input[i]
    if (ch === '"' && value === '' && !quoted) {
      const start = line
      i++
      for (;;) {
        if (i >= input.length) {
          throw new CsvError(
            `ClientInputError : Unterminated quoted value starting on line ${start}`,
          )
        }
        const q = input[i]
        if (q === '"') {
          if (input[i + 1] === '"') {
            value += '"'
            i += 2
            continue
          }
          i++
          break
        }
        if (q === '\n') line++
        value += q
        i++
      }
      const next = input[i]
      if (next !== undefined && next !== delimiter && next !== '\n' && next !== '\r') {
        throw new CsvError(
          `ClientInputError : Unexpected character after a closing quote on line ${line}`,
        )
      }
      quoted = true
      continue
    }
    if (ch === delimiter) {
      endValue()
      i++
      continue
    }
    if (ch === '\r' && input[i + 1] === '\n') {
      if (format.lineEnding === 'LF') throw lineEndingError(format.lineEnding)
      endRecord()
      i += 2
      continue
    }
    if (ch === '\n') {
      if (format.lineEnding === 'CRLF') throw lineEndingError(format.lineEnding)
      endRecord()
      i++
      continue
    }
    value += ch
    i++
  }
  if (value !== '' || quoted || record.length > 0) endRecord()
  const [header, ...rows] = records
  if (header === undefined || header.every((h) => h.trim() === '')) {
    throw new CsvError('ClientInputError : The uploaded data has no header row')
  }
  rows.forEach((row, index) => {
    if (row.length !== header.length) {
      throw new CsvError(
        `ClientInputError : Row ${index + 1} has ${row.length} values but the header has ${header.length} columns`,
      )
    }
  })
  return { header: header.map((h) => h.trim()), rows }
}

function lineEndingError(setting: LineEnding): CsvError {
  return new CsvError(
    `ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is ${setting}`,
  )
}

/** Writes CSV in a job's format with every value quoted, as Salesforce's result files are. */
export function toCsv(
  header: readonly string[],
  rows: readonly (readonly (string | null | undefined)[])[],
  format: CsvFormat,
): string {
  const delimiter = COLUMN_DELIMITERS[format.columnDelimiter]
  const eol = format.lineEnding === 'CRLF' ? '\r\n' : '\n'
  const quote = (v: string | null | undefined): string => `"${(v ?? '').replaceAll('"', '""')}"`
  return [header, ...rows].map((r) => r.map(quote).join(delimiter) + eol).join('')
}
