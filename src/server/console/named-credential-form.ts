/**
 * The Named Credential edit form: the form fields a stored entry shows and the entry a posted form
 * gives, for every field of the config file's `namedCredentials` entry (label, URL, External
 * Credential, the header and merge-field switches, formula headers, timeouts, redirects, allowed
 * hosts, enabled, plain http, check path, and the client certificate with its write-only key and
 * passphrase), and the form field a config issue belongs under. Pure functions; the config file's
 * validation stays the judge of every value. Text is stored as typed, never resolved as a
 * `${env:…}` or `${file:…}` reference ({@link literal}), as on the other definition forms.
 */
import { DEFAULTS } from '../../definitions/model.ts'
import { field, trimmedField } from './console-plugin.ts'
import { WRITE_ONLY } from './definitions-service.ts'
import {
  fieldOfIssue,
  headerRowsOf,
  lines,
  literal,
  multiline,
  pemField,
  readHeaders,
  typed,
  wholeNumber,
  type FormValues,
  type HeaderRow,
} from './external-credential-form.ts'

/** The text fields of the form, one per config field of the same name. */
export const NC_TEXT_FIELDS = Object.freeze([
  'label',
  'url',
  'externalCredential',
  'timeoutMs',
  'deadlineMs',
  'redirects',
  'checkPath',
] as const)

/** The checkboxes of the form, one per boolean config field of the same name. */
export const NC_FLAGS = Object.freeze([
  'generateAuthorizationHeader',
  'allowMergeFieldsInHeader',
  'allowMergeFieldsInBody',
  'allowRedirectsOutsideBasePath',
  'enabled',
  'allowInsecureHttp',
] as const)

/** The form field of each `clientCertificate` field. */
export const CERTIFICATE_FIELDS = Object.freeze({
  cert: 'certificate',
  key: 'certificateKey',
  passphrase: 'certificatePassphrase',
  ca: 'certificateCa',
} as const)

/** The write-only secrets of the client certificate, by form field. */
export type CertificateSecret = 'certificateKey' | 'certificatePassphrase'

/** What the form shows of a stored entry, and what a posted form gives. */
export interface NamedCredentialForm {
  values: FormValues
  headerRows: HeaderRow[]
}

/**
 * The form values of a stored entry (as the definitions service lists it: secrets as
 * {@link WRITE_ONLY}, a literal `${` as `$${`): text as typed, each switch as a checkbox (unset
 * ones at their defaults), allowed hosts one per line, formula headers as rows. Secrets are never
 * among the values; `stored` names those that are set.
 *
 * @example
 * namedCredentialValuesOf({ url: 'https://api.example.com', timeoutMs: 5000 })
 * // { values: { url: 'https://api.example.com', timeoutMs: '5000', enabled: true, … }, headerRows: [], stored: [] }
 */
export function namedCredentialValuesOf(
  entry: Record<string, unknown>,
): NamedCredentialForm & { stored: CertificateSecret[] } {
  const shown = typed(entry)
  const values: FormValues = {}
  for (const key of NC_TEXT_FIELDS) values[key] = shown[key] === undefined ? '' : String(shown[key])
  for (const key of NC_FLAGS) values[key] = (shown[key] ?? DEFAULTS[key]) === true
  values.allowedHosts = ((shown.allowedHosts ?? []) as string[]).join('\n')
  const certificate = (shown.clientCertificate ?? {}) as Record<string, unknown>
  values.certificate = String(certificate.cert ?? '')
  values.certificateCa = String(certificate.ca ?? '')
  const stored: CertificateSecret[] = []
  const raw = (entry.clientCertificate ?? {}) as Record<string, unknown>
  if (raw.key === WRITE_ONLY) stored.push('certificateKey')
  if (raw.passphrase === WRITE_ONLY) stored.push('certificatePassphrase')
  return { values, headerRows: headerRowsOf({ authHeaders: shown.headers }), stored }
}

/**
 * The entry a posted form describes, the values and header rows to show again if it is refused,
 * the form row of each posted header, and the problems found before validation (a number that is
 * not one). Empty text fields are left out (the config's default applies); switches are sent as
 * set. The client certificate is sent when any of its fields is typed or kept, and not when
 * "Remove the client certificate" is ticked; its key and passphrase left empty keep the stored
 * ones (write-only), and the passphrase's remove box removes it (`null`).
 *
 * @example
 * readNamedCredential({ url: 'https://api.example.com', timeoutMs: '5000', enabled: 'on' }).entry
 * // { url: 'https://api.example.com', timeoutMs: 5000, enabled: true, generateAuthorizationHeader: false, … }
 */
export function readNamedCredential(body: Record<string, unknown>): NamedCredentialForm & {
  rowOf: number[]
  entry: Record<string, unknown>
  problems: FormValues
} {
  const values: FormValues = {}
  const problems: FormValues = {}
  const entry: Record<string, unknown> = {}
  for (const key of NC_TEXT_FIELDS) values[key] = trimmedField(body, key)
  for (const key of ['label', 'url', 'externalCredential', 'redirects', 'checkPath'] as const) {
    if (values[key] !== '') entry[key] = values[key]
  }
  for (const [key, max] of [
    ['timeoutMs', DEFAULTS.maxTimeoutMs],
    ['deadlineMs', DEFAULTS.maxDeadlineMs],
  ] as const) {
    const ms = wholeNumber(
      String(values[key]),
      key,
      `A whole number of milliseconds (1–${max}).`,
      problems,
    )
    if (ms !== undefined) entry[key] = ms
  }
  for (const key of NC_FLAGS) {
    values[key] = field(body, key) === 'on'
    entry[key] = values[key]
  }
  values.allowedHosts = multiline(body, 'allowedHosts')
  const hosts = lines(values.allowedHosts)
  if (hosts.length > 0) entry.allowedHosts = hosts
  const headers = readHeaders(body, problems)
  if (headers.headers.length > 0) entry.headers = headers.headers
  const text = literal(entry)

  values.certificate = pemField(body, 'certificate')
  values.certificateCa = pemField(body, 'certificateCa')
  values.removeCertificate = field(body, 'removeCertificate') === 'on'
  values.removeCertificatePassphrase = field(body, 'removeCertificatePassphrase') === 'on'
  const key = pemField(body, 'certificateKey')
  const passphrase = field(body, 'certificatePassphrase')
  const typedAny = [values.certificate, values.certificateCa, key, passphrase].some((v) => v !== '')
  if (values.removeCertificate !== true && typedAny) {
    const certificate: Record<string, unknown> = {}
    if (values.certificate !== '') certificate.cert = literal(values.certificate)
    if (values.certificateCa !== '') certificate.ca = literal(values.certificateCa)
    if (key !== '') certificate.key = literal(key)
    if (passphrase !== '') certificate.passphrase = literal(passphrase)
    else if (values.removeCertificatePassphrase === true) certificate.passphrase = null
    text.clientCertificate = certificate
  }
  return { values, headerRows: headers.rows, rowOf: headers.rowOf, entry: text, problems }
}

/**
 * The form field a config issue under `namedCredentials.<name>` belongs to, and the message to
 * show there; `parts` is the issue's path after `namedCredentials.<name>` (none for the entry
 * itself, which has no field). `rowOf` maps each posted header to its form row.
 *
 * @example
 * namedCredentialField(['clientCertificate', 'cert'], 'is not PEM …', []) // { key: 'certificate', message: 'is not PEM …' }
 * namedCredentialField(['headers', '0', 'formula'], 'contains CR, LF or NUL …', [1]) // { key: 'h1.formula', … }
 */
export function namedCredentialField(
  parts: readonly string[],
  message: string,
  rowOf: readonly number[],
): { key: string; message: string } | undefined {
  const [section, child] = parts
  if (section === undefined) return undefined
  if (section === 'headers') return fieldOfIssue(['authHeaders', ...parts.slice(1)], message, rowOf)
  if (section === 'clientCertificate') {
    const key =
      child !== undefined && Object.hasOwn(CERTIFICATE_FIELDS, child)
        ? CERTIFICATE_FIELDS[child as keyof typeof CERTIFICATE_FIELDS]
        : 'certificate'
    return { key, message }
  }
  return { key: section, message }
}
