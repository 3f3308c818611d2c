/**
 * The local OAuth token answer of credential ports and the jsforce proxy: SDK login code
 * (`POST /services/oauth2/token`, any grant) gets a placeholder access token and an
 * `instance_url` that points back at the proxy, never a real token. The placeholder is
 * Salesforce-shaped (`00D…!…`, not a JWT) and embeds the client key, so that the SDK sends the key
 * back on every request, where the proxy replaces it with the real credential.
 */
import type { IncomingMessage } from 'node:http'
import { CalloutError } from '../errors.ts'
import { keyFromBearer } from './client-key.ts'

/** The org id part of every placeholder token. */
export const PLACEHOLDER_ORG = '00D000000000000'
/** The user id of every placeholder identity. */
export const PLACEHOLDER_USER = '005000000000000AAA'
/** The path of the identity URL (`id`) in a local token answer: placeholder org and user ids. */
export const PLACEHOLDER_ID_PATH = `/id/${PLACEHOLDER_ORG}AAA/${PLACEHOLDER_USER}`
const MAX_FORM_BYTES = 64 * 1024

/**
 * The placeholder access token for a client key (or, without keys, for the credential name).
 *
 * @example
 * placeholderToken('ck_3f2a…') // '00D000000000000!ck_3f2a…'
 */
export function placeholderToken(key: string | undefined, credential: string): string {
  return `${PLACEHOLDER_ORG}!${key ?? `callout.${credential}`}`
}

/** Reads a small token request body (form or JSON) into its fields. */
export async function readTokenForm(raw: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of raw) {
    size += (chunk as Buffer).length
    if (size > MAX_FORM_BYTES) {
      throw new CalloutError('REQUEST_TOO_LARGE', 'The token request body is larger than 64 KiB.')
    }
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if ((raw.headers['content-type'] ?? '').includes('json')) {
    try {
      const json = JSON.parse(text) as Record<string, unknown>
      return new URLSearchParams(
        Object.entries(json).filter((e): e is [string, string] => typeof e[1] === 'string'),
      )
    } catch {
      return new URLSearchParams()
    }
  }
  return new URLSearchParams(text)
}

/**
 * The client key a token request carries: in the password, client secret, refresh token or
 * assertion field, or in an `Authorization` header (Bearer, or Basic with the key as password).
 *
 * @example
 * keyInTokenRequest(new URLSearchParams('grant_type=password&password=ck_…'), {}) // 'ck_…'
 */
export function keyInTokenRequest(
  form: URLSearchParams,
  headers: IncomingMessage['headers'],
): string | undefined {
  for (const field of ['client_secret', 'password', 'refresh_token', 'assertion', 'code']) {
    const key = keyFromBearer(form.get(field) ?? undefined)
    if (key !== undefined) return key
  }
  const authorization = headers.authorization ?? headers['proxy-authorization']
  if (authorization !== undefined) {
    const basic = /^Basic\s+(\S+)$/i.exec(authorization)
    if (basic !== null) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8')
      const key = keyFromBearer(decoded.slice(decoded.indexOf(':') + 1))
      if (key !== undefined) return key
    }
    return keyFromBearer(authorization)
  }
  return undefined
}

/**
 * The JSON a local token endpoint answers with (Salesforce's shape, without `expires_in`).
 *
 * @example
 * tokenAnswer('http://127.0.0.1:7071', '00D000000000000!ck_…')
 */
export function tokenAnswer(instanceUrl: string, accessToken: string): Record<string, string> {
  return {
    access_token: accessToken,
    refresh_token: accessToken,
    instance_url: instanceUrl,
    id: `${instanceUrl}${PLACEHOLDER_ID_PATH}`,
    token_type: 'Bearer',
    issued_at: String(Date.now()),
    signature: '',
    scope: 'api refresh_token',
  }
}
