/**
 * HTTP Basic authentication (RFC 7617) for the `basic` protocol.
 */
import { CalloutError } from '../errors.ts'
import type { Secret } from '../secrets/secret.ts'

/**
 * The `Authorization` header value `Basic base64(username ":" password)`, UTF-8 encoded
 * (RFC 7617 §2.1, charset UTF-8).
 *
 * @throws CalloutError `CONFIG_INVALID` when the username contains `:` (it would shift into the
 *   password) or the username or password contains CR, LF or NUL.
 * @example
 * basicAuthorization('Aladdin', new Secret('open sesame')) // 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=='
 * @see https://www.rfc-editor.org/rfc/rfc7617#section-2
 */
export function basicAuthorization(username: string, password: Secret): string {
  if (username.includes(':')) {
    throw new CalloutError(
      'CONFIG_INVALID',
      'A Basic authentication username must not contain ":" (RFC 7617). Check the principal\'s username parameter.',
    )
  }
  if (/[\r\n\0]/.test(username) || /[\r\n\0]/.test(password.reveal())) {
    throw new CalloutError(
      'CONFIG_INVALID',
      "A Basic authentication username or password must not contain CR, LF or NUL. Check the principal's parameters.",
    )
  }
  return `Basic ${Buffer.from(`${username}:${password.reveal()}`, 'utf8').toString('base64')}`
}
