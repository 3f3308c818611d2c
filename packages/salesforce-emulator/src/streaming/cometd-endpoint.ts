/**
 * The Streaming API endpoint (`/cometd/NN.0`, Bayeux/CometD) is not emulated. Every Bayeux message
 * is answered at once, HTTP 200, in the shape Salesforce uses to deny a handshake:
 * `successful: false`, `error: "403::Handshake denied"`, the reason in `ext.sfdc.failureReason`
 * (`401::Authentication invalid` for a bad session) and `advice.reconnect: "none"`, which stops a
 * CometD client (Faye, as jsforce's `streaming` uses) from retrying. jsforce reports it through
 * its `StreamingExtension.AuthFailure` extension.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_streaming.meta/api_streaming/streaming_error_codes.htm
 */
import { bearerToken } from '../http/bearer.ts'
import type { Call } from '../http/call.ts'
import { sendJson } from '../http/respond.ts'

/** The reason given to a client with a valid session. */
export const STREAMING_NOT_EMULATED =
  '403::Streaming API (/cometd) is not emulated; poll sobjects/<Type>/updated and sobjects/<Type>/deleted for changes'

/** True for a Streaming API path. */
export function isCometdPath(path: string): boolean {
  return path === '/cometd' || path.startsWith('/cometd/')
}

/** Answers a Bayeux request: each message is denied, with advice not to reconnect. */
export async function handleCometd(call: Call): Promise<void> {
  let messages: unknown
  try {
    const text = (await call.body()).toString('utf8')
    messages = text === '' ? [] : (JSON.parse(text) as unknown)
  } catch {
    messages = []
  }
  const list = (Array.isArray(messages) ? messages : [messages]).filter(
    (m): m is Record<string, unknown> => typeof m === 'object' && m !== null,
  )
  const token = bearerToken(call.req)
  const valid = token !== undefined && call.org.tokens.validAccessToken(token) !== undefined
  const reason = valid ? STREAMING_NOT_EMULATED : '401::Authentication invalid'
  const denied = (m: Record<string, unknown>): Record<string, unknown> => {
    const channel = typeof m['channel'] === 'string' ? m['channel'] : '/meta/handshake'
    const out: Record<string, unknown> = {
      channel,
      successful: false,
      error: channel === '/meta/handshake' ? '403::Handshake denied' : '403::Unknown client',
      ext: { sfdc: { failureReason: reason }, replay: true, 'payload.format': true },
      advice: { reconnect: 'none' },
    }
    if (m['id'] !== undefined) out['id'] = m['id']
    if (m['clientId'] !== undefined) out['clientId'] = m['clientId']
    return out
  }
  const answers = list.length > 0 ? list.map(denied) : [denied({})]
  sendJson(call.res, 200, answers)
}
