/**
 * Response writers shared by every route: Salesforce JSON, REST error arrays, HTML pages and
 * redirects. Salesforce answers `application/json;charset=UTF-8`, so that is the JSON content type.
 */
import type { ServerResponse } from 'node:http'

/** The content type Salesforce uses for JSON bodies. */
export const JSON_CONTENT_TYPE = 'application/json;charset=UTF-8'

/** One element of a Salesforce REST error array. */
export interface SalesforceError {
  message: string
  errorCode: string
  fields?: string[]
}

/** Writes a JSON body (or no body when `body` is undefined) with extra headers. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
  if (body === undefined) {
    res.statusCode = status
    res.end()
    return
  }
  const text = JSON.stringify(body)
  res.statusCode = status
  res.setHeader('content-type', JSON_CONTENT_TYPE)
  res.setHeader('content-length', Buffer.byteLength(text))
  res.end(text)
}

/** Writes a Salesforce REST error array `[{ message, errorCode }]`. */
export function sendErrors(
  res: ServerResponse,
  status: number,
  errorCode: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, [{ message, errorCode }], headers)
}

/** Writes a plain-text body. */
export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  contentType = 'text/plain;charset=UTF-8',
): void {
  if (res.headersSent) return
  res.statusCode = status
  res.setHeader('content-type', contentType)
  res.setHeader('content-length', Buffer.byteLength(text))
  res.end(text)
}

/** Writes an HTML page. */
export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.setHeader('cache-control', 'no-store')
  sendText(res, status, html, 'text/html;charset=UTF-8')
}

/** Answers with a redirect to an absolute URL (Salesforce never sends relative `Location`s). */
export function redirect(res: ServerResponse, location: string, status = 302): void {
  if (res.headersSent) return
  res.statusCode = status
  res.setHeader('location', location)
  res.setHeader('content-length', 0)
  res.end()
}
