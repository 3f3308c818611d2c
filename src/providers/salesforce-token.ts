/**
 * Salesforce's deltas to an OAuth 2.0 token response (RFC 6749 §5.1). The generic processing
 * (oauth4webapi, then `auth/token-response.ts`, which also reads `issued_at` in ms and
 * `instance_url` for every provider) is framed by two Salesforce steps:
 *
 * - before oauth4webapi validates the parsed body, {@link salesforceTokenPreStep}: a missing
 *   `token_type` means Bearer, and the `id_token` is set aside;
 * - after, {@link salesforceTokenIdentity}: the identity URL `id`
 *   (`https://login.salesforce.com/id/<org>/<user>`), which names who the token belongs to, and the
 *   `signature` over it — base64(HMAC-SHA256(consumer secret, id + issued_at)).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { CalloutError } from '../errors.ts'

const SALESFORCE_ID_PATH =
  /^\/id\/([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)\/([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)\/?$/

/** Who a Salesforce token belongs to, from its identity URL. */
export interface SalesforceTokenIdentity {
  /** The identity URL as given (`id`). */
  readonly idUrl: string
  readonly orgId?: string
  readonly userId?: string
}

/** What {@link salesforceTokenPreStep} took out of the parsed response. */
export interface SalesforceTokenPreStep {
  /** The `id_token` as sent (any JSON value), when there was one. */
  readonly idToken?: unknown
}

/**
 * Salesforce's pre-step on a parsed token response, in place, before oauth4webapi validates it:
 *
 * - a missing `token_type` becomes `Bearer`: every Salesforce access token is a Bearer token,
 *   and Callout has always accepted a Salesforce response without the field;
 * - the `id_token` (sent with the `openid` scope) is taken out and returned: its issuer is the
 *   login host, My Domain or Experience Cloud site (with its path) the user went through, which
 *   Callout cannot know in advance, so oauth4webapi would refuse a good one. Callout does not
 *   read its claims; the identity comes from `id`.
 *
 * @example
 * const body = { access_token: '00D…!AR…', id_token: 'eyJ…' }
 * salesforceTokenPreStep(body) // { idToken: 'eyJ…' }; body is { access_token: '00D…!AR…', token_type: 'Bearer' }
 */
export function salesforceTokenPreStep(json: Record<string, unknown>): SalesforceTokenPreStep {
  if (json.token_type === undefined) json.token_type = 'Bearer'
  if (json.id_token === undefined) return {}
  const idToken = json.id_token
  delete json.id_token
  return { idToken }
}

/** What {@link salesforceTokenIdentity} needs besides the parsed response. */
export interface SalesforceTokenOptions {
  /** `issued_at` exactly as the response gave it (the signature covers the text). */
  readonly issuedAtRaw: string | undefined
  /** The consumer secret, when known: then the `signature` is verified. */
  readonly consumerSecret?: { reveal(): string }
  /** Parses an absolute URL from the response, or undefined when it is not one. */
  readonly parseUrl: (value: string) => URL | undefined
  /** True when Callout may call the URL (https, or http where the provider allows it). */
  readonly acceptsUrl: (url: URL) => boolean
  /** The `TOKEN_RESPONSE_INVALID` error for a field. */
  readonly invalid: (field: string, what: string) => CalloutError
}

/**
 * Reads the `id` of a parsed Salesforce token response and verifies its `signature` when the
 * consumer secret is known.
 *
 * @throws CalloutError from `options.invalid` for an `id` that is not an acceptable URL, and for a
 *   `signature` that is malformed, lacks what it signs, or does not verify.
 * @example
 * salesforceTokenIdentity({ id: 'https://login.salesforce.com/id/00D…/005…' }, options)
 * // { idUrl: 'https://login.salesforce.com/id/00D…/005…', orgId: '00D…', userId: '005…' }
 */
export function salesforceTokenIdentity(
  json: Readonly<Record<string, unknown>>,
  options: SalesforceTokenOptions,
): SalesforceTokenIdentity | undefined {
  let identity: SalesforceTokenIdentity | undefined
  let idRaw: string | undefined
  if (json.id !== undefined && json.id !== null) {
    const url = typeof json.id === 'string' ? options.parseUrl(json.id) : undefined
    if (url === undefined || !options.acceptsUrl(url)) {
      throw options.invalid('id', 'with an identity URL (id) that is not an absolute https URL')
    }
    idRaw = json.id as string
    identity = salesforceIdentityFromIdUrl(url)
  }
  if (json.signature !== undefined && json.signature !== null) {
    if (typeof json.signature !== 'string') {
      throw options.invalid('signature', 'with a malformed signature')
    }
    if (options.consumerSecret !== undefined) {
      if (idRaw === undefined || options.issuedAtRaw === undefined) {
        throw options.invalid(
          'signature',
          'with a signature but without the id and issued_at it signs',
        )
      }
      const secret = options.consumerSecret
      if (!verifySalesforceSignature(json.signature, idRaw, options.issuedAtRaw, secret)) {
        throw options.invalid(
          'signature',
          'with a signature that does not match HMAC-SHA256(consumer secret, id + issued_at); the response may have been tampered with, or the consumer secret is wrong',
        )
      }
    }
  }
  return identity
}

/**
 * The identity a Salesforce identity URL (`https://login.salesforce.com/id/<org>/<user>`) names.
 * Org and user ids are taken only from a well-formed `/id/<15|18>/<15|18>` path.
 *
 * @example
 * salesforceIdentityFromIdUrl(new URL('https://login.salesforce.com/id/x')) // { idUrl: '…/id/x' }
 */
export function salesforceIdentityFromIdUrl(url: URL): SalesforceTokenIdentity {
  const match = SALESFORCE_ID_PATH.exec(url.pathname)
  const idUrl = url.href
  if (match === null) return { idUrl }
  return { idUrl, orgId: match[1] ?? '', userId: match[2] ?? '' }
}

/**
 * Verifies Salesforce's token response `signature`: base64(HMAC-SHA256(consumer secret,
 * id + issued_at)), compared in constant time.
 *
 * @example
 * verifySalesforceSignature(response.signature, response.id, response.issued_at, secret) // true
 */
export function verifySalesforceSignature(
  signature: string,
  id: string,
  issuedAt: string,
  consumerSecret: { reveal(): string },
): boolean {
  const expected = createHmac('sha256', consumerSecret.reveal())
    .update(id + issuedAt)
    .digest()
  let given: Buffer
  try {
    given = Buffer.from(signature, 'base64')
  } catch {
    return false
  }
  return given.length === expected.length && timingSafeEqual(given, expected)
}
