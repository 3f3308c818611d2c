/**
 * Mutual TLS: an undici dispatcher that presents a NamedCredential's client certificate.
 */
import { Agent } from 'undici'
import type { ClientCertificate } from '../definitions/model.ts'

/**
 * An undici `Agent` that presents `cert`'s certificate chain and key on every TLS connection
 * (and trusts its `ca` bundle when given, instead of only the system roots). Create one per
 * NamedCredential and reuse it — the caller caches it and closes it when the definition changes.
 *
 * @example
 * const dispatcher = clientCertificateDispatcher(namedCredential.clientCertificate)
 * await fetch(url, { dispatcher })
 * @see https://www.rfc-editor.org/rfc/rfc8446#section-4.4.2
 */
export function clientCertificateDispatcher(cert: ClientCertificate): Agent {
  return new Agent({
    connect: {
      cert: cert.cert,
      key: cert.key.reveal(),
      ...(cert.passphrase === undefined ? {} : { passphrase: cert.passphrase.reveal() }),
      ...(cert.ca === undefined ? {} : { ca: cert.ca }),
    },
  })
}
