/**
 * Salesforce's deltas to an OAuth 2.0 token response (RFC 6749 §5.1), applied after the generic
 * parse: `issued_at` (epoch milliseconds, as a string), `instance_url` (the org's API origin),
 * the identity URL `id` (`https://login.salesforce.com/id/<org>/<user>`), which names who the
 * token belongs to, and the `signature` over it — base64(HMAC-SHA256(consumer secret,
 * id + issued_at)).
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

/** What {@link salesforceTokenDeltas} reads from a Salesforce token response. */
export interface SalesforceTokenDeltas {
  /** `issued_at` in epoch milliseconds, when the response gave it. */
  readonly issuedAt?: number
  /** `instance_url` without a trailing slash, when the response gave it. */
  readonly instanceUrl?: string
  /** Who the token belongs to, from `id`. */
  readonly identity?: SalesforceTokenIdentity
}

/** What {@link salesforceTokenDeltas} needs besides the parsed response. */
export interface SalesforceTokenOptions {
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
 * Reads Salesforce's fields of a parsed token response — `issued_at`, `instance_url`, `id` — and
 * verifies its `signature` when the consumer secret is known.
 *
 * @throws CalloutError from `options.invalid` for an `issued_at` that is not epoch milliseconds,
 *   an `instance_url` or `id` that is not an acceptable URL (an `instance_url` also without query
 *   or fragment), and for a `signature` that is malformed, lacks what it signs, or does not verify.
 * @example
 * salesforceTokenDeltas({ issued_at: '1278448101416', id: 'https://login.salesforce.com/id/00D…/005…' }, options)
 * // { issuedAt: 1278448101416, identity: { idUrl: '…', orgId: '00D…', userId: '005…' } }
 */
export function salesforceTokenDeltas(
  json: Readonly<Record<string, unknown>>,
  options: SalesforceTokenOptions,
): SalesforceTokenDeltas {
  let issuedAt: number | undefined
  let issuedAtRaw: string | undefined
  if (json.issued_at !== undefined) {
    const v = json.issued_at
    issuedAtRaw =
      typeof v === 'number' && Number.isSafeInteger(v)
        ? String(v)
        : typeof v === 'string'
          ? v
          : undefined
    if (issuedAtRaw === undefined || !/^\d{1,16}$/.test(issuedAtRaw)) {
      throw options.invalid('issued_at', 'with an issued_at that is not epoch milliseconds')
    }
    issuedAt = Number(issuedAtRaw)
  }

  let instanceUrl: string | undefined
  if (json.instance_url !== undefined && json.instance_url !== null) {
    const url =
      typeof json.instance_url === 'string' ? options.parseUrl(json.instance_url) : undefined
    if (url === undefined || !options.acceptsUrl(url) || url.search !== '' || url.hash !== '') {
      throw options.invalid(
        'instance_url',
        'with an instance_url that is not an absolute https URL without credentials or query',
      )
    }
    instanceUrl = `${url.origin}${url.pathname}`.replace(/\/+$/, '')
  }

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
      if (idRaw === undefined || issuedAtRaw === undefined) {
        throw options.invalid(
          'signature',
          'with a signature but without the id and issued_at it signs',
        )
      }
      const secret = options.consumerSecret
      if (!verifySalesforceSignature(json.signature, idRaw, issuedAtRaw, secret)) {
        throw options.invalid(
          'signature',
          'with a signature that does not match HMAC-SHA256(consumer secret, id + issued_at); the response may have been tampered with, or the consumer secret is wrong',
        )
      }
    }
  }
  return {
    ...(issuedAt === undefined ? {} : { issuedAt }),
    ...(instanceUrl === undefined ? {} : { instanceUrl }),
    ...(identity === undefined ? {} : { identity }),
  }
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
