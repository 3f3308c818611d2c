/**
 * The `jwt` protocol: a fresh self-signed JWT per call, sent as `Authorization: Bearer <jwt>`
 * (Salesforce's "JWT" Named Credential protocol).
 */
import { randomUUID } from 'node:crypto'
import { SignJWT, type CryptoKey } from 'jose'
import type { Clock } from '../clock.ts'
import { systemClock } from '../clock.ts'
import type { ExternalCredential, Principal } from '../definitions/model.ts'
import { DEFAULTS } from '../definitions/model.ts'
import { MIN_HS256_SHARED_SECRET_BYTES } from '../definitions/principal-requirements.ts'
import { CalloutError } from '../errors.ts'
import { jwtSubject } from './jwt-subject.ts'
import { importPrivateKeyPem } from './private-key.ts'

/**
 * Signs the per-call JWT of a `jwt` ExternalCredential with jose.
 *
 * Claims: `additionalClaims` first, then `iss` (`jwt.issuer`), `sub` (the principal's `subject`
 * or `username` parameter, else `jwt.subject` evaluated for `deps.user`, see {@link jwtSubject}), `aud` (`jwt.audience`), `iat`, `exp` = iat +
 * `validitySeconds` (seconds), `jti` (random UUID); registered claims win over additional ones.
 * Keys: RS256/ES256 from the principal's `privateKey` secret (PEM PKCS#8 or PKCS#1); HS256 from
 * its `sharedSecret` secret (≥ 32 bytes). Header: `alg`, `typ: JWT`, `kid` when configured.
 *
 * @throws CalloutError `CONFIG_INVALID` when the key is missing or unusable.
 * @example
 * const jwt = await signCallJwt(ec, principal)
 * headers.set('authorization', `Bearer ${jwt}`)
 * @see https://www.rfc-editor.org/rfc/rfc7519
 */
export async function signCallJwt(
  ec: ExternalCredential,
  principal: Principal,
  deps: { clock?: Clock; user?: string } = {},
): Promise<string> {
  const settings = ec.jwt
  const alg = settings?.algorithm ?? 'RS256'
  const where = `principal "${principal.name}" of ExternalCredential "${ec.name}"`
  let key: CryptoKey | Uint8Array
  if (alg === 'HS256') {
    const shared = principal.secrets.sharedSecret
    if (shared === undefined) {
      throw new CalloutError('CONFIG_INVALID', `HS256 needs a sharedSecret secret on ${where}.`, {
        details: { externalCredential: ec.name, principal: principal.name },
      })
    }
    key = Buffer.from(shared.reveal(), 'utf8')
    if (key.byteLength < MIN_HS256_SHARED_SECRET_BYTES) {
      throw new CalloutError(
        'CONFIG_INVALID',
        `The HS256 sharedSecret of ${where} is shorter than ${MIN_HS256_SHARED_SECRET_BYTES} bytes; use a longer random secret.`,
        { details: { externalCredential: ec.name, principal: principal.name } },
      )
    }
  } else {
    const pem = principal.secrets.privateKey
    if (pem === undefined) {
      throw new CalloutError(
        'CONFIG_INVALID',
        `${alg} needs a privateKey secret (PEM) on ${where}.`,
        {
          details: { externalCredential: ec.name, principal: principal.name },
        },
      )
    }
    key = await importPrivateKeyPem(pem, alg, `privateKey secret of ${where}`)
  }
  const now = Math.floor((deps.clock ?? systemClock).now() / 1000)
  const validity = settings?.validitySeconds ?? DEFAULTS.jwtValiditySeconds
  const header: { alg: string; typ: string; kid?: string } = { alg, typ: 'JWT' }
  if (settings?.keyId !== undefined) header.kid = settings.keyId
  const jwt = new SignJWT({ ...(settings?.additionalClaims ?? {}) })
    .setProtectedHeader(header)
    .setIssuedAt(now)
    .setExpirationTime(now + validity)
    .setJti(randomUUID())
  if (settings?.issuer !== undefined) jwt.setIssuer(settings.issuer)
  const subject = jwtSubject(ec, principal, deps.user ?? '')
  if (subject !== undefined) jwt.setSubject(subject)
  if (settings?.audience !== undefined) {
    jwt.setAudience(
      typeof settings.audience === 'string' ? settings.audience : [...settings.audience],
    )
  }
  return jwt.sign(key)
}
