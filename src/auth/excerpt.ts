/**
 * Short, printable excerpts of text an authorization server chose (error codes, descriptions,
 * content types, page titles), safe to put in a message, a log line or error details.
 */

/**
 * Keeps printable characters only, collapses whitespace and truncates to `max` characters (plus
 * an ellipsis).
 *
 * @example
 * sanitizeExcerpt('x\r\ny', 100) // 'x y'
 */
export function sanitizeExcerpt(value: string, max: number): string {
  const clean = value
    .replace(/[^\x20-\x7e\u00a0-\uffff]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  return clean.length > max ? `${clean.slice(0, max)}…` : clean
}
