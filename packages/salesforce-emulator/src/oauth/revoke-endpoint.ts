/**
 * `POST /services/oauth2/revoke` (form `token=`; `GET ?token=` also works). Revoking a refresh
 * token revokes its family and every access token minted from it. 200 with an empty body on
 * success; errors are form-encoded, which jsforce parses.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_revoke_token.htm&type=5
 */
import { parseForm } from '../http/body.ts'
import type { Call } from '../http/call.ts'

/** Answers a revoke request. */
export async function handleRevoke(call: Call): Promise<void> {
  const form =
    call.method === 'POST'
      ? await parseForm(await call.body(), call.req.headers['content-type'])
      : call.query
  const token = form?.get('token') ?? ''
  const { tokens } = call.org
  const refresh = tokens.findRefreshToken(token)
  let ok = false
  if (refresh !== undefined && refresh.state !== 'revoked') {
    tokens.revokeFamily(refresh.familyId)
    ok = true
  } else if (tokens.validAccessToken(token) !== undefined) {
    ok = tokens.revokeAccessToken(token)
  }
  call.res.setHeader('cache-control', 'no-store')
  if (ok) {
    call.res.statusCode = 200
    call.res.setHeader('content-length', 0)
    call.res.end()
    return
  }
  const body = new URLSearchParams({
    error: 'invalid_token',
    error_description: 'invalid token',
  }).toString()
  call.res.statusCode = 400
  call.res.setHeader('content-type', 'application/x-www-form-urlencoded;charset=UTF-8')
  call.res.end(body)
}
