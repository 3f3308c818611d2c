import { inspect } from 'node:util'
import * as oauth from 'oauth4webapi'
import { describe, expect, it } from 'vitest'
import { safeCause } from './safe-cause.ts'

const as: oauth.AuthorizationServer = {
  issuer: 'https://as.example',
  token_endpoint: 'https://as.example/token',
}
const client: oauth.Client = { client_id: 'c' }

/** The error oauth4webapi throws for a token response it refuses: it keeps the whole body. */
async function oauth4webapiError(body: Record<string, unknown>): Promise<unknown> {
  const response = new Response(JSON.stringify(body), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  })
  return oauth.processGenericTokenEndpointResponse(as, client, response).then(
    () => undefined,
    (e: unknown) => e,
  )
}

describe('safeCause', () => {
  it('drops the token response body oauth4webapi keeps, and keeps name, message and code', async () => {
    for (const body of [
      { access_token: 'at-canary-1', refresh_token: 'rt-canary-2', token_type: 'mac' },
      { access_token: 'at-canary-1', refresh_token: 'rt-canary-2', token_type: 7 },
    ]) {
      const error = await oauth4webapiError(body)
      // The raw error does hold the tokens: this is what must never become a cause.
      expect(inspect(error, { depth: Infinity })).toMatch(/at-canary-1/)
      const safe = safeCause(error)
      expect(safe).toBeInstanceOf(Error)
      expect(safe?.name).toBe((error as Error).name)
      expect(safe?.message).toBe((error as Error).message)
      const printed = inspect(safe, { depth: Infinity, showHidden: true })
      expect(printed).not.toMatch(/canary/)
      expect(JSON.stringify(safe)).not.toMatch(/canary/)
    }
  })

  it('keeps a chain of Error causes and their codes, and nothing that is not an Error', () => {
    const inner = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
      response: { body: 'secret-body' },
    })
    const outer = new TypeError('fetch failed', { cause: inner })
    const safe = safeCause(outer)
    expect(safe?.name).toBe('TypeError')
    expect(safe?.cause).toMatchObject({ message: inner.message, code: 'ECONNREFUSED' })
    expect(inspect(safe, { depth: Infinity, showHidden: true })).not.toMatch(/secret-body/)
    expect(safeCause({ body: 'x' })).toBeUndefined()
  })
})
