/**
 * The URL rules, applied again to every definition as it is loaded from the store: a row written
 * by an older Callout, or through `Store.put…` without the config pipeline, must not send a secret
 * somewhere `callout apply` would have refused.
 */
import { CalloutError } from '../errors.ts'
import type { AuthProvider, NamedCredential } from '../definitions/model.ts'
import { checkUrl, isHostAndPort } from '../definitions/url-rules.ts'
import type { UrlKind } from '../definitions/url-rules.ts'
import type { DefinitionKind } from './schema.ts'

const ENDPOINTS = ['authorizeUrl', 'tokenUrl', 'userInfoUrl', 'revokeUrl', 'introspectUrl'] as const

/**
 * Throws `CONFIG_INVALID` when a loaded definition breaks a URL rule (scheme, userinfo, query,
 * `allowedHosts` form), naming the field and the fix.
 */
export function checkStoredDefinition(kind: DefinitionKind, def: object): void {
  const problems: string[] = []
  const check = (field: string, value: unknown, urlKind: UrlKind, insecureOk: unknown): void => {
    if (value === undefined) return
    if (typeof value !== 'string') {
      problems.push(`${field} is not a string`)
      return
    }
    const result = checkUrl(value, urlKind, insecureOk === true)
    if (!result.ok) problems.push(...result.problems.map((problem) => `${field} ${problem}`))
  }
  if (kind === 'namedCredential') {
    const nc = def as Partial<NamedCredential>
    check('url', nc.url ?? '', 'named-credential', nc.allowInsecureHttp)
    const hosts: unknown = nc.allowedHosts ?? []
    if (!Array.isArray(hosts)) problems.push('allowedHosts is not a list')
    else
      hosts.forEach((host: unknown, index) => {
        if (typeof host !== 'string' || !isHostAndPort(host)) {
          problems.push(`allowedHosts.${index} is not a lower-case host or host:port`)
        }
      })
  } else if (kind === 'authProvider') {
    const provider = def as Partial<AuthProvider>
    for (const field of ENDPOINTS) {
      check(field, provider[field], 'endpoint', provider.allowInsecureHttp)
    }
    check('loginUrl', provider.loginUrl, 'base', provider.allowInsecureHttp)
    check('issuer', provider.issuer, 'base', provider.allowInsecureHttp)
  }
  if (problems.length === 0) return
  const name = (def as { name?: unknown }).name
  throw new CalloutError(
    'CONFIG_INVALID',
    `The stored ${kind} ${String(name)} breaks the URL rules: ${problems.join('; ')}. Nothing was ` +
      'sent. Fix it in the configuration and re-apply it with `callout apply -f <config file>`.',
    { details: { kind, name, problems } },
  )
}
