/**
 * Credential ports and the Salesforce APIs that carry the session outside `Authorization`:
 * Bulk API 1.0 sends it in `X-SFDC-Session`, SOAP and the Metadata API in the `<sessionId>` of
 * the envelope's `SessionHeader`. SDKs put the port's placeholder token there; the client key is
 * read from it and the placeholder is replaced with the real access token by the pipeline
 * (`sessionId` option). SOAP bodies are read into memory up to a limit to do so.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { xmlEscape, type SessionIdPlacement } from '../callout/steps/session-id.ts'
import { CalloutError } from '../errors.ts'
import { keyFromBearer } from './client-key.ts'
import { PLACEHOLDER_ORG, PLACEHOLDER_USER } from './local-token.ts'

/** SOAP requests larger than this are refused with `REQUEST_TOO_LARGE` (413). */
export const MAX_SOAP_BODY_BYTES = 32 * 1024 * 1024

/** A request target on the SOAP API (partner, enterprise, metadata, tooling). */
export function isSoapTarget(url: string): boolean {
  return url.startsWith('/services/Soap/')
}

/** What a credential port found in a SOAP envelope. */
export interface SoapSession {
  /** The body to forward: the placeholder replaced by `placement.bodyMarker`. */
  readonly body: Buffer
  /** The client key the placeholder carried, if any. */
  readonly key?: string
  /** Where the pipeline puts the real token; absent when the envelope held no placeholder. */
  readonly placement?: SessionIdPlacement
  /** A SOAP `login` call: the client key its password carries (answered by the port itself). */
  readonly login?: { readonly key?: string }
}

const SESSION_ID = /<((?:[A-Za-z_][\w.-]*:)?sessionId)(\s[^>]*)?>([^<]*)<\/\1\s*>/

/** A SOAP `login` call: the first element of the Body is `login`. */
const LOGIN = /<(?:[A-Za-z_][\w.-]*:)?Body(?:\s[^>]*)?>\s*<(?:[A-Za-z_][\w.-]*:)?login[\s>]/

function xmlUnescape(text: string): string {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&')
}

function soapEnvelope(body: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
    'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`
  )
}

/**
 * The local answer to a SOAP `login` through a credential port (as `/services/oauth2/token` is
 * answered locally): the placeholder session and `serverUrl`/`metadataServerUrl` on the port, so
 * that SOAP login code keeps the SDK on the port and never receives a real session. A failed key
 * is the `INVALID_LOGIN` fault Salesforce answers (HTTP 500).
 *
 * @example
 * soapLoginAnswer('http://127.0.0.1:7071', '/services/Soap/u/61.0', { token: '00D000000000000!ck_…' })
 */
export function soapLoginAnswer(
  portOrigin: string,
  url: string,
  outcome: { readonly token: string } | { readonly error: CalloutError },
): { status: number; xml: string } {
  if ('error' in outcome) {
    return {
      status: 500,
      xml: soapEnvelope(
        `<soapenv:Fault><faultcode>INVALID_LOGIN</faultcode><faultstring>${xmlEscape(`INVALID_LOGIN: ${outcome.error.code}: ${outcome.error.message} Pass the client key as the password.`)}</faultstring></soapenv:Fault>`,
      ),
    }
  }
  const version = /^\/services\/Soap\/[A-Za-z]\/(\d+\.\d+)/.exec(url)?.[1] ?? '61.0'
  const org = `${PLACEHOLDER_ORG}AAA`
  const user = PLACEHOLDER_USER
  const token = xmlEscape(outcome.token)
  return {
    status: 200,
    xml: soapEnvelope(
      '<loginResponse><result>' +
        `<metadataServerUrl>${portOrigin}/services/Soap/m/${version}/${org}</metadataServerUrl>` +
        '<passwordExpired>false</passwordExpired><sandbox>false</sandbox>' +
        `<serverUrl>${portOrigin}/services/Soap/u/${version}/${org}</serverUrl>` +
        `<sessionId>${token}</sessionId><userId>${user}</userId>` +
        `<userInfo><organizationId>${org}</organizationId><userId>${user}</userId></userInfo>` +
        '</result></loginResponse>',
    ),
  }
}

function tooLarge(limit: number): CalloutError {
  return new CalloutError(
    'REQUEST_TOO_LARGE',
    `The SOAP request body is larger than ${limit} bytes: a credential port reads SOAP envelopes into memory to replace the session id, up to that size. Send a smaller request (a Metadata API deploy: a smaller zip, or deploy through the REST API).`,
    { details: { maxBodyBytes: limit } },
  )
}

/**
 * Reads a SOAP request (at most `limit` bytes) and finds the port's placeholder in its
 * `<sessionId>`: the client key it embeds, and a body whose placeholder is replaced by a random
 * marker that the pipeline replaces with the real access token.
 *
 * @example
 * const soap = await readSoapSession(request.raw, MAX_SOAP_BODY_BYTES)
 * const client = await server.authenticate(soap.key)
 */
export async function readSoapSession(raw: IncomingMessage, limit: number): Promise<SoapSession> {
  const declared = Number(raw.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) {
    raw.resume()
    throw tooLarge(limit)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of raw) {
    size += (chunk as Buffer).length
    if (size > limit) {
      raw.resume()
      throw tooLarge(limit)
    }
    chunks.push(chunk as Buffer)
  }
  const body = Buffer.concat(chunks)
  const text = body.toString('latin1')
  if (LOGIN.test(text)) {
    const password = /<(?:[A-Za-z_][\w.-]*:)?password(?:\s[^>]*)?>([^<]*)</.exec(text)?.[1]
    const key = keyFromBearer(password === undefined ? undefined : xmlUnescape(password))
    return { body, login: key === undefined ? {} : { key } }
  }
  const match = SESSION_ID.exec(text)
  const value = match?.[3]?.trim()
  if (match === null || value === undefined || !value.startsWith(`${PLACEHOLDER_ORG}!`)) {
    return { body }
  }
  const marker = `callout-session-${randomBytes(12).toString('hex')}`
  const start = match.index + match[0].indexOf('>') + 1
  const end = start + (match[3]?.length ?? 0)
  const key = keyFromBearer(value)
  return {
    body: Buffer.concat([body.subarray(0, start), Buffer.from(marker), body.subarray(end)]),
    ...(key === undefined ? {} : { key }),
    placement: { bodyMarker: marker },
  }
}

/** The placement for a Bulk API 1.0 request that carries `X-SFDC-Session`, else undefined. */
export function bulkSessionPlacement(
  headers: IncomingMessage['headers'],
): SessionIdPlacement | undefined {
  return headers['x-sfdc-session'] === undefined ? undefined : { header: 'x-sfdc-session' }
}
