import type { Definitions, ExternalCredential, Principal } from '../../definitions/model.ts'
import { CalloutError } from '../../errors.ts'
import { findNamedCredential, joinCalloutUrl, parseCalloutUrl } from '../callout-url.ts'
import type { CalloutOptions, CalloutTarget } from '../types.ts'

/**
 * Pipeline step 1: resolves a callout URL against the definitions — the Named Credential, its
 * ExternalCredential, the principal (per-user when a user is named and one exists, else the
 * named principal with the lowest sequence) and the AuthProvider.
 *
 * @example
 * const target = resolveTarget(defs, 'callout:Api/users', { user: 'alice' })
 */
export function resolveTarget(
  defs: Definitions,
  input: string | URL,
  options: CalloutOptions = {},
): CalloutTarget {
  const parsed = parseCalloutUrl(
    input,
    options.allowPlainUrl === true ? { allowPlainUrl: true } : {},
  )
  if (parsed.kind === 'plain') return parsed
  const namedCredential = findNamedCredential(defs, parsed.name)
  const url = joinCalloutUrl(namedCredential.url, parsed)
  const externalCredential = defs.externalCredentials.get(namedCredential.externalCredential)
  if (externalCredential === undefined) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `Named Credential ${namedCredential.name} refers to ExternalCredential ${namedCredential.externalCredential}, which does not exist; define it and apply the configuration again.`,
      { details: { namedCredential: namedCredential.name } },
    )
  }
  const principal = choosePrincipal(externalCredential, options)
  const userId = principal.type === 'per-user' ? (options.user ?? '') : ''
  const providerName = externalCredential.authProvider
  const provider = providerName === undefined ? undefined : defs.authProviders.get(providerName)
  if (externalCredential.protocol === 'oauth2' && provider === undefined) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `ExternalCredential ${externalCredential.name} uses oauth2 but its AuthProvider "${providerName ?? ''}" does not exist.`,
      { details: { externalCredential: externalCredential.name } },
    )
  }
  return {
    kind: 'credential',
    namedCredential,
    externalCredential,
    principal,
    userId,
    url,
    ...(provider === undefined ? {} : { provider }),
  }
}

const sortedPrincipals = new WeakMap<ExternalCredential, readonly Principal[]>()

function principalsOf(ec: ExternalCredential): readonly Principal[] {
  let sorted = sortedPrincipals.get(ec)
  if (sorted === undefined) {
    sorted = [...ec.principals].sort((a, b) => a.sequence - b.sequence)
    sortedPrincipals.set(ec, sorted)
  }
  return sorted
}

function choosePrincipal(ec: ExternalCredential, options: CalloutOptions): Principal {
  const sorted = principalsOf(ec)
  if (options.principal !== undefined) {
    const named = sorted.find((p) => p.name === options.principal)
    if (named === undefined) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `ExternalCredential ${ec.name} has no principal "${options.principal}".`,
        { details: { externalCredential: ec.name } },
      )
    }
    if (named.type === 'per-user' && (options.user ?? '') === '') throw userRequired(ec, named)
    return named
  }
  const hasUser = options.user !== undefined && options.user !== ''
  const perUser = sorted.find((p) => p.type === 'per-user')
  if (hasUser && perUser !== undefined) return perUser
  const named = sorted.find((p) => p.type === 'named')
  if (named !== undefined) return named
  if (perUser !== undefined) throw userRequired(ec, perUser)
  if (ec.protocol === 'none')
    return { name: '', type: 'named', sequence: 0, parameters: {}, secrets: {} }
  throw new CalloutError(
    'CONFIG_INVALID',
    `ExternalCredential ${ec.name} has no principal; add one (named or per-user).`,
    { details: { externalCredential: ec.name } },
  )
}

function userRequired(ec: ExternalCredential, principal: Principal): CalloutError {
  return new CalloutError(
    'USER_REQUIRED',
    `Principal ${principal.name} of ExternalCredential ${ec.name} is per-user: name the end user, e.g. broker.fetch(url, { user: 'alice' }).`,
    { details: { externalCredential: ec.name, principal: principal.name } },
  )
}
