/** The REST error answers the router sends itself (the data layer builds its own). */
import type { ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import { sendErrors } from '../http/respond.ts'

/** 401 for an unknown, expired or revoked token: the only reason the emulator ever sends 401. */
export function sendInvalidSession(
  res: ServerResponse,
  headers: Record<string, string> = {},
): void {
  sendErrors(res, 401, 'INVALID_SESSION_ID', 'Session expired or invalid', headers)
}

/** The message of a session that exists but may not use the REST API (jsforce does not refresh on it). */
export const BLOCKED_SESSION_MESSAGE = 'This session is not valid for use with the REST API'

/** The message of a token without the `api` or `full` scope. */
export const MISSING_API_SCOPE_MESSAGE =
  'This session is not valid for use with the specified REST API endpoint. One of the following scopes is required: Manage user data via APIs, Full access'

/** 500 `UNKNOWN_EXCEPTION` with an error id, never a stack trace. */
export function sendUnknownException(
  res: ServerResponse,
  headers: Record<string, string> = {},
): void {
  const errorId = `${randomBytes(4).readUInt32BE()}-${randomBytes(2).readUInt16BE()}`
  sendErrors(
    res,
    500,
    'UNKNOWN_EXCEPTION',
    `An unexpected error occurred. Please include this ErrorId if you contact support: ${errorId} (${Math.floor(Math.random() * 1e9)})`,
    headers,
  )
}
