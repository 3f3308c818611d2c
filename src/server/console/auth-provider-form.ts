/**
 * The Auth Provider form: the form fields a stored entry shows and the entry a posted form gives,
 * for every field of the config file's `authProviders` entry (type, consumer key, the write-only
 * consumer secret and client private key, login URL, issuer, the five endpoints, default scopes,
 * PKCE, client authentication, plain http and trusted instance hosts). Pure functions; the config
 * file's validation stays the judge of every value. Text is stored as typed, never resolved as a
 * `${env:…}` or `${file:…}` reference ({@link literal}), as on the External Credential form.
 */
import { field, trimmedField } from './console-plugin.ts'
import { WRITE_ONLY } from './definitions-service.ts'
import {
  lines,
  literal,
  multiline,
  pemField,
  typed,
  type FormValues,
} from './external-credential-form.ts'

/** The text fields of the form, one per config field of the same name. */
export const PROVIDER_TEXT_FIELDS = Object.freeze([
  'type',
  'consumerKey',
  'loginUrl',
  'issuer',
  'authorizeUrl',
  'tokenUrl',
  'userInfoUrl',
  'revokeUrl',
  'introspectUrl',
  'defaultScopes',
  'clientAuth',
] as const)

/** The write-only secrets of an Auth Provider. */
export const PROVIDER_SECRETS = Object.freeze(['consumerSecret', 'clientPrivateKey'] as const)

type ProviderSecret = (typeof PROVIDER_SECRETS)[number]

/**
 * The form field of each secret's "remove the stored one" box.
 *
 * @example
 * REMOVE_FIELDS.consumerSecret // 'removeConsumerSecret'
 */
export const REMOVE_FIELDS: Readonly<Record<ProviderSecret, string>> = Object.freeze({
  consumerSecret: 'removeConsumerSecret',
  clientPrivateKey: 'removeClientPrivateKey',
})

/**
 * The form values of a stored entry (as the definitions service lists it: secrets as
 * {@link WRITE_ONLY}, a literal `${` as `$${`): text as typed, `usePkce` as `'true'`/`'false'`,
 * `allowInsecureHttp` as a checkbox, `trustedInstanceHosts` one per line. Secrets are never
 * among the values; `stored` names those that are set.
 *
 * @example
 * providerValuesOf({ type: 'oauth2', consumerKey: 'k$${x}', consumerSecret: '[write-only: set]' })
 * // { values: { type: 'oauth2', consumerKey: 'k${x}', usePkce: 'true', … }, stored: ['consumerSecret'] }
 */
export function providerValuesOf(entry: Record<string, unknown>): {
  values: FormValues
  stored: ProviderSecret[]
} {
  const shown = typed(entry)
  const values: FormValues = {}
  for (const key of PROVIDER_TEXT_FIELDS)
    values[key] = shown[key] === undefined ? '' : String(shown[key])
  values.usePkce = shown.usePkce === false ? 'false' : 'true'
  values.allowInsecureHttp = shown.allowInsecureHttp === true
  values.trustedInstanceHosts = ((shown.trustedInstanceHosts ?? []) as string[]).join('\n')
  return { values, stored: PROVIDER_SECRETS.filter((key) => entry[key] === WRITE_ONLY) }
}

/**
 * The entry a posted form describes, and the values to show again if it is refused. A secret
 * left empty is left out (the stored one stays); one whose remove box is ticked is `null`
 * (removed). Fields another type does not take are not sent: `loginUrl` is Salesforce's, `issuer`
 * OpenID Connect's. `usePkce` and `clientAuth` left at their defaults are left out, as the config
 * file leaves them.
 *
 * @example
 * readProvider({ type: 'oauth2', consumerKey: 'k', tokenUrl: 'https://idp/token', usePkce: 'false' })
 * // { entry: { type: 'oauth2', consumerKey: 'k', tokenUrl: 'https://idp/token', usePkce: false }, … }
 */
export function readProvider(body: Record<string, unknown>): {
  values: FormValues
  entry: Record<string, unknown>
} {
  const values: FormValues = {}
  const entry: Record<string, unknown> = {}
  for (const key of PROVIDER_TEXT_FIELDS) {
    const value = trimmedField(body, key)
    values[key] = value
    if (value !== '') entry[key] = value
  }
  if (entry.type !== 'salesforce') delete entry.loginUrl
  if (entry.type !== 'oidc') delete entry.issuer
  values.usePkce = trimmedField(body, 'usePkce') === 'false' ? 'false' : 'true'
  if (values.usePkce === 'false') entry.usePkce = false
  values.allowInsecureHttp = field(body, 'allowInsecureHttp') === 'on'
  if (values.allowInsecureHttp) entry.allowInsecureHttp = true
  values.trustedInstanceHosts = multiline(body, 'trustedInstanceHosts')
  const hosts = lines(values.trustedInstanceHosts)
  if (hosts.length > 0) entry.trustedInstanceHosts = hosts
  const text = literal(entry)
  for (const key of PROVIDER_SECRETS) {
    // A PEM is taken with its line ends as LF; a consumer secret exactly as typed.
    const secret = key === 'clientPrivateKey' ? pemField(body, key) : field(body, key)
    values[REMOVE_FIELDS[key]] = field(body, REMOVE_FIELDS[key]) === 'on'
    if (secret !== '') text[key] = literal(secret)
    else if (values[REMOVE_FIELDS[key]] === true) text[key] = null
  }
  return { values, entry: text }
}
