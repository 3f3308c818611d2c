/**
 * `GET /id/keys`: the JSON Web Key Set that verifies the org's `id_token`s (no authentication).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
 */
import type { Call } from '../http/call.ts'
import { sendJson } from '../http/respond.ts'

/** Answers the org's JWKS. */
export function handleJwks(call: Call): void {
  sendJson(call.res, 200, { keys: [call.org.signingKey.publicJwk()] })
}
